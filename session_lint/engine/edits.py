"""The text edits of each fix (JSON/SARIF), at about the cost of the fix's own nodes.

`engine.apply_fixes` on one diagnostic re-visits the whole module, runs LibCST's import visitors
over it (RemoveImportsVisitor computes a ScopeProvider for the whole module: about 90% of the
cost on a 3k-line file) and regenerates all of its code, once per diagnostic. Here the module's
code is generated once per file with each node's span recorded (`_Spans`); then each fix is

1. its replacements, each rendered alone (`code_for_node` with the indentation in force at the
   original node) over the original node's span. A replacement that removes the node, turns it into
   several, or whose code depends on its parent (an argument's default comma, `elif`) is rendered
   as its parent instead, and so on upwards (`_units`);
2. its added/removed imports, by LibCST's own AddImportsVisitor/RemoveImportsVisitor run on a stub
   of the module: its import statements and its first statement, every other top-level statement
   stood in for by a `pass` line that carries its leading lines (`_import_stage`). Whether a removed
   import is still used is decided from the text (no other occurrence of the name: unused; a load of
   the name outside the rewritten nodes, when nothing else binds it: used); anything else asks for
   the whole-module path.

The result is the text `apply_fixes` would produce for that diagnostic alone (tests/test_fix_edits.py
checks every fixture and rule example); edits are the line diff of the text that changed. Whatever
this module cannot do exactly raises `Unsupported`, and the caller falls back to the whole-module path
for that diagnostic only.
"""

from __future__ import annotations

import ast
import difflib
import functools
import inspect
import re
from functools import lru_cache
from itertools import accumulate

import libcst as cst
from libcst._nodes.internal import CodegenState
from libcst.codemod import CodemodContext
from libcst.codemod.visitors import AddImportsVisitor, RemoveImportsVisitor

from ..diagnostics import Diagnostic


class Unsupported(Exception):
    """This fix's edits need the whole-module path."""


class _ReplaceNodes(cst.CSTTransformer):
    def __init__(self, replacements) -> None:
        super().__init__()
        self.replacements = replacements

        self.hits = 0

    def on_leave(self, original_node, updated_node):
        replacement = self.replacements.get(original_node)
        if replacement is None:
            return updated_node
        self.hits += 1
        return replacement


class _RemoveImportsOf(cst.CSTTransformer):
    """Run the decided RemoveImportsVisitor on each import of `name` (in a node the fix rebuilt)."""

    def __init__(self, name: str, remover) -> None:
        super().__init__()
        self.name, self.remover, self.hits = name, remover, 0

    def on_leave(self, original_node, updated_node):
        if isinstance(updated_node, (cst.Import, cst.ImportFrom)) and not isinstance(updated_node.names, cst.ImportStar):
            aliases = [a for a in updated_node.names if _bound(a) == self.name]
            if aliases:
                self.hits += 1
                return updated_node.visit(self.remover({a: updated_node for a in aliases}))
        return updated_node


def _bound(alias: cst.ImportAlias) -> str:
    return (alias.evaluated_alias or alias.evaluated_name).partition(".")[0]


@lru_cache(maxsize=None)
def _context_dependent(cls: type) -> bool:
    """Does this node's code depend on its parent (a default comma, semicolon, `elif`...)?"""
    try:
        return len(inspect.signature(cls._codegen_impl).parameters) > 2
    except (TypeError, ValueError):
        return True


class _Recorder(CodegenState):
    """Code generation that records, for every node, its token span, parent and indentation
    (`start[node]` is (first token, parent, indentation); `end[node]` the token after it)."""

    def __init__(self, module: cst.Module) -> None:
        super().__init__(default_indent=module.default_indent, default_newline=module.default_newline)
        self.start: dict = {}
        self.end: dict = {}
        self._stack: list = [None]
        self._indent: tuple = ()

    def increase_indent(self, value: str) -> None:
        super().increase_indent(value)
        self._indent = tuple(self.indent_tokens)

    def decrease_indent(self) -> None:
        super().decrease_indent()
        self._indent = tuple(self.indent_tokens)

    def before_codegen(self, node) -> None:
        self.start[node] = (len(self.tokens), self._stack[-1], self._indent)
        self._stack.append(node)

    def after_codegen(self, node) -> None:
        self.end[node] = len(self.tokens)
        self._stack.pop()

    def pop_trailing_newline(self) -> None:  # (a file without a final newline): kept, see _Spans
        self.popped = self.tokens[-1] if self.tokens else ""


