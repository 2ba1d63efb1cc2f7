"""session_lint/engine/metadata.py answers exactly what LibCST's providers answer, for every node.

Parents recorded during the traversal, positions computed per top-level statement and
qualified names asked per node are compared with ParentNodeProvider, PositionProvider
and QualifiedNameProvider run over the whole module.
"""

from __future__ import annotations

import ast
from pathlib import Path

import libcst as cst
import pytest
from libcst._metadata_dependent import LazyValue
from libcst.metadata import (
    CodeRange,
    MetadataWrapper,
    ParentNodeProvider,
    PositionProvider,
    QualifiedNameProvider,
    ScopeProvider,
)

from helpers import REAL
from session_lint.engine.metadata import ModuleMetadata, _RuleTraversal, visit_with_rules
from session_lint.analysis.libcst_compat import libcst_own_scope_visits, positions_and_code
from session_lint.analysis.walk import LAYOUT, PER_NODE_FIELDS, visit_read_only, walk

ROOT = Path(__file__).parent.parent

TRICKY = [
    "# header comment\n\n#!second\nimport os\n\n\n@dec\n# between\ndef f(a,\n      b):\n    x = 1; y = 2\n"
    "    return (a\n            + b)\n# footer comment\n",
    "x = 1\r\ny = [\r\n  1,\r\n]\r\ndef f():\r\n    return x\r\n",  # CRLF
    "a = 1\rb = 2\r\nc = '''\r\n\n'''\n",  # mixed line breaks, one inside a string
    "def f():\n    pass",  # no trailing newline
    "def f():\n    pass\n\ndef f():\n    pass",  # the last statement's code (with a newline) occurs before it
    "x = 1\ny = 2\nx = 1\nz = 3\nx = 1\n",  # a statement's code occurs three times
    "if a:\n    b = 1\n    # deeper comment, owned by the block\n# level comment, owned by the next\nc = 2\n",
    "\n\n\n",  # no statements
    "class C:\n\tdef m(self):\n\t\treturn 'é' + \"\\u00e9\"  # tab indent, non-ASCII\n",
    "if x:\n    pass\nelif y:\n    pass\nelse:\n    z = lambda q: q\n\x0c\ndef g(): return [i for i in x]\n",
    "from . import a as b\nfrom .m import (n,\n  o)\nimport p.q\nclass D(b.E):\n    def f(self): return n + o + p.q\n",
    # class members: one found once, one twice (A.m, B.m), in a class in a class, after comments and decorators
    "class A:\n    def m(self):\n        return 1\n\n    # comment\n    @property\n    def n(self):\n        x = 1; return x"
    "\n\n\nclass B:\n    def m(self):\n        return 1\n    class Inner:\n        def k(self):\n"
    "            return [i for i in y]\n  # a comment the block owns\n",
    "class C:\r\n    x = 1\r\n    def m(self):\r\n        return (\r\n            self.x)\r\n",  # CRLF
    "class C:\n  def m(self):\n      return 1\nclass D:\n        y = 2; z = 3\n",  # each block its own indent
    "class C:\n    def m(self):\n        pass\n\nclass D:\n    def m(self):\n        pass",  # no trailing newline
    "@dec\nclass C(\n    Base,\n):\n    'doc'\n\n    if x:\n        def m(self): ...\n",
]


def assert_same_metadata(source: str) -> None:
    module = cst.parse_module(source)
    with libcst_own_scope_visits():  # LibCST exactly as released, whatever the engine patched
        expected = MetadataWrapper(module, unsafe_skip_copy=True).resolve_many(
            [ParentNodeProvider, PositionProvider, QualifiedNameProvider, ScopeProvider])
    # positions from the text (statements found in it) and without it (code generated): both LibCST's
    for text in (source, None):
        metadata = ModuleMetadata(module, text=text)
        traversal = _RuleTraversal([], metadata)
        traversal.run(module)  # records parents as the rules' traversal does
        assert_expected_metadata(module, source, metadata.providers, expected)
    assert_libcst_order(module)


