"""Lint one source text with the selected rules, and apply their fixes until stable."""

from __future__ import annotations

import ast
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable

import libcst as cst

from ..config import Config
from .deep import deep
from . import windows
from ..diagnostics import Diagnostic, syntax_error
from .long_strings import blank_long_strings
from .metadata import visit_with_rules
from ..analysis.names import fallback_module_name, module_name_for
from ..analysis.model import FileModel
from ..rules import all_rules
from .scope_slice import ScopeSlice, scope_slice
from .screen import Verdict, scope_words

MAX_FIX_ROUNDS = 10

# flake8's noqa syntax: `# noqa`, `# noqa: SES001`, `# NOQA:SES001,SES003`.
NOQA_RE = re.compile(r"#\s*noqa(?::[\s]?(?P<codes>[A-Z]+[0-9]+(?:[,\s]+[A-Z]+[0-9]+)*))?", re.IGNORECASE)


class FixError(Exception):
    """A fix produced code that does not parse; the file is left untouched."""


@dataclass
class LintRun:
    """The parsed module and the diagnostics found in it (fixes refer to its nodes)."""

    source: str
    module: cst.Module | None
    diagnostics: list[Diagnostic]
    edit_spans: object = field(default=None, repr=False, compare=False)  # edits.py, once per file


@dataclass
class FixResult:
    source: str
    applied: int
    remaining: list[Diagnostic] = field(default_factory=list)


# LibCST's native parser has no nesting limit and overflows the C stack (a segfault) or takes minutes
# on what CPython refuses (windows.DEPTH_SYNTAX_ERRORS), so those are reported before LibCST sees them.
@lru_cache(maxsize=4)  # fix rounds and the lint after a refused fix ask again for the same text
def _depth_refusal(source: str) -> tuple[str, int, int] | None:
    """(CPython's reason, line, column) when CPython refuses `source` for its nesting depth."""
    try:
        ast.parse(source)
    except SyntaxError as exc:
        if exc.msg in windows.DEPTH_SYNTAX_ERRORS:
            return exc.msg, exc.lineno or 1, exc.offset or 1
    except MemoryError:  # "parser stack overflow": nesting beyond the parser's fixed stack
        return "too complex for the parser's stack", 1, 1
    except RecursionError:
        return "maximum recursion depth exceeded", 1, 1
    except ValueError:  # null bytes: LibCST reports those itself
        pass
    return None


def too_deep(source: str, path: str) -> Diagnostic | None:
    """SES999 for a file nested deeper than CPython accepts (LibCST could crash on it)."""
    refusal = _depth_refusal(source)
    if refusal is None:
        return None
    reason, line, column = refusal
    return syntax_error(path, f"file is too deeply nested to parse ({reason})", line, column)


def parse(source: str, path: str, depth_checked: bool = False) -> tuple[cst.Module | Diagnostic, bool]:
    """The module, or SES999 when it cannot be parsed; and whether long strings were blanked
    out to parse it (session_lint/engine/long_strings.py: such a module must never be written back).
    `depth_checked`: CPython already parsed this text (the screen), so it is not too deep for it."""
    refused = None if depth_checked else too_deep(source, path)
    if refused is not None:
        return refused, False
    try:
        return cst.parse_module(source), False
    except cst.ParserSyntaxError as exc:
        # CPython's own parser gives the clearer message and position; ask it on this rare path
        refused, parses = _cpython_parse(source, path)
        if refused is not None:
            return refused, False
        if parses:  # valid Python that LibCST rejects: a very long implicit string concatenation?
            blanked = _parse_blanked(source)
            if blanked is not None:
                return blanked, True
        first = str(exc.message).splitlines()[0] if exc.message else "invalid syntax"
        return syntax_error(path, f"SyntaxError: {first}", exc.raw_line, exc.raw_column + 1), False
    except cst.CSTValidationError as exc:
        # LibCST built a node, then rejected it (an identifier `str.isidentifier` refuses, found by
        # the fuzz test): a syntax error when CPython agrees, else a file LibCST cannot handle
        refused = _cpython_parse(source, path)[0]
        return refused or syntax_error(path, f"LibCST cannot parse this file: {exc}"), False
    except RecursionError:
        return syntax_error(path, "file is too deeply nested to parse (RecursionError)"), False