class _Spans:
    """Character spans of every node of a module (its code generated once)."""

    def __init__(self, module: cst.Module, source: str) -> None:
        state = _Recorder(module)
        state.popped = ""
        module._codegen(state)
        # A module without a final newline is handled as the module with it (its code generation
        # drops the last token, the newline): `strip` chars come off the fixed text at the end.
        source += state.popped
        self.strip = len(state.popped)
        self.offsets = [0, *accumulate(len(t) for t in state.tokens)]
        if self.offsets[-1] != len(source):
            raise Unsupported("generated code differs from the source")
        self.module, self.source, self.state = module, source, state
        self.top_index = {stmt: i for i, stmt in enumerate(module.body)}
        self._tree: ast.Module | None = None
        self._words: dict[str, list[int]] = {}
        self._names: dict[str, tuple] = {}
        self._imports: list | None = None

    def imports(self) -> list:
        """Every Import/ImportFrom node of the module."""
        if self._imports is None:
            self._imports = [n for n in self.state.start if isinstance(n, (cst.Import, cst.ImportFrom))]
        return self._imports

    def imported_at_top(self, name: str) -> bool:
        self.name_uses(name)  # (parses)
        return any(isinstance(s, (ast.Import, ast.ImportFrom)) and
                   any((a.asname or a.name).partition(".")[0] == name for a in s.names) for s in self._tree.body)

    def span(self, node) -> tuple[int, int]:
        try:
            return self.offsets[self.state.start[node][0]], self.offsets[self.state.end[node]]
        except KeyError:
            raise Unsupported("a replaced node is not in the module") from None

    def parent(self, node):
        recorded = self.state.start.get(node)
        return recorded[1] if recorded else None

    def indent(self, node) -> tuple:
        return self.state.start[node][2]

    def render(self, node, indent: tuple) -> str:
        state = CodegenState(default_indent=self.module.default_indent,
                             default_newline=self.module.default_newline, indent_tokens=list(indent))
        node._codegen(state)
        return "".join(state.tokens)

    # -- what the text says about a name (for the imports a fix removes) --

    def word_positions(self, name: str) -> list[int]:
        if name not in self._words:
            self._words[name] = [m.start() for m in re.finditer(rf"(?<![\w.]){re.escape(name)}\b", self.source)]
        return self._words[name]

    def name_uses(self, name: str) -> tuple[list[int], int, list[tuple[int, int]]]:
        """Offsets of the loads of `name`, how many bindings of it there are besides imports, and
        the (start, end) offsets of the functions that import it themselves."""
        if name not in self._names:
            if self._tree is None:
                try:
                    self._tree = ast.parse(self.source)
                except (SyntaxError, ValueError, RecursionError, MemoryError):
                    raise Unsupported("the source does not parse with ast") from None
                self._line_starts = [0, *accumulate(len(line) for line in self.source.splitlines(keepends=True))]
            loads, bindings, nested = [], 0, []

            def offset(node, end=False):
                if end:
                    return _offset(self.source, self._line_starts, node.end_lineno, node.end_col_offset)
                return _offset(self.source, self._line_starts, node.lineno, node.col_offset)

            def visit(node, scope):
                nonlocal bindings
                for child in ast.iter_child_nodes(node):
                    if isinstance(child, ast.Name) and child.id == name:
                        if isinstance(child.ctx, ast.Load):
                            loads.append(offset(child))
                        else:
                            bindings += 1
                    elif isinstance(child, (ast.Import, ast.ImportFrom)):
                        if scope is not self._tree and any(
                                (a.asname or a.name).partition(".")[0] == name for a in child.names):
                            if not isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)):
                                raise Unsupported("an import of the name in a class body")
                            # (from its body: defaults and annotations are read outside it)
                            nested.append((offset(scope.body[0]), offset(scope, end=True)))
                    elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                        bindings += child.name == name
                    elif isinstance(child, ast.arg):
                        bindings += child.arg == name
                    elif isinstance(child, (ast.Global, ast.Nonlocal)):
                        bindings += name in child.names
                    elif isinstance(child, ast.ExceptHandler):
                        bindings += child.name == name
                    elif isinstance(child, (ast.MatchAs, ast.MatchStar)):
                        bindings += getattr(child, "name", None) == name
                    elif isinstance(child, ast.MatchMapping):
                        bindings += child.rest == name
                    inner = child if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
                                                        ast.Lambda)) else scope
                    visit(child, inner)

            try:
                visit(self._tree, self._tree)
            except RecursionError:
                raise Unsupported("too deep for the name check") from None
            self._names[name] = (loads, bindings, nested)
        return self._names[name]