def assert_expected_metadata(module: cst.Module, source: str, got, expected) -> None:
    nodes = list(expected[PositionProvider])
    assert nodes
    # (scope analysis also records nodes it parses out of string annotations; and the engine's gives
    # whitespace, comments and punctuation no scope: no rule asks for one)
    code = {node for node in nodes if type(node) not in LAYOUT}
    assert set(got[ScopeProvider].data) & set(nodes) == set(expected[ScopeProvider]) & code
    for node in nodes:
        assert got[PositionProvider][node] == expected[PositionProvider][node], (type(node).__name__, source)
        scope, expected_scope = got[ScopeProvider].get(node), expected[ScopeProvider].get(node)
        assert type(scope) is type(expected_scope) if node in code else scope is None
        if scope is not None:
            assert {n.name for n in scope.assignments} == {n.name for n in expected_scope.assignments}
            assert len(list(scope.accesses)) == len(list(expected_scope.accesses))
        assert got[ParentNodeProvider].get(node) is expected[ParentNodeProvider].get(node), type(node).__name__
        qualified = expected[QualifiedNameProvider].get(node, set())
        qualified = qualified() if isinstance(qualified, LazyValue) else qualified
        assert got[QualifiedNameProvider].get(node, set()) == qualified


class _Order(cst.CSTVisitor):
    def __init__(self) -> None:
        super().__init__()
        self.entered: list[cst.CSTNode] = []
        self.left: list[cst.CSTNode] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        self.entered.append(node)
        return True

    def on_leave(self, original_node: cst.CSTNode) -> None:
        self.left.append(original_node)


def assert_libcst_order(module: cst.Module) -> None:
    """`walk` enters and leaves the same nodes in the same order as LibCST's `visit`."""
    expected, entered, left = _Order(), [], []
    module.visit(expected)
    walk(module, entered.append, left.append)
    assert len(entered) == len(expected.entered) and all(a is b for a, b in zip(entered, expected.entered))
    assert len(left) == len(expected.left) and all(a is b for a, b in zip(left, expected.left))


def test_libcst_traverses_conditionally_only_the_node_types_walk_knows():
    """`walk` records each type's fields once; a type whose traversal depends on a node's values
    (an `if` in `_visit_and_replace_children` that can skip a field) must be in PER_NODE_FIELDS."""
    conditional = set()
    for file in (Path(cst.__file__).parent / "_nodes").glob("*.py"):
        for cls in ast.parse(file.read_text(encoding="utf-8")).body:
            if not isinstance(cls, ast.ClassDef):
                continue
            for fn in cls.body:
                if isinstance(fn, ast.FunctionDef) and fn.name == "_visit_and_replace_children" and \
                        any(isinstance(n, (ast.If, ast.IfExp, ast.For, ast.While)) for n in ast.walk(fn)):
                    conditional.add(cls.name)
    # ImportFrom: both branches visit `names` (a node or a sequence)
    assert conditional - {"ImportFrom", "LazyImportFrom"} <= PER_NODE_FIELDS, conditional


def test_format_specs_are_walked_whatever_the_first_f_string_looked_like():
    assert_libcst_order(cst.parse_module('a = f"{x}"\nb = f"{y:>{width}}"\nc = f"{z!r:{w}}"\n'))


@pytest.mark.parametrize("source", TRICKY)
def test_tricky_sources(source):
    assert_same_metadata(source)


def test_fixture_and_rule_example_files():
    files = [*(ROOT / "fixtures").rglob("*.py"), *(ROOT / "tests" / "project").rglob("*.py")]
    assert len(files) > 20
    for file in files:
        assert_same_metadata(file.read_text(encoding="utf-8"))


def assert_libcst_positions(source: str) -> None:
    """`positions_and_code` over the whole module: every node's range and the code as LibCST's."""
    module = cst.parse_module(source)
    expected = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    ranges, code = positions_and_code(module)
    assert code == module.code == source
    assert ranges.keys() == expected.keys()
    for node, found in expected.items():
        assert ranges[node] == (found.start.line, found.start.column, found.end.line, found.end.column), \
            (type(node).__name__, source)