def _cpython_parse(source: str, path: str) -> tuple[Diagnostic | None, bool]:
    """CPython's verdict on `source`: (its syntax error, None when it has none; does it parse?).
    Neither when CPython cannot tell (a null byte, a recursion or memory limit)."""
    try:
        ast.parse(source, filename=path)
    except SyntaxError as py_exc:
        return syntax_error(path, f"SyntaxError: {py_exc.msg}", py_exc.lineno or 1, py_exc.offset or 1), False
    except (ValueError, RecursionError, MemoryError):
        return None, False
    return None, True


def _parse_blanked(source: str) -> cst.Module | None:
    blanked = blank_long_strings(source)
    if blanked is None:
        return None
    try:
        return cst.parse_module(blanked)
    except (cst.ParserSyntaxError, RecursionError):
        return None


@deep  # deep input recurses deeply: see session_lint/engine/deep.py
def run_rules(source: str, path: str, config: Config, screened: Verdict | None = None,
              fixes: bool = True) -> LintRun:
    """Parse and visit with every selected rule; noqa'd diagnostics are dropped. `screened`: the
    screen's verdict on this very text; only the rules it names run (the others cannot report).
    `fixes`: False when the caller never applies or shows fixes (rules then build none)."""
    codes = screened.codes if screened is not None else None
    if len(source) > windows.WINDOWED_ABOVE:
        windowed = _run_windowed(source, path, config, screened)
        if windowed is not None:
            return windowed
    parsed, blanked = parse(source, path, depth_checked=screened is not None and screened.parsed)
    if isinstance(parsed, Diagnostic):
        found = [parsed] if config.is_selected(parsed.code, path) else []
        return LintRun(source, None, found)
    run = _run_rules(source, parsed, path, config, codes, text=None if blanked else source,
                     fixes=fixes and not blanked)
    if blanked:  # fixes would write the blanked strings back: none is built, none is kept
        _without_fixes(run.diagnostics)
        run.module = None
    return run


def _run_rules(source: str, module: cst.Module, path: str, config: Config, codes: frozenset[str] | None = None,
               text: str | None = None, fixes: bool = True) -> LintRun:
    """`text`: the text `module` was parsed from (not `source` when long strings were blanked)."""
    found = _findings(source, module, path, config, codes=codes, text=text, fixes=fixes)
    if isinstance(found, Diagnostic):
        return LintRun(source, None, [found])
    return LintRun(source, module, sorted(apply_noqa(found, source), key=lambda d: d.sort_key))


def _run_windowed(source: str, path: str, config: Config, screened: Verdict | None) -> LintRun | None:
    """The findings of a very large module, a window of it at a time (session_lint/engine/windows.py),
    without fixes; None when it cannot be cut up (the whole-module path then says why). One window's
    tree at a time (parallel.py spreads them over its workers when they are idle). `screened`: the
    screen's verdict, which names the windows a rule may report in, and those rules."""
    if screened is not None and screened.windows is not None:
        return merged_windows(source, (lint_window(*each, path, config) for each in screened.windows))
    cut = cut_into_windows(source, path, config)
    if not isinstance(cut, list):
        return cut
    codes = screened.codes if screened is not None else None
    return merged_windows(source, (lint_window(window, codes, False, path, config) for window in cut))


def cut_into_windows(source: str, path: str, config: Config) -> list[windows.Window] | LintRun | None:
    """The windows of a module larger than `windows.WINDOWED_ABOVE`; the run reporting the syntax
    error when a module too large to parse whole is not Python; None when the whole-module path
    must say what is wrong (or the module has no statement)."""
    try:
        found = windows.chunks(source)
    except windows.Unparsable as exc:
        if len(source) <= windows.WHOLE_AST_LIMIT:
            return None  # the whole-module path reports it, as for any file
        # (parsing all of it at once is what this path avoids; CPython's verdict is the report)
        message = (f"file is too deeply nested to parse ({exc.message})" if exc.message in windows.DEPTH_SYNTAX_ERRORS
                   else f"SyntaxError: {exc.message}")
        error = syntax_error(path, message, exc.line, exc.column)
        return LintRun(source, None, [error] if config.is_selected(error.code, path) else [])
    return None if found is None else windows.windows(found)


@deep
def lint_window(window: windows.Window, codes: frozenset[str] | None, to_screen: bool, path: str,
                config: Config) -> list[Diagnostic] | Diagnostic | None:
    """The findings on the lines `window` owns, without fixes (noqa not applied); SES999 when it is
    too deep to analyse; None when LibCST cannot parse it (the whole-module path then says why).
    `codes`: only these rules (the screen's verdict on the window), else every selected one;
    `to_screen`: the screen has not read the window yet (screen.ScreenedWindow)."""
    if to_screen:
        from .runner import screen_for  # (the runner calls this module: no import at its top)

        codes = screen_for(config, path).window_codes(window, path)
        if codes is not None and not codes:
            return []
    try:
        module = cst.parse_module(window.text)
    except (cst.ParserSyntaxError, cst.CSTValidationError, RecursionError):
        return None
    found = _findings(window.text, module, path, config, window.file_line, codes, window.text, fixes=False,
                      calls_elsewhere=window.calls_elsewhere)
    if isinstance(found, Diagnostic):
        return found
    owned = [d for d in found if window.owns(d.line)]
    _without_fixes(owned)
    return owned