def _offset(source: str, line_starts: list[int], lineno: int, col_offset: int) -> int:
    """ast's (line, UTF-8 byte column) as a character offset."""
    start = line_starts[lineno - 1]
    line = source[start:line_starts[lineno] if lineno < len(line_starts) else len(source)]
    return start + len(line.encode("utf-8")[:col_offset].decode("utf-8", "replace"))


# -- 1. the replacements ------------------------------------------------------------------------

def _units(spans: _Spans, replacements) -> list[tuple[int, int, str, object]]:
    """(start, end, new text, node) for each smallest span that can be re-rendered alone."""
    module = spans.module
    units = []
    for node, replacement in replacements.items():
        unit, result = node, replacement
        while True:
            parent = spans.parent(unit)
            if parent is None:
                raise Unsupported("the module itself is replaced")
            # as LibCST's body visit does, a statement line left empty goes (`visit_body_iterable`)
            if not unit._is_removable():
                if isinstance(result, cst.FlattenSentinel):
                    kept = [n for n in result.nodes if not n._is_removable()]
                    result = cst.FlattenSentinel(kept) if kept else cst.RemoveFromParent()
                elif isinstance(result, cst.CSTNode) and result._is_removable():
                    result = cst.RemoveFromParent()
            if isinstance(result, cst.CSTNode) and not _context_dependent(type(unit)) \
                    and not _context_dependent(type(result)):
                start, end = spans.span(unit)
                units.append((start, end, spans.render(result, spans.indent(unit)), unit, [result]))
                break
            if parent is module:  # a top-level statement removed or turned into several
                start, end = spans.span(unit)
                nodes = [] if isinstance(result, cst.RemovalSentinel) else \
                    list(result.nodes) if isinstance(result, cst.FlattenSentinel) else [result]
                units.append((start, end, "".join(spans.render(n, ()) for n in nodes), unit, nodes))
                break
            unit = parent
            result = unit.visit(_ReplaceNodes(replacements))
    units.sort(key=lambda u: (u[0], -u[1]))
    outermost: list = []
    for unit in units:  # a unit inside another was rendered as part of it
        if outermost and unit[1] <= outermost[-1][1] and unit[0] >= outermost[-1][0]:
            continue
        if outermost and unit[0] < outermost[-1][1]:
            raise Unsupported("overlapping rewrites")
        outermost.append(unit)
    return outermost


def _apply(text: str, start: int, end: int, units) -> str:
    """text[start:end] with the units inside it applied (units sorted, non-overlapping)."""
    out, at = [], start
    for u_start, u_end, content, _, _ in units:
        if u_start < start or u_end > end:
            continue
        out.append(text[at:u_start])
        out.append(content)
        at = u_end
    out.append(text[at:end])
    return "".join(out)


# -- 2. the imports -----------------------------------------------------------------------------

def _bound_name(spec) -> str:
    if spec.obj is not None:
        return spec.asname or spec.obj
    if spec.asname:
        return spec.asname
    if "." in spec.module:
        raise Unsupported("removing a dotted `import a.b`")
    return spec.module