def test_positions_are_libcsts_on_tricky_fixture_and_real_files():
    files = [*(ROOT / "fixtures").rglob("*.py"), *(ROOT / "tests" / "project").rglob("*.py"),
             *(sorted(REAL.rglob("*.py"))[::10] if REAL.is_dir() else [])]
    for source in (*TRICKY, *(file.read_text(encoding="utf-8", errors="replace") for file in files)):
        try:
            assert_libcst_positions(source)
        except (cst.ParserSyntaxError, RecursionError):
            continue


def test_metadata_of_nodes_the_traversal_has_not_reached():
    """A rule asking from `visit_Module` about nodes below it (no parents recorded yet)."""
    module = cst.parse_module("# header\nx = 1\n\ndef f():\n    return x\n")
    metadata = ModuleMetadata(module)
    ret = module.body[1].body.body[0].body[0]
    assert metadata.providers[PositionProvider][ret] == CodeRange((5, 4), (5, 12))
    assert metadata.providers[PositionProvider][module.header[0].comment] == CodeRange((1, 0), (1, 8))
    assert metadata.providers[ParentNodeProvider][ret] is module.body[1].body.body[0]


def test_per_attribute_hooks_are_refused():
    class Hooked(cst.BatchableCSTVisitor):
        def visit_Call_func(self, node):
            pass

    with pytest.raises(TypeError, match="per-attribute hooks"):
        visit_with_rules(cst.parse_module("f()\n"), [Hooked()])


@pytest.mark.skipif(not REAL.is_dir(), reason=f"no real projects under {REAL}")
def test_real_project_files():
    files = sorted(REAL.rglob("*.py"))[::100]  # a deterministic sample; full providers are slow
    checked = 0
    for file in files:
        try:
            source = file.read_text(encoding="utf-8")
            cst.parse_module(source)
        except (UnicodeDecodeError, OSError, cst.ParserSyntaxError, RecursionError):
            continue
        assert_same_metadata(source)
        checked += 1
    assert checked


def test_metadata_asked_below_the_node_being_visited():
    """A rule analysing a function from `visit_FunctionDef` (SES005) asks about nodes not visited yet."""
    source = "x = 1\n\n\ndef f():\n    if x:\n        return x\n\n\ndef g():\n    return 2\n"
    module = cst.parse_module(source)
    expected = MetadataWrapper(module, unsafe_skip_copy=True).resolve_many([ParentNodeProvider, PositionProvider])
    answers = []

    class LooksAhead(cst.BatchableCSTVisitor):
        METADATA_DEPENDENCIES = (ParentNodeProvider, PositionProvider)

        def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
            for inner in [n for n in expected[PositionProvider] if _inside(n, node)]:
                answers.append((self.get_metadata(ParentNodeProvider, inner, None) is
                                expected[ParentNodeProvider].get(inner),
                                self.get_metadata(PositionProvider, inner) == expected[PositionProvider][inner]))

    def _inside(inner, outer) -> bool:
        parent = expected[ParentNodeProvider].get(inner)
        while parent is not None and parent is not outer:
            parent = expected[ParentNodeProvider].get(parent)
        return parent is outer

    visit_with_rules(module, [LooksAhead()])
    assert len(answers) > 20 and all(a == (True, True) for a in answers)


def test_scope_analysis_leaves_other_visitors_to_libcst():
    """The engine's scope analysis visits without rebuilding (libcst_compat): a transformer run
    afterwards in the same process still gets LibCST's rebuilding visit."""
    module = cst.parse_module("def f():\n    x = 1\n    return x\n")
    metadata = ModuleMetadata(module)
    assert metadata.providers[ScopeProvider].data  # scope analysis ran (and installed its visit)

    class Rename(cst.CSTTransformer):
        def leave_Name(self, original_node, updated_node):
            return updated_node.with_changes(value="y") if original_node.value == "x" else updated_node

    assert module.visit(Rename()).code == "def f():\n    y = 1\n    return y\n"