def merged_windows(source: str, results: Iterable[list[Diagnostic] | Diagnostic | None]) -> LintRun | None:
    """The module's run from its windows' `lint_window` results, in order (read up to the first
    window that settles the file: a window LibCST cannot parse, or one too deep to analyse)."""
    diagnostics: list[Diagnostic] = []
    for found in results:
        if found is None:
            return None
        if isinstance(found, Diagnostic):
            return LintRun(source, None, [found])
        diagnostics.extend(found)
    return LintRun(source, None, sorted(apply_noqa(diagnostics, source), key=lambda d: d.sort_key))


def _without_fixes(diagnostics: list[Diagnostic]) -> None:
    for diagnostic in diagnostics:
        diagnostic.fix, diagnostic.fix_spans = None, []


def _findings(source: str, module: cst.Module, path: str, config: Config,
              line_map: Callable[[int], int] | None = None,
              codes: frozenset[str] | None = None, text: str | None = None,
              fixes: bool = True, calls_elsewhere: frozenset[str] = frozenset()) -> list[Diagnostic] | Diagnostic:
    """Every selected rule's diagnostics for `module` (noqa not applied), or SES999 when it is too
    deep to analyse. `line_map`: `module` is a window of the file (its lines -> the file's).
    `codes`: only these rules (the screen's verdict), else every selected one. `text`: the text
    `module` was parsed from, when known (positions are found in it: metadata._Positions).
    `fixes`: False when the fixes would be dropped (a window, blanked strings): none is built.
    `calls_elsewhere`: functions `module` defines with calls in statements it leaves out (a window)."""
    rule_classes = [r for r in all_rules() if config.is_selected(r.code, path) and (codes is None or r.code in codes)]
    if not rule_classes:
        return []
    words = scope_words(config, [r.code for r in rule_classes])
    try:
        scoped = scope_slice(module, words) if words is not None else ScopeSlice(module)
    except RecursionError:  # deeper than even the deep stack allows (session_lint/engine/deep.py)
        return _too_deep_to_analyse(path)
    for module_name in (module_name_for(path), fallback_module_name(path)):
        context = FileModel(path=path, config=config, module=module, module_name=module_name.name,
                            package=module_name.package, source=source, fixes=fixes,
                            calls_elsewhere=calls_elsewhere)
        rules = [cls(context) for cls in rule_classes]
        try:
            visit_with_rules(module, rules, scoped.module, context, line_map, text, scoped.left_out)
            break
        except ImportError:  # relative import beyond the detected package: retry with a deeper one
            continue
        except RecursionError:
            return _too_deep_to_analyse(path)
    return [d for rule in rules for d in rule.diagnostics]


def _too_deep_to_analyse(path: str) -> Diagnostic:
    return syntax_error(path, "file is too deeply nested to analyse (RecursionError)")


def apply_noqa(diagnostics: Iterable[Diagnostic], source: str) -> list[Diagnostic]:
    # Lines as LibCST numbers them (\r\n, \r, \n): `str.splitlines` also splits at a form feed or
    # U+2028, and every noqa comment after one was read on the wrong line.
    lines = LINE_END_RE.split(source)
    return [d for d in diagnostics
            if not (0 < d.line <= len(lines) and noqa_suppresses(lines[d.line - 1], d.code))]


LINE_END_RE = windows.LINE_END


def noqa_suppresses(line: str, code: str) -> bool:
    """Does the `# noqa` comment of this source line (if any) suppress `code`?"""
    match = NOQA_RE.search(line)
    if not match:
        return False
    codes = match.group("codes")
    return not codes or code in re.split(r"[,\s]+", codes.upper())


def lint_source(source: str, path: str | Path = "<stdin>", config: Config | None = None,
                fixes: bool = True) -> list[Diagnostic]:
    """Diagnostics for one source text, sorted by position (`fixes`: see run_rules)."""
    return run_rules(source, str(path), config or Config(), fixes=fixes).diagnostics


# -- fixes ---------------------------------------------------------------------