def _removal_verdicts(spans: _Spans, fix, units, path: str) -> tuple[dict[str, bool], dict]:
    """For each removed import's bound name: is it unused once the replacements are applied? And
    the replacements that remove the functions' own imports of it the fix leaves unused."""
    verdicts, extra = {}, {}
    added = {_bound_name(spec) for spec in fix.add_imports}
    for spec in fix.remove_imports:
        name = _bound_name(spec)
        if name in added:
            raise Unsupported("a fix adds and removes the same name")
        loads, bindings, nested = spans.name_uses(name)
        word = re.compile(rf"(?<![\w.]){re.escape(name)}\b")
        mentioned = []  # rewritten spans whose new text still names it (a re-rendered parent)
        for start, end, content, node, _ in units:
            if _is_import(node) or not word.search(content):
                continue
            if len(word.findall(content)) > len(word.findall(spans.source, start, end)):
                raise Unsupported("a rewrite names the removed name more often")
            imports = {spans.source[s:e] for s, e in map(spans.span, spans.imports()) if start <= s < end}
            in_imports = sum(len(word.findall(text)) * content.count(text) for text in imports)
            if len(word.findall(content)) > in_imports:  # a load, not just the function's own import
                mentioned.append((start, end))

        def outside(offset: int) -> bool:
            return not any(s <= offset < e for s, e, _, _, _ in units)

        kept = [o for o in loads if outside(o)]
        if bindings:
            raise Unsupported("the removed name is bound elsewhere too")
        for start, end in nested:  # a function's own import stays while the function reads it
            if not any(start <= o < end for o in kept):
                if any(s < end and start < e for s, e in mentioned):
                    raise Unsupported("a function's own import may stay in use")
                extra.update(_unused_function_imports(spans, fix, name, start, end, units, path))
        if not spans.imported_at_top(name) or any(not any(s <= o < e for s, e in nested) for o in kept):
            verdicts[name] = False  # (no module-level import) a load left untouched still resolves to it
            continue
        def in_function_importing_it(offset: int) -> bool:  # (there the name is that function's own)
            return any(s <= offset < e for s, e in nested)

        if any(not (in_function_importing_it(s) and in_function_importing_it(e - 1)) for s, e in mentioned):
            raise Unsupported("the removed name may stay in use")
        remaining = [o for o in spans.word_positions(name)
                     if outside(o) and not in_function_importing_it(o) and not _in_top_import(spans, o)]
        if remaining:
            raise Unsupported("the removed name is still mentioned")
        verdicts[name] = True
    return verdicts, extra


def _unused_function_imports(spans: _Spans, fix, name: str, start: int, end: int, units, path: str) -> dict:
    """{import: what RemoveImportsVisitor makes of it} for the imports of `name` in the function
    spanning [start, end) (which no longer reads it)."""
    found = {}
    for node in spans.imports():
        original = node
        node_start, node_end = spans.span(node)
        if not (start <= node_start < end) or isinstance(node.names, cst.ImportStar):
            continue
        aliases = [a for a in node.names if (a.evaluated_alias or a.evaluated_name).partition(".")[0] == name]
        if not aliases:
            continue
        replaced = fix.replacements.get(node)
        if replaced is not None:  # the fix rewrote this import itself (a name merged in): remove from that
            if not isinstance(replaced, (cst.Import, cst.ImportFrom)) or isinstance(replaced.names, cst.ImportStar):
                raise Unsupported("a function's own import rewritten into something else")
            node, aliases = replaced, [a for a in replaced.names
                                       if (a.evaluated_alias or a.evaluated_name).partition(".")[0] == name]
        remover = functools.partial(_remover, spans, fix.remove_imports, path)
        removed = node.visit(remover({a: node for a in aliases}))
        holders = [k for k in fix.replacements if k is not original
                   and spans.span(k)[0] <= node_start and node_end <= spans.span(k)[1]]
        if not holders:
            found[original] = removed
            continue
        # inside a node the fix rebuilt (a function body): remove it from the rebuilt node
        holder = min(holders, key=lambda k: spans.span(k)[1] - spans.span(k)[0])
        rebuilt = found.get(holder, fix.replacements[holder])
        if not isinstance(rebuilt, cst.CSTNode):
            raise Unsupported("a function's own import inside a removed node")
        transformer = _RemoveImportsOf(name, remover)
        rebuilt = rebuilt.visit(transformer)
        if transformer.hits != 1 or not isinstance(rebuilt, cst.CSTNode):
            raise Unsupported("a function's own import the rewrite did not keep")
        found[holder] = rebuilt
    return found