class _Calls(cst.CSTVisitor):
    """Notes every hook LibCST's own visit calls on a batched-style visitor (one stub overridden
    to stop at lambdas, as the rules' own visitors do)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, int]] = []

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        self.calls.append(("visit_Lambda", id(node)))
        return False

    def visit_Name(self, node: cst.Name) -> None:
        self.calls.append(("visit_Name", id(node)))

    def leave_Call(self, original_node: cst.Call) -> None:
        self.calls.append(("leave_Call", id(original_node)))


@pytest.mark.parametrize("source", TRICKY + [
    "f(lambda x: g(x), y)\n@d(1)\nclass C(B, metaclass=M):\n    async def m(self): return [h(z) async for z in q]\n"])
def test_hooks_are_called_as_libcst_calls_them(source):
    """The rules' traversal (`_RuleTraversal.run`) and `visit_read_only` call the same hooks on the
    same nodes in the same order as LibCST's `visit` (children skipped after `visit_X` says False)."""
    module = cst.parse_module(source)
    expected = _Calls()
    module.visit(expected)
    read_only = _Calls()
    visit_read_only(module, read_only)
    assert read_only.calls == expected.calls

    class Batched(cst.BatchableCSTVisitor):
        def __init__(self) -> None:
            super().__init__()
            self.calls: list[tuple[str, int]] = []

        def visit_Name(self, node: cst.Name) -> None:
            self.calls.append(("visit_Name", id(node)))

        def leave_Call(self, original_node: cst.Call) -> None:
            self.calls.append(("leave_Call", id(original_node)))

    rule, unbatched = Batched(), _Calls()
    unbatched.visit_Lambda = lambda node: None  # a batched visitor cannot skip children
    visit_with_rules(module, [rule])
    module.visit(unbatched)
    assert rule.calls == [c for c in unbatched.calls if c[0] != "visit_Lambda"]


def test_a_statement_found_once_in_the_text_needs_no_code_of_the_others():
    source = "import os\n\n\ndef f():\n    return os.sep\n"
    module = cst.parse_module(source)
    positions = ModuleMetadata(module, text=source).providers[PositionProvider]
    assert positions[module.body[1].body.body[0]] == CodeRange((5, 4), (5, 17))
    assert positions._first_lines is None  # no code generated for the statements before it
    twice = "x = 1\nx = 1\n"
    module = cst.parse_module(twice)
    positions = ModuleMetadata(module, text=twice).providers[PositionProvider]
    assert positions[module.body[1].body[0]] == CodeRange((2, 0), (2, 5))
    assert positions._first_lines is not None  # found twice: counted from the code before it


def test_layout_nodes_are_visited_only_for_a_rule_that_hooks_them():
    source = "x = [1,  # one\n     2]\n\n\ndef f(a, b):  # two\n    return a\n"
    module = cst.parse_module(source)

    class Comments(cst.BatchableCSTVisitor):
        def __init__(self) -> None:
            super().__init__()
            self.seen: list[str] = []

        def visit_Comment(self, node: cst.Comment) -> None:
            self.seen.append(node.value)

        def visit_Comma(self, node: cst.Comma) -> None:
            self.seen.append(",")

    rule = Comments()
    visit_with_rules(module, [rule])
    assert rule.seen == [",", "# one", ",", "# two"]
    metadata = ModuleMetadata(module)
    _RuleTraversal([], metadata).run(module)
    comma = module.body[0].body[0].value.elements[0].comma
    assert comma not in metadata.parents.seen  # no rule hooks commas: not visited
    assert metadata.providers[ParentNodeProvider][comma] is module.body[0].body[0].value.elements[0]


MATCHERS_LOADED = """
import sys
sys.path.insert(0, "tests")
from helpers import DEFAULT_PATH, config
from session_lint.api import lint_source
from session_lint.rules import all_rules
for rule in all_rules():
    for source in rule.VALID:  # (each rule alone: another rule may flag, and fix, a rule's VALID example)
        assert not [d for d in lint_source(source, str(DEFAULT_PATH), config(select=(rule.code,)))], source
print('libcst.matchers' in sys.modules)
"""


def test_a_lint_that_builds_no_fix_does_not_import_libcst_matchers():
    # importing them costs a quarter of a second per process (the rules use analysis/patterns.py)
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", MATCHERS_LOADED], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "False"