class _ReplaceNodes(cst.CSTTransformer):
    def __init__(self, replacements: dict) -> None:
        super().__init__()
        self.replacements = replacements

    def on_leave(self, original_node, updated_node):
        return self.replacements.get(original_node, updated_node)


def _overlaps(a: list, b: list) -> bool:
    return any(s1 < e2 and s2 < e1 for s1, e1 in a for s2, e2 in b)


def apply_fixes(module: cst.Module, diagnostics: list[Diagnostic], path: str) -> tuple[cst.Module, int]:
    """Apply every fix whose rewritten spans do not overlap an earlier one's."""
    # (LibCST's codemod package imports its matchers: half a second no lint that applies no fix pays)
    from libcst.codemod import CodemodContext
    from libcst.codemod.visitors import AddImportsVisitor, RemoveImportsVisitor

    chosen: list[Diagnostic] = []
    taken: list = []
    for diagnostic in diagnostics:
        if diagnostic.fix is None or _overlaps(diagnostic.fix_spans, taken):
            continue
        chosen.append(diagnostic)
        taken.extend(diagnostic.fix_spans)
    replacements: dict = {}
    for diagnostic in chosen:
        replacements.update(diagnostic.fix.replacements)
    tree = module.visit(_ReplaceNodes(replacements)) if replacements else module
    context = CodemodContext(filename=path)
    for diagnostic in chosen:
        fix = diagnostic.fix
        for spec in fix.add_imports:
            AddImportsVisitor.add_needed_import(context, spec.module, spec.obj, spec.asname)
        for spec in fix.remove_imports:
            RemoveImportsVisitor.remove_unused_import(context, spec.module, spec.obj, spec.asname)
    if any(d.fix.add_imports for d in chosen):
        tree = AddImportsVisitor(context).transform_module(tree)
    if any(d.fix.remove_imports for d in chosen):
        tree = RemoveImportsVisitor(context).transform_module(tree)
    return tree, len(chosen)