def _is_import(node) -> bool:
    if isinstance(node, (cst.Import, cst.ImportFrom)):
        return True
    return isinstance(node, cst.SimpleStatementLine) and all(
        isinstance(s, (cst.Import, cst.ImportFrom)) for s in node.body)


def _in_top_import(spans: _Spans, offset: int) -> bool:
    for stmt in spans.module.body:
        start, end = spans.span(stmt)
        if start <= offset < end:
            return _is_import(stmt)
    return False


_REMOVERS: dict = {}


def _remover(spans: _Spans, specs: tuple, path: str, unused: dict) -> RemoveImportsVisitor:
    """A RemoveImportsVisitor for `specs` with these aliases unused (built once per process and
    specs: building a LibCST matcher transformer costs 10-40 ms)."""
    key = tuple(specs)  # (the path plays no part: LibCST resolves no relative import without a package)
    remover = _REMOVERS.get(key)
    if remover is None:
        context = CodemodContext(filename=path)
        for spec in specs:
            RemoveImportsVisitor.remove_unused_import(context, spec.module, spec.obj, spec.asname)
        if len(_REMOVERS) > 64:
            _REMOVERS.clear()
        remover = _REMOVERS[key] = _DecidedRemoveImports(context, {})
    remover._unused_imports = unused
    return remover


class _DecidedRemoveImports(RemoveImportsVisitor):
    """RemoveImportsVisitor with the unused aliases decided by the caller (no scope analysis)."""

    def __init__(self, context: CodemodContext, unused: dict) -> None:
        super().__init__(context)
        self._unused_imports = unused

    def visit_Module(self, node: cst.Module) -> None:
        pass  # (RemoveImportsVisitor gathers the unused imports here, with a scope analysis)


def _import_stage(spans: _Spans, fix, replacements, units, verdicts, path: str) -> str:
    """The whole fixed text, imports included (see the module docstring)."""
    module, source = spans.module, spans.source
    marker = "session_lint_stub"
    while marker in source:
        marker += "_"
    stub_body: list = []
    texts: dict[str, str] = {}
    by_top: dict[int, list] = {}
    for unit in units:
        top = unit[3]
        while spans.parent(top) is not module:
            top = spans.parent(top)
        by_top.setdefault(spans.top_index[top], []).append(unit)
    for i, stmt in enumerate(module.body):
        inner = by_top.get(i, [])
        whole = [u for u in inner if u[3] is stmt]
        if whole:  # the statement itself was replaced
            stub_body.extend(whole[0][4])
            continue
        if isinstance(stmt, cst.SimpleStatementLine) and (i == 0 or any(
                isinstance(small, (cst.Import, cst.ImportFrom)) for small in stmt.body)):
            stub_body.append(stmt.visit(_ReplaceNodes(replacements)) if inner else stmt)
            continue
        start, end = spans.span(stmt)
        rest = spans.offsets[spans.state.end[stmt.leading_lines[-1]]] if stmt.leading_lines else start
        key = f"{marker}{i}"
        texts[f"pass  #{key}{module.default_newline}"] = _apply(source, rest, end, inner)
        stub_body.append(cst.SimpleStatementLine(
            body=[cst.Pass()], leading_lines=stmt.leading_lines,
            trailing_whitespace=cst.TrailingWhitespace(whitespace=cst.SimpleWhitespace("  "),
                                                       comment=cst.Comment(f"#{key}"))))
    tree = module.with_changes(body=stub_body, has_trailing_newline=True)
    context = CodemodContext(filename=path)
    for spec in fix.add_imports:
        AddImportsVisitor.add_needed_import(context, spec.module, spec.obj, spec.asname)
    for spec in fix.remove_imports:
        RemoveImportsVisitor.remove_unused_import(context, spec.module, spec.obj, spec.asname)
    if fix.add_imports:
        tree = tree.visit(AddImportsVisitor(context))
    if any(verdicts.values()):
        body = []  # only the lines holding an unused import change: visit those alone
        for stmt in tree.body:
            unused = {}
            if isinstance(stmt, cst.SimpleStatementLine):
                for small in stmt.body:
                    if isinstance(small, (cst.Import, cst.ImportFrom)) and not isinstance(small.names, cst.ImportStar):
                        unused.update((alias, small) for alias in small.names if verdicts.get(_bound(alias)))
            if not unused:
                body.append(stmt)
                continue
            new = stmt.visit(_remover(spans, fix.remove_imports, path, unused))
            if not isinstance(new, cst.RemovalSentinel) and not new._is_removable():
                body.append(new)  # (an emptied line goes, as in LibCST's body visit)
        tree = tree.with_changes(body=body)
    code = tree.code
    if texts:
        pattern = re.compile("|".join(re.escape(k) for k in texts))
        code, count = pattern.subn(lambda m: texts[m.group(0)], code)
        if count != len(texts):
            raise Unsupported("a stand-in statement was lost")
    return code