def check_parses(code: str, path: str) -> None:
    try:
        cst.parse_module(code)
        ast.parse(code, filename=path)
    except (cst.ParserSyntaxError, SyntaxError, ValueError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise FixError(f"{path}: a fix produced code that does not parse ({first}); file left unchanged") from None


@deep
def fix_source(source: str, path: str | Path = "<stdin>", config: Config | None = None,
               unsafe_fixes: bool = False) -> FixResult:
    """Apply fixes until none applies (at most MAX_FIX_ROUNDS rounds).

    A fix whose output gains a finding (of any selected rule) is not applied: a rewrite that makes
    session-lint itself object to the result (a session used after the new block, ...) is wrong.
    When a round's fixes together gain one, they are tried one at a time and the culprits skipped."""
    path, config = str(path), config or Config()
    run = run_rules(source, path, config)
    try:
        return _fix_rounds(source, path, config, unsafe_fixes, run)
    except FixError:
        newer = needs_newer_python(source, path)
        if newer is None:
            raise
        reported = [newer] if config.is_selected(newer.code, path) else []
        return FixResult(source, 0, sorted([*reported, *run.diagnostics], key=lambda d: d.sort_key))


def needs_newer_python(source: str, path: str) -> Diagnostic | None:
    """SES999 for a file LibCST parses but this Python does not (PEP 695 `type X = int` on 3.11):
    a fixed version cannot be checked, and blaming the fix for the syntax would be wrong."""
    try:
        ast.parse(source, filename=path)
    except SyntaxError as exc:
        version = f"{sys.version_info.major}.{sys.version_info.minor}"
        return syntax_error(path, f"SyntaxError: {exc.msg}: the file needs a newer Python than {version} "
                                  "(not fixed)", exc.lineno or 1, exc.offset or 1)
    except (ValueError, RecursionError, MemoryError):
        return None
    return None


def _fix_rounds(source: str, path: str, config: Config, unsafe_fixes: bool, run: LintRun) -> FixResult:
    current, applied = source, 0
    rejected: set[tuple] = set()
    for _ in range(MAX_FIX_ROUNDS):
        fixable = [d for d in run.diagnostics
                   if d.is_fixable(unsafe_fixes) and _finding_key(d, current) not in rejected]
        if run.module is None or not fixable:
            return FixResult(current, applied, run.diagnostics)
        new_code, count = _fixed_code(run, fixable, path)
        if new_code == current:
            return FixResult(current, applied, run.diagnostics)
        new_run = run_rules(new_code, path, config)
        if _gains_findings(run, new_run):
            new_code, new_run, count = None, None, 0
            for diagnostic in fixable:  # one at a time: the first that adds nothing goes in
                candidate, _ = _fixed_code(run, [diagnostic], path)
                candidate_run = run_rules(candidate, path, config) if candidate != current else None
                if candidate_run is None or _gains_findings(run, candidate_run):
                    rejected.add(_finding_key(diagnostic, current))
                    continue
                new_code, new_run, count = candidate, candidate_run, 1
                break
            if new_code is None:
                return FixResult(current, applied, run.diagnostics)
        current, applied, run = new_code, applied + count, new_run
    return FixResult(current, applied, run.diagnostics)


def _fixed_code(run: LintRun, diagnostics: list[Diagnostic], path: str) -> tuple[str, int]:
    """The source with these diagnostics' fixes applied; raises FixError when it does not parse."""
    try:
        tree, count = apply_fixes(run.module, diagnostics, path)
        new_code = tree.code
    except Exception as exc:  # a rewrite helper failed: report it, keep the file as it was
        raise FixError(f"{path}: internal error while applying fixes ({type(exc).__name__}: {exc}); "
                       "file left unchanged") from None
    if new_code != run.source:
        check_parses(new_code, path)
    return new_code, count


def _finding_key(diagnostic: Diagnostic, source: str) -> tuple:
    """A finding by code, message and the text of its line: stable while fixes move lines around."""
    lines = source.splitlines()
    text = lines[diagnostic.line - 1].strip() if 0 < diagnostic.line <= len(lines) else ""
    return diagnostic.code, diagnostic.message, text


def _gains_findings(before: LintRun, after: LintRun) -> bool:
    """Does `after` hold a finding `before` did not (by code and line text; messages name lines)?"""
    def keys(run: LintRun) -> Counter:
        return Counter(key[0::2] for key in (_finding_key(d, run.source) for d in run.diagnostics))
    old = keys(before)
    return any(count > old[key] for key, count in keys(after).items())


@deep
def fix_edits(run: LintRun, diagnostic: Diagnostic) -> list[dict]:
    """The text edits of one diagnostic's fix, in ruff's JSON shape (1-based rows/columns)."""
    from .edits import text_edits  # (edits.py loads LibCST's codemod package: only where a fix is)

    if run.module is None or diagnostic.fix is None:
        return []
    try:
        new_code = fixed_text(run, diagnostic)
    except Exception:  # an edit preview must never break reporting
        return []
    return text_edits(run.source, new_code)


@deep
def fixed_text(run: LintRun, diagnostic: Diagnostic) -> str:
    """The source with this one diagnostic's fix applied: what `apply_fixes` makes of it alone
    (JSON/SARIF edits, the language server's quick fixes).

    Computed from the fix's own nodes (session_lint/engine/edits.py); a fix that path cannot render
    exactly takes the whole-module path (`apply_fixes`), for that diagnostic only."""
    from . import edits

    try:
        if run.edit_spans is None:
            run.edit_spans = edits.spans_for(run.module, run.source)
        if isinstance(run.edit_spans, edits.Unsupported):
            raise run.edit_spans
        return edits.fixed_text(run.edit_spans, diagnostic)
    except edits.Unsupported as exc:
        if run.edit_spans is None:
            run.edit_spans = exc
    except Exception:  # (RecursionError, a LibCST error...): the whole-module path decides
        pass
    tree, _ = apply_fixes(run.module, [diagnostic], diagnostic.path)
    return tree.code


@deep
def single_fix(run: LintRun, diagnostic: Diagnostic, config: Config) -> str | None:
    """The source with this one diagnostic's fix applied, as `fix_source` applies it when it is the
    file's only fix (unsafe ones with `unsafe_fixes`); None when `fix_source` would refuse it (the
    result does not parse, or has a finding the source did not) or it changes nothing."""
    if run.module is None or diagnostic.fix is None:
        return None
    try:
        new_code = fixed_text(run, diagnostic)
        if new_code == run.source:
            return None
        check_parses(new_code, diagnostic.path)
    except Exception:
        return None
    if _gains_findings(run, run_rules(new_code, diagnostic.path, config)):
        return None
    return new_code


def whole_module_edits(run: LintRun, diagnostic: Diagnostic) -> list[dict]:
    """`fix_edits` by applying the fix to the whole module and diffing the code (slow, exact)."""
    from .edits import text_edits

    try:
        tree, _ = apply_fixes(run.module, [diagnostic], diagnostic.path)
        new_code = tree.code
    except Exception:  # an edit preview must never break reporting
        return []
    return text_edits(run.source, new_code)