# -- the edits ----------------------------------------------------------------------------------

def fixed_text(spans: _Spans, diagnostic: Diagnostic) -> str:
    """The source with this one diagnostic's fix applied, as `engine.apply_fixes` would make it."""
    text = _fixed_text(spans, diagnostic)
    if spans.strip:  # no final newline: the code generation drops the last (newline) token
        if not text.endswith(spans.source[-spans.strip:]):
            raise Unsupported("a rewrite at the end of a file without a final newline")
        text = text[:-spans.strip]
    return text


def _fixed_text(spans: _Spans, diagnostic: Diagnostic) -> str:
    fix = diagnostic.fix
    units = _units(spans, fix.replacements)
    if spans.strip and units and units[-1][1] > len(spans.source) - spans.strip:
        raise Unsupported("a rewrite at the end of a file without a final newline")
    if not (fix.add_imports or fix.remove_imports):
        return _apply(spans.source, 0, len(spans.source), units)
    replacements, verdicts = fix.replacements, {}
    if fix.remove_imports:
        verdicts, extra = _removal_verdicts(spans, fix, units, diagnostic.path)
        if extra:  # a function's own import the fix leaves unused goes too
            replacements = {**fix.replacements, **extra}
            units = _units(spans, replacements)
    if not fix.add_imports and not any(verdicts.values()):  # every removed import stays in use
        return _apply(spans.source, 0, len(spans.source), units)
    return _import_stage(spans, fix, replacements, units, verdicts, diagnostic.path)


def text_edits(old: str, new: str) -> list[dict]:
    """Line edits turning `old` into `new`, in ruff's JSON shape (1-based rows and columns).

    Only the lines between the first and the last difference are split and diffed (a fix changes
    a few places of a long file; splitting and diffing all of it per fix cost more than the fix)."""
    same = _common_prefix(old, new)
    start = old.rfind("\n", 0, same) + 1  # the start of the first line that differs
    tail = _common_prefix(old[start:][::-1], new[start:][::-1])  # (bounded by both lengths)
    newline = old.find("\n", len(old) - tail)  # a line end inside the common tail: both texts have it
    old_end = len(old) if newline < 0 else newline + 1
    new_end = old_end + len(new) - len(old)
    head = old.count("\n", 0, start)
    old_mid = old[start:old_end].splitlines(keepends=True)
    new_mid = new[start:new_end].splitlines(keepends=True)
    edits = []
    # (autojunk on long spans: a fix's text is a few changed places far apart, and without it the
    # search for the longest match costs as much as the rest of the edits together)
    matcher = difflib.SequenceMatcher(a=old_mid, b=new_mid, autojunk=len(new_mid) > 400)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        edits.append({
            "content": "".join(new_mid[j1:j2]),
            "location": {"row": head + i1 + 1, "column": 1},
            "end_location": {"row": head + i2 + 1, "column": 1},
        })
    return edits


def _common_prefix(a: str, b: str) -> int:
    """The length of the longest common prefix of `a` and `b` (by halving: C-speed compares)."""
    low, high = 0, min(len(a), len(b))
    while low < high:
        mid = (low + high + 1) // 2
        if a[low:mid] == b[low:mid]:
            low = mid
        else:
            high = mid - 1
    return low


def spans_for(module: cst.Module, source: str) -> _Spans:
    return _Spans(module, source)
