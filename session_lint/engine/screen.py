"""Cheap screens that decide, before LibCST, whether a file can produce any finding.

Contract: `Screen.check(data, path)` returns False only when no selected rule can
report anything for this file (SES999 included: a file `ast` cannot parse always
passes, so the engine reports the syntax error exactly as it would without the
screen). True means "maybe": the file goes through the full engine. Finer:
`Screen.verdict(data, path)` names the rules whose trigger fired, and the engine
runs only those (a rule whose trigger did not fire cannot report anything here).
Linting with and without the screen gives identical diagnostics; tests/test_screen.py
checks, over every fixture, the rules' VALID/INVALID examples and real projects, that
every rule reporting in a file is one its verdict names.

Two stages:

1. `prefilter` - a bytes regex (about 2.5M lines/s) over the raw file for the
   words any candidate construct must spell: the last component of every
   configured factory / context manager / dependency / session type, the last
   component of every `[tool.session-lint.deprecated]` key, and the SQLAlchemy
   names the rules know (`Session`, `AsyncSession`, `sessionmaker`, ...), and any name
   ending like a session builder's (`create_async_sessionmaker`: SES001 reads its source). A
   resolved name always spells its last component somewhere in the file (in the
   import that binds it, or at the use), so a file without any of these words
   has no candidate. Word boundaries: `get_db` does not match `get_dbapi`.
2. `ast` screen (about 10x cheaper than a LibCST parse, 40x cheaper than its
   metadata) - import aliases are resolved, then each selected rule's trigger is
   looked for (see TRIGGERS). Every trigger over-approximates what its rule
   checks with LibCST metadata, never the other way round.

A rule without a trigger (a new SESnnn whose module states no `SCREEN_TRIGGERS`)
disables the screen for its files: new rules are correct first, fast once their
module names a trigger. A new kind of trigger is implemented next to its kind: a trigger on
session openings, closes or imports in `_Finder` here (this module also holds the `transaction`,
`route_write` and `slow_io` triggers), one on async code in screen_async.py, one on query constructs
in screen_queries.py. The `ast` machinery they share is in screen_ast.py.

Syntax errors: a file the prefilter skips is never parsed (parsing every file with
`ast` would cost more than everything else session-lint does on a typical tree, and
ruff/flake8 already report syntax errors in every file as E999). SES999 is reported for
every file that spells a session name and does not parse. Past the prefilter nothing is
lost: newer syntax the screen can rewrite (newer_syntax.py: PEP 695, PEP 758) is screened like
any file, and a file `ast` cannot parse even so reaches LibCST, so the engine reports it exactly
as it would without the screen, with the rules whose words it spells (LibCST may parse syntax
newer than this CPython's). The one difference with an unscreened run is a file the screen reads
but LibCST cannot parse (a LibCST parser gap, or newer syntax LibCST does not know yet; huge
implicitly joined strings are linted with the strings blanked out, see
session_lint/engine/long_strings.py): when the screen skips it, that SES999 - about the
engine, not the file - is not reported.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Container, Iterable, Iterator, NamedTuple

from ..analysis.ast_imports import import_bindings, last_name
from ..config import Config
from ..discovery import is_project_test_path
from ..analysis.knowledge import (
    ASYNC_SESSION_CLASSES,
    ASYNC_SLEEP,
    DEPENDS,
    DML_CONSTRUCTS,
    REGISTRIES,
    REGISTRY_WORDS,
    ROUTE_METHODS,
    SESSION_CLASSES,
    SESSION_WORDS,
    SLOW_CLIENTS,
    SLOW_FUNCTIONS,
    SLOW_MODULE_WORDS,
    WRITE_METHODS,
)
from ..analysis.names import absolute_module, fallback_module_name, is_module, module_name_for, name_matches
from ..analysis.project import annotated_aliases, find_module_source, search_roots
from ..analysis.pytest_fixtures import (
    closing_fixture_functions,
    factory_opened,
    spells_fixture_use,
    visible_session_fixtures,
)
from ..analysis.word_search import BLANKS, WORD_CHARACTERS, AttributeSearch, WordSearch
from ..rules import screen_triggers as rule_screen_triggers
from ..sourcefile import Source, SourceError, unsupported_encoding
from ..analysis import newer_syntax
from . import windows
from .screen_ast import (
    SCALAR_ANNOTATIONS,
    FromImports,
    ImportTable,
    NoSessionNames,
    Nodes,
    is_call_of,
    leaf,
    may_inject,
    own_code,
    parameter_may_inject,
    parameters_with_defaults,
)
from .screen_async import ASYNC_SCOPE_WORDS, ASYNC_TRIGGERS, async_constructs, spelled_async
from .screen_queries import QUERY_SCOPE_WORDS, QUERY_TRIGGERS, query_constructs, relationship_names, spelled_queries

# Triggers (what a file must contain for a rule to possibly fire). Each rule module names its own
# (`SCREEN_TRIGGERS = ("raw",)` next to its detection, read by rules.screen_triggers()); this module
# implements these (the async triggers are in screen_async.py, the query triggers in screen_queries.py):
#   raw       a call that may create a raw session (factory, Session class, `sessionmaker(...)()`,
#             `next(get_db())`, a call of a same-file `sessionmaker` registry or wrapper; not a bare
#             `get_db()`), unless the function making it hands it out (`yield db`: `_handed_out`)
#   raw_closed a `name.close()` of a name assigned a raw session or bound by a `with <opening> as name:`
#             (`closable_sessions`), after which that name, or a name that may hold an object of it
#             (`_follow`), is read in the same function (or anywhere in a loop around the call): a session
#             SES005/SES006 follow closes at the end of a `with <opening> as name:` block (`block` asks for
#             those) or by `.close()` on its name
#   managed   a raw or context-manager opening inside a function that may receive a `Depends` session
#   block     a `with` opening whose session, or a name that may hold an object of it (`_followed_names`), is
#             used after the block, or a `.close()` with a session type;
#             in a test module, a closed (or opened) parameter that is a pytest session / factory fixture
#             (session_lint/analysis/pytest_fixtures.py: those spell no session word, the prefilter asks for it by path)
#   deprecated an import / attribute naming a deprecated module or name
#   slow_io  a call of a slow function or client (knowledge.SLOW_*, `slow-calls`) in a file that spells a
#             session word, `Depends` or a session write (`.add(`): SES009's session may be injected
#   route_write a route-shaped decorator (`@x.post(...)`: fastapi.is_route trusts that shape) on a function
#             that writes through a parameter FastAPI may inject a session into (a call as default,
#             `Annotated[...]`, an alias name) and never commits it (`db.add(...)`, `db.execute(insert(...))`,
#             no `db.commit()`)
#   transaction a `.commit()` / `.rollback()` on a name inside a `with ... .begin(...)` block, or on a
#             parameter that FastAPI may inject (a call as default, `Annotated[...]`, an alias name);
#             its prefilter is the call's spelling (`.commit(`), not a session word: a route's
#             session may come through an alias that spells none
TRIGGERS: dict[str, frozenset[str]] = dict(sorted(rule_screen_triggers().items()))
KNOWN_TRIGGERS = frozenset({"raw", "raw_closed", "managed", "block", "deprecated", "transaction", "slow_io",
                            "route_write", "unawaited", "shared_tasks", "sync_in_async", "query_get", "sql_string",
                            "lazy_loop"})
# a route decorator (`@router.get(`), with blanks or line continuations between its tokens
_ROUTE_DECORATOR = re.compile(rb"@(?:[\w. \t\f]|\\\r?\n)+\." + BLANKS
                              + rb"(?:" + "|".join(sorted(ROUTE_METHODS)).encode() + rb")" + BLANKS + rb"\(")
# route_write's second word: a write method after a dot (`_may_write_in_a_route`)
_WRITE_ATTRIBUTE = AttributeSearch(WRITE_METHODS | {"execute"}, call=False)
_NAME_BYTES = "".join(sorted(WORD_CHARACTERS)).encode()  # (for bytes.rstrip)
# an injected session at work: `Depends`, or a write / `execute` call
_HOLDER = (WordSearch(rb"Depends\b"), AttributeSearch({"add", "add_all", "delete", "merge", "flush", "execute"}))
ENDERS = frozenset({"commit", "rollback"})  # what ends a transaction (SES007's calls)
_ENDER_CALL = AttributeSearch(ENDERS)
_CLOSE_WORD = WordSearch(rb"close\b")  # every `.close` attribute spells it, whatever the spacing
# annotations that are a session type without a `Depends`: FastAPI does not inject those
_PLAIN_SESSION_TYPES = frozenset({"Session", "AsyncSession"})

_BUILDER_SUFFIXES = ("sessionmaker", "session_maker", "session_factory")  # project builders' names
# a name ending like one (no word boundary before it: `create_async_sessionmaker`, `_async_sessionmaker`)
_BUILDER_WORD = re.compile(rb"(?i:session_?maker|session_factory)\b")


@dataclass(frozen=True)
class _Words:
    """The identifiers each trigger looks for (last components only, see the module docstring)."""

    raw: frozenset[str]  # configured: calling one opens a raw session (with `get_db`: `next(get_db())`)
    factories: frozenset[str]  # those of `raw` a bare call opens a session with (not the dependencies)
    managed: frozenset[str]  # configured context managers
    session_types: frozenset[str]  # annotations that make a parameter a session
    deprecated: frozenset[str]

    @classmethod
    def of(cls, config: Config) -> _Words:
        factories = {leaf(n) for n in config.session_factories + config.async_session_factories}
        factories |= _factory_methods(config)  # `db.session()`: a method of a project class may open one
        raw = factories | {leaf(n) for n in config.dependencies + config.async_dependencies}
        managed = {leaf(n) for n in config.context_managers + config.async_context_managers}
        for name, kind in _unlisted_helpers(config).items():  # SPEC §2: standard too
            (managed if kind.endswith("context-manager") else raw).add(name)
        types = {leaf(config.session_type), leaf(config.async_session_type), "Session", "AsyncSession"}
        deprecated = {leaf(old) for old, _ in config.deprecated}
        return cls(frozenset(raw), frozenset(factories), frozenset(managed), frozenset(types), frozenset(deprecated))


def _unlisted_helpers(config: Config) -> dict[str, str]:
    """The session module's own context managers and dependencies (read from its source)."""
    from ..analysis.helper_behaviour import standard_helpers

    roots = tuple(dict.fromkeys(p.resolve() for p in (config.root, Path.cwd()) if p is not None))
    return standard_helpers(config.session_module, roots)


def _factory_methods(config: Config) -> frozenset[str]:
    """Names of the session module's session factory methods (session_methods.py)."""
    from ..analysis.session_methods import session_module_method_names

    roots = tuple(dict.fromkeys(p.resolve() for p in (config.root, Path.cwd()) if p is not None))
    return session_module_method_names(config.session_module, roots)


class Screen:
    """The prefilter and the `ast` screen for one configuration and set of selected rules."""

    def __init__(self, config: Config, codes: Iterable[str]) -> None:
        self.codes = codes = tuple(codes)
        self.enabled = all(code in TRIGGERS for code in codes)  # unknown rule: no screening
        self.triggers = frozenset(t for code in codes for t in TRIGGERS.get(code, ()))
        self.config = config
        self.words = _Words.of(config)
        wanted: set[str] = set()
        # (slow_io: where sessions are opened)
        self.spells_openers = bool(self.triggers & {"raw", "raw_closed", "managed", "block", "slow_io"})
        if self.spells_openers:
            wanted |= self.words.raw | self.words.managed | self.words.session_types | SESSION_WORDS | {"next"}
        if "deprecated" in self.triggers:
            wanted |= self.words.deprecated
        self.wanted = frozenset(wanted)
        self.pattern = _word_pattern(self.wanted)
        self.builder_pattern = _BUILDER_WORD if self.spells_openers else None
        self.ender_pattern = _ENDER_CALL if "transaction" in self.triggers else None
        self.route_writes = "route_write" in self.triggers
        self.async_triggers = self.triggers & ASYNC_TRIGGERS  # SES010/SES011/SES015: async code, own prefilters
        self.query_triggers = self.triggers & QUERY_TRIGGERS  # SES012-SES014: spelled queries, not sessions
        self.slow_names = SLOW_FUNCTIONS | SLOW_CLIENTS | ASYNC_SLEEP | frozenset(config.slow_calls)
        self.slow_pattern = (_word_pattern(SLOW_MODULE_WORDS | {leaf(n) for n in config.slow_calls})
                             if "slow_io" in self.triggers else None)

    def prefilter(self, data: bytes, path: str | None = None) -> bool:
        """May this file contain a candidate? (bytes regex; False means certainly not). With its
        `path`, a test module that may close a fixture's session counts too."""
        if unsupported_encoding(data):
            return True  # its words are not spelled in ASCII bytes: the engine reports it as SES999
        return (not self.enabled or self._spells_a_word(data)
                or (self.ender_pattern is not None and self.ender_pattern.search(data) is not None)
                or self._may_hold_across_io(data, spelled=False)  # (a spelled word returned True above)
                or (self.route_writes and _may_write_in_a_route(data))
                or bool(spelled_async(self.async_triggers, data))
                or bool(spelled_queries(self.query_triggers, data))
                or (path is not None and self.fixture_candidate(data, path)))

    def _spells_a_word(self, data: bytes) -> bool:
        """A word of `wanted`, or a project builder's name (`create_async_sessionmaker`)?"""
        return ((self.pattern is not None and self.pattern.search(data) is not None)
                or (self.builder_pattern is not None and self.builder_pattern.search(data) is not None))

    def _may_hold_across_io(self, data: bytes, spelled: bool) -> bool:
        """`spelled`: `_spells_a_word(data)`, which the caller has asked already."""
        return (self.slow_pattern is not None and self.slow_pattern.search(data) is not None
                and (spelled
                     or any(pattern.search(data) is not None for pattern in _HOLDER)))

    def fixture_candidate(self, data: bytes, path: str) -> bool:
        """May a test module close a pytest fixture's session (`db_session.close()`, `s = factory();
        s.close()`, `with factory() as s:`)? Those spell no session word (session_lint/analysis/pytest_fixtures.py):
        it must close or open something, and define a fixture or spell one of the session / factory
        fixtures its conftest.py files define."""
        if "block" not in self.triggers or not spells_fixture_use(data):
            return False
        if not is_project_test_path(path, self.config.root):
            return False
        if b"fixture" in data:
            return True
        names = visible_session_fixtures(Path(path).parent, self.config)
        return bool(names) and _word_pattern(names).search(data) is not None

    def check(self, data: bytes, path: str = "<unknown>") -> bool:
        """False only when no selected rule can report anything for this file."""
        return self.verdict(data, path).may_report

    def verdict(self, data: bytes, path: str = "<unknown>", window: bool = False) -> Verdict:
        """Which selected rules may report something for this file (see `Verdict`). `window`: `data`
        is the text of one window of a module linted in windows, screened whatever its length."""
        if not self.enabled or unsupported_encoding(data):
            return _EVERY_RULE  # an unsupported encoding spells no ASCII word: the engine reports it (SES999)
        spelled = self._spells_a_word(data)
        fixtures = self.fixture_candidate(data, path)
        ends = self.ender_pattern is not None and self.ender_pattern.search(data) is not None
        slow = self._may_hold_across_io(data, spelled)
        routes = self.route_writes and _may_write_in_a_route(data)
        asynchronous = spelled_async(self.async_triggers, data)
        queries = spelled_queries(self.query_triggers, data)
        if (not spelled and not fixtures and not ends and not slow and not routes and not asynchronous
                and not queries):
            return _NO_RULE  # not parsed at all: see "Syntax errors" in the module docstring
        if not window and len(data) > windows.WINDOWED_ABOVE:
            return self._windowed_verdict(data, path)
        if len(data) > windows.WHOLE_AST_LIMIT:
            return _EVERY_RULE  # its `ast` tree alone would take over 200 MB (a window with a huge context)
        parsed = True  # CPython parsed the file as written
        try:
            tree = ast.parse(data, filename=path)
        except SyntaxError:
            tree, data, parsed = _parse_downgraded(data, path)
        except (ValueError, RecursionError, MemoryError):
            tree = None
        if tree is None:
            # the engine reports it (SES999), or LibCST parses what this CPython cannot (newer syntax):
            # then only the rules whose words the file spells can report (each trigger needs its words)
            spelled_triggers = ({"raw", "raw_closed", "managed", "block", "deprecated"} if spelled else set()) \
                | ({"block"} if fixtures else set()) | ({"transaction"} if ends else set()) \
                | ({"slow_io"} if slow else set()) | ({"route_write"} if routes else set()) | asynchronous | queries
            codes = frozenset(code for code in self.codes if TRIGGERS[code] & spelled_triggers)
            return Verdict(codes) if codes else _EVERY_RULE  # (none: every rule, the engine still parses it)
        try:
            nodes = Nodes(tree)
            imported = FromImports(nodes, path)
            no_alias = NoSessionNames(imported, path, self.config, frozenset())
            finder = _Finder(self, tree, nodes, data, path, no_alias, imported) if spelled else None
            fired = set(finder.fired()) if finder is not None else set()
            if "raw" in fired and _in_session_module(path, self.config.session_module):
                fired.discard("raw")  # SES001 and SES002 skip the session module (it makes the sessions)
            if fixtures and "block" not in fired and _fixture_session_used_after_close(
                    tree, closing_fixture_functions(tree, data, path, self.config),
                    finder.helper_may_load if finder is not None else _may_load_anything):
                fired.add("block")
            dependencies = _Dependencies(imported, path, self.config)
            if ends and _ends_owned_transaction(nodes, dependencies):
                fired.add("transaction")
            if slow and _may_hold_a_session_across(tree, nodes, self.slow_names, finder):
                fired.add("slow_io")
            if routes and _route_writes_without_commit(nodes, dependencies, no_alias):
                fired.add("route_write")
            if asynchronous:
                no_session = NoSessionNames(imported, path, self.config,
                                            frozenset({"AsyncSession", leaf(self.config.async_session_type)}))
                fired |= async_constructs(asynchronous, nodes, finder, self.spells_openers, self.words.session_types,
                                          no_session, no_alias, dependencies.injects_sync, imported.imported_only())
            if queries:
                fired |= query_constructs(queries, nodes, lambda: relationship_names(tree, path, self.config))
        except RecursionError:
            return Verdict(None, parsed=parsed)
        return Verdict(frozenset(code for code in self.codes if TRIGGERS[code] & fired), parsed=parsed)

    def _windowed_verdict(self, data: bytes, path: str) -> Verdict:
        """A module the engine lints a window at a time (windows.py) is screened a window at a time:
        each window's text is what the engine parses, so the window's own verdict says which rules
        may report in it, and a window where none may never reaches LibCST. No `ast` tree of the
        whole module is built (over 200 MB past WHOLE_AST_LIMIT); when it cannot be cut up, every
        rule (the engine says why). The windows are screened here up to the first where a rule may
        report: the module then goes to the engine, and the windows after it are screened by
        whoever lints them (`ScreenedWindow.to_screen`), on the workers when they are idle.

        Up to SCREENED_WHOLE_UP_TO bytes the module is screened whole first: linted in windows, it
        gets the findings it gets linted whole (windows.py), so when no rule may report in the
        whole, none reports in a window. An idle module (the three real ones of the harness under
        that size) is then settled by one parse instead of two (the cut's pieces, then each window
        with its context), for half the CPU."""
        if len(data) <= SCREENED_WHOLE_UP_TO and self.verdict(data, path, window=True).codes == frozenset():
            return _NO_RULE
        try:
            found = windows.chunks(Source.from_bytes(data).text)
        except (SourceError, windows.Unparsable):
            return _EVERY_RULE
        if found is None:
            return _EVERY_RULE
        cut = windows.windows(found)
        for index, window in enumerate(cut):
            codes = self.window_codes(window, path)
            if codes is None or codes:
                later = (ScreenedWindow(each, None, to_screen=True) for each in cut[index + 1:])
                return Verdict(None, windows=(ScreenedWindow(window, codes), *later))
        return _NO_RULE

    def window_codes(self, window: windows.Window, path: str) -> frozenset[str] | None:
        """The rules that may report in one window of the module at `path` (None: every rule)."""
        # (its text was decoded from the file's bytes: encoding it back cannot fail)
        return self.verdict(window.text.encode("utf-8", "surrogatepass"), path, window=True).codes


# Bytes up to which a module linted in windows is screened whole first (`Screen._windowed_verdict`):
# its `ast` tree takes up to ~80 MB then; the 1.5 MB dense module (200 MB of tree) is screened a
# window at a time only, as its windows fire.
SCREENED_WHOLE_UP_TO = 600_000


def _in_session_module(path: str, session_module: str) -> bool:
    """Is `path` the session module for the rules (FileModel.in_module), under either module name the
    engine may give it (linter._findings: the package chain's, or every directory's on a retry)?"""
    return all(is_module(name, session_module) for name in (module_name_for(path).name, fallback_module_name(path).name))


def _parse_downgraded(data: bytes, path: str) -> tuple[ast.Module | None, bytes, bool]:
    """The tree of `data` with syntax newer than this CPython's rewritten (newer_syntax.py), and the
    text it was parsed from; None when that does not parse either. Never `parsed`: the engine
    checks the text as written for itself."""
    downgraded = newer_syntax.downgrade(data)
    if downgraded == data:
        return None, data, False
    try:
        return ast.parse(downgraded, filename=path), downgraded, False
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None, data, False


class ScreenedWindow(NamedTuple):
    """A window of a module linted in windows, for the engine to lint."""

    window: windows.Window
    codes: frozenset[str] | None  # the rules that may report in it (None: every selected rule)
    to_screen: bool = False  # not screened yet: whoever lints it screens it first (`Screen.window_codes`)


class Verdict(NamedTuple):
    """The screen's answer for one file. `codes`: the selected rules whose trigger fired (a rule
    whose trigger did not fire cannot report anything here, so the engine need not run it); None
    for every selected rule (no screening, or a file that did not parse and spells none of their
    words). `parsed`: CPython parsed the whole file, so it is not too deeply nested for CPython
    (the engine need not ask again). `windows`: a module linted in windows, the windows the engine
    lints (`Screen._windowed_verdict`); None for any other file."""

    codes: frozenset[str] | None
    parsed: bool = False
    windows: tuple[ScreenedWindow, ...] | None = None

    @property
    def may_report(self) -> bool:
        return self.codes is None or bool(self.codes)


_EVERY_RULE = Verdict(None)
_NO_RULE = Verdict(frozenset())


class ScopeWords(NamedTuple):
    """What session_lint/engine/scope_slice.py keeps statements for."""

    spelled: frozenset[str]  # a statement spelling one is kept
    bound: frozenset[str]  # a statement binding one in the module scope is kept
    # a statement holding an `async def` is kept (SES015: a parameter annotated with an imported
    # `Annotated[Session, Depends(...)]` alias spells no word, and may be all the function says)
    async_defs: bool = False


def scope_words(config: Config, codes: Iterable[str]) -> ScopeWords | None:
    """The words whose resolution the rules `codes` depend on: every configured name's last
    component and SQLAlchemy's session words; and the first components of deprecated/new
    module names (an `import core.database` fix binds `core`: a clash matters). None when a
    rule has no trigger here (nothing known about what it resolves)."""
    if not all(code in TRIGGERS for code in codes):
        return None
    words = _Words.of(config)
    new_leaves = {leaf(new) for _, new in config.deprecated}
    first_parts = {name.partition(".")[0] for pair in config.deprecated for name in pair}
    # SES007 resolves the dependency of a parameter whose session it ends: keep what those calls mention
    enders = ENDERS | {"begin"} if any("transaction" in TRIGGERS[code] for code in codes) else frozenset()
    # SES009 resolves the slow calls of functions that may hold a session
    if any("slow_io" in TRIGGERS[code] for code in codes):
        enders = enders | SLOW_MODULE_WORDS | {leaf(n) for n in config.slow_calls}
    # SES008 resolves the routes' dependencies
    if any("route_write" in TRIGGERS[code] for code in codes):
        enders = enders | ROUTE_METHODS
    enders = enders | frozenset(w for code in codes for t in TRIGGERS[code] for w in ASYNC_SCOPE_WORDS.get(t, ()))
    enders = enders | frozenset(w for code in codes for t in TRIGGERS[code] for w in QUERY_SCOPE_WORDS.get(t, ()))
    return ScopeWords(frozenset(words.raw | words.managed | words.session_types | words.deprecated | new_leaves
                                | SESSION_WORDS | {"next"} | enders), frozenset(first_parts),
                      any("sync_in_async" in TRIGGERS[code] for code in codes))


def _ends_owned_transaction(nodes: Nodes, dependencies: _Dependencies | None = None) -> bool:
    """The `transaction` trigger: a `.commit()` / `.rollback()` on a name inside a block with a
    `.begin(...)` item, or on a parameter FastAPI may inject whose dependency may own its transaction
    (see the trigger's description). The enders (few) are matched to the blocks and functions
    around them by line."""
    enders = [(node.lineno, name) for node in nodes.of(ast.Call) if (name := _ender_on(node)) is not None]
    if not enders:
        return False
    for block in nodes.of(ast.With, ast.AsyncWith):
        if not any(is_call_of(item.context_expr, "begin") for item in block.items):
            continue
        first, last = block.body[0].lineno, block.end_lineno
        if any(first <= line <= last for line, _ in enders):
            return True
    for function in nodes.of(ast.FunctionDef, ast.AsyncFunctionDef):
        first, last = function.body[0].lineno, function.end_lineno
        inside = {name for line, name in enders if first <= line <= last}
        if inside and inside & _injectable_parameters(function.args, dependencies, owns=True):
            return True
    return False


def _may_hold_a_session_across(tree: ast.Module, nodes: Nodes, slow: frozenset[str], finder: _Finder | None) -> bool:
    """The `slow_io` trigger: a slow call (resolved through the file's imports) in a function, or a
    top-level statement, that also opens a session, or that writes through a parameter FastAPI may
    fill with a session (`db.add(...)`)."""
    slow_lines = _slow_call_lines(nodes, slow)
    if not slow_lines:
        return False
    openings = finder.opening_lines() if finder is not None else []
    units = nodes.of(ast.FunctionDef, ast.AsyncFunctionDef) + tree.body
    for unit in units:
        inside = [line for line in slow_lines if unit.lineno <= line <= unit.end_lineno]
        if not inside:
            continue
        if any(unit.lineno <= line <= unit.end_lineno for line in openings):
            return True
        if isinstance(unit, (ast.FunctionDef, ast.AsyncFunctionDef)) and _writes_through_parameter(unit, nodes):
            return True
    return False


def _may_write_in_a_route(data: bytes) -> bool:
    """`route_write`'s prefilter: a route decorator, and a write method called on what may be a bare
    name (`_route_writes_without_commit` asks for a parameter): not `self.db.add(...)`, not the
    decorator `@router.delete(...)`. A line that starts with `@` inside brackets is a matrix product,
    not a decorator: a session write's result (None, a Result) is no operand of one."""
    if _ROUTE_DECORATOR.search(data) is None:
        return False
    return any(_may_be_on_a_bare_name(data, dot) for dot in _WRITE_ATTRIBUTE.dots(data))


def _may_be_on_a_bare_name(data: bytes, dot: int) -> bool:
    """Is what the line spells before this `.` maybe a bare name? Not when it is an attribute chain's
    last name (`self.db`) or a decorator's (`@router`). Reads at most 256 bytes back (a minified line
    has thousands of calls): what it cannot see counts as a bare name."""
    window = max(0, dot - 256)
    line_break = max(data.rfind(b"\n", window, dot), data.rfind(b"\r", window, dot))
    # (a line starting before the window: -1, so `start > line_start`)
    line_start = line_break + 1 if line_break >= 0 or window == 0 else -1
    start = max(line_start, window)
    head = data[start:dot].rstrip(b" \t")
    name_start = len(head.rstrip(_NAME_BYTES))
    if (name_start == len(head) or head[name_start:name_start + 1].isdigit()
            or (name_start == 0 and start > line_start)):
        return True  # not a name (a call, a subscript, a literal, a non-ASCII name), or one running out of sight
    before = head[:name_start].rstrip(b" \t")
    if before.endswith(b"."):
        return False
    return not (before.lstrip(b" \t") == b"@" and start == line_start)


def _route_writes_without_commit(nodes: Nodes, dependencies: _Dependencies | None = None,
                                 no_alias: Container[str] = frozenset()) -> bool:
    """The `route_write` trigger (see its description): SES008 looks at writes through the route's own
    parameters FastAPI may inject a session into (`parameter_may_inject`: not `docket:
    dependencies.Docket`) in its body (a decorator such as `@router.delete(...)` is no write), but
    for those whose dependency is known to commit (`_Dependencies`)."""
    for node in nodes.of(ast.FunctionDef, ast.AsyncFunctionDef):
        if any(isinstance(d, ast.Call) and isinstance(d.func, ast.Attribute) and d.func.attr in ROUTE_METHODS
                for d in node.decorator_list):
            parameters = {arg.arg for arg, default in parameters_with_defaults(node.args)
                          if parameter_may_inject(arg, default, no_alias)
                          and (dependencies is None or dependencies.may(default, owns=False, annotation=arg.annotation))}
            calls = [n for statement in node.body for n in nodes.within(statement) if isinstance(n, ast.Call)
                     and isinstance(n.func, ast.Attribute) and isinstance(n.func.value, ast.Name)
                     and n.func.value.id in parameters]
            written = {n.func.value.id for n in calls if _may_write(n)}
            committed = {n.func.value.id for n in calls if n.func.attr in ("commit", "begin")}
            if written - committed:
                return True
    return False


def _may_write(call: ast.Call) -> bool:
    """sessions.writes_through's question: a write method, or `execute` of an `insert` / `update` /
    `delete(...)` call (through `.where(...)` and the like). Its statement is the first argument in
    the source, which `ast` may list among the keywords (`execute(statement=insert(T))`, `f(a=1, *b)`):
    any argument counts here (polar's health check, `execute(select(1))`, wrote nothing)."""
    if call.func.attr in WRITE_METHODS:
        return True
    if call.func.attr != "execute":
        return False
    for statement in (*call.args, *(keyword.value for keyword in call.keywords)):
        while isinstance(statement, ast.Call) and isinstance(statement.func, ast.Attribute):
            statement = statement.func.value
        if isinstance(statement, ast.Call) and isinstance(statement.func, ast.Name) \
                and statement.func.id in DML_CONSTRUCTS:
            return True
    return False


def _slow_call_lines(nodes: Nodes, slow: frozenset[str]) -> list[int]:
    imports = import_bindings(nodes.of(ast.Import, ast.ImportFrom), "", keep_unresolved=True)
    lines = []
    for node in nodes.of(ast.Call):
        parts, func = [], node.func
        while isinstance(func, ast.Attribute):
            parts.append(func.attr)
            func = func.value
        if isinstance(func, ast.Name):
            base = imports.get(func.id, func.id)
            if ".".join([base, *reversed(parts)]) in slow:
                lines.append(node.lineno)  # a slow function, or a client whose methods the rule checks
    return lines


def _writes_through_parameter(function: ast.FunctionDef | ast.AsyncFunctionDef, nodes: Nodes) -> bool:
    args = function.args
    scalars = {a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)
               if last_name(a.annotation) in SCALAR_ANNOTATIONS}
    params = _injectable_parameters(args) - scalars
    return bool(params) and any(
        isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in WRITE_METHODS | {"execute"}
        and isinstance(n.func.value, ast.Name) and n.func.value.id in params for n in nodes.within(function))


def _ender_on(node: ast.AST) -> str | None:
    """`name` for `name.commit()` / `name.rollback()`."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ENDERS \
            and isinstance(node.func.value, ast.Name):
        return node.func.value.id
    return None


def _injectable_parameters(args: ast.arguments, dependencies: _Dependencies | None = None,
                           owns: bool | None = None) -> set[str]:
    """The parameters FastAPI may inject a session into: a call as default (`Depends(get_db)`), an
    `Annotated[...]` or a name that may alias one. With `dependencies` and `owns`, not those whose
    dependency is known (`Depends(dep)`, `dep` imported) and does not own its transaction (`owns`:
    SES007's question) or does commit (not `owns`: SES008's)."""
    positional = [*args.posonlyargs, *args.args]
    defaults = dict(zip([a.arg for a in positional][len(positional) - len(args.defaults):], args.defaults))
    defaults.update({a.arg: d for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None})
    found = set()
    for arg in (*positional, *args.kwonlyargs):
        annotation, default = arg.annotation, defaults.get(arg.arg)
        if isinstance(default, ast.Call) or isinstance(annotation, ast.Subscript) or (
                isinstance(annotation, (ast.Name, ast.Attribute, ast.Constant))
                and last_name(annotation) not in _PLAIN_SESSION_TYPES):
            if dependencies is None or owns is None or dependencies.may(default, owns, arg.annotation):
                found.add(arg.arg)
    return found


class _Dependencies:
    """What the rules know of a parameter's dependency, asked the same way: SES007 reports a commit on
    a session whose dependency owns its transaction (transactions.dependency_owns_transaction), SES008
    a write through one whose dependency never commits (dependency_never_commits). A default
    `Depends(dep)` (FastAPI's `Depends`, `dep` bound once by `from M import A`) is the dependency the
    rules find (fastapi.injected_dependency reads the default first), `M.A`; polar's
    `Depends(get_db_session)` commits and owns no `begin()` block: 10 of its files reached LibCST for
    SES007 or SES008 alone, to report nothing."""

    def __init__(self, imported: FromImports, path: str, config: Config) -> None:
        self.imported, self.path, self.config = imported, path, config

    def may(self, default: ast.expr | None, owns: bool, annotation: ast.expr | None = None) -> bool:
        """May the parameter's dependency (its default's, or its annotation's when that is an alias
        `from M import A` of M's `A = Annotated[T, Depends(dep)]`) own its transaction (`owns`) or
        never commit (not `owns`)?"""
        dotted = self._dependency(default)
        if dotted is None and not isinstance(default, ast.Call) and isinstance(annotation, ast.Name):
            dotted = self._alias_dependency(annotation.id)
        if dotted is None:
            return True
        if dotted is _NO_DEPENDENCY:
            return False  # (fastapi.injected_dependency finds none: the rules look no further)
        from ..analysis.transactions import dependency_never_commits, dependency_owns_transaction

        roots = search_roots(self.path, self.config.root)
        return dependency_owns_transaction(dotted, roots) if owns else dependency_never_commits(dotted, roots)

    def injects_sync(self, default: ast.expr | None) -> bool:
        """Is `default` `Depends(dep)` with `dep` the configured sync dependency (sessions.is_dependency,
        asked first by fastapi._depends_flavor: the parameter holds a sync session, whatever its
        annotation says)? mealie's `session=Depends(generate_session)` in its async dependencies."""
        dotted = self._dependency(default)
        return dotted is not None and any(name_matches(dotted, wanted, self.config.session_module)
                                          for wanted in self.config.dependencies)

    def _alias_dependency(self, name: str) -> str | None:
        """`M.dep` for a name the file binds only by `from M import A`, where M's project source
        assigns `A = Annotated[T, Depends(dep)]` (fastapi.injected_dependency, read the same way);
        _NO_DEPENDENCY when M's source has no such alias with a dependency; None when not known."""
        imported = self.imported.get(name)
        if imported is None:
            return None
        module, original = imported
        source = find_module_source(module, search_roots(self.path, self.config.root))
        if source is None:
            return None
        alias = annotated_aliases(source).get(original)
        return f"{module}.{alias[1]}" if alias is not None and alias[1] else _NO_DEPENDENCY

    def _dependency(self, default: ast.expr | None) -> str | None:
        if not (isinstance(default, ast.Call) and isinstance(default.func, ast.Name) and default.args
                and isinstance(default.args[0], ast.Name)):
            return None
        if self.imported.get(default.func.id) not in _FASTAPI_DEPENDS:
            return None
        found = self.imported.get(default.args[0].id)
        return None if found is None else ".".join(found)


_NO_DEPENDENCY = "<none>"  # (`_Dependencies._alias_dependency`: the alias is known to name no dependency)
_FASTAPI_DEPENDS = frozenset(tuple(dotted.rsplit(".", 1)) for dotted in DEPENDS)  # (what fastapi._is_depends takes)


# Spellings of a word that name another library's class, never SQLAlchemy's (`requests.Session()`
# in an HTTP helper, which the rules do not flag either): they do not count as spelling the word.
FOREIGN_PREFIXES: dict[str, tuple[str, ...]] = {
    "Session": ("requests.", "requests.sessions.", "boto3.", "boto3.session."),
}


@lru_cache(maxsize=64)
def _word_pattern(words: frozenset[str]) -> WordSearch | re.Pattern[bytes] | None:
    """`\\b(?:words)\\b`, a word not counting after one of its FOREIGN_PREFIXES."""
    if not words:
        return None
    ordered = sorted(words, key=lambda w: (-len(w), w))
    if all(w[:1] in WORD_CHARACTERS for w in ordered):
        foreign = {w.encode(): tuple(p.encode() for p in FOREIGN_PREFIXES[w])
                   for w in ordered if w in FOREIGN_PREFIXES}
        return WordSearch(rb"(?:" + "|".join(re.escape(w) for w in ordered).encode() + rb")\b", foreign)
    alternatives = "|".join(  # (a configured name that is no identifier: the plain regex)
        "".join(f"(?<!{re.escape(prefix)})" for prefix in FOREIGN_PREFIXES.get(w, ())) + re.escape(w) for w in ordered)
    return re.compile(rb"\b(?:" + alternatives.encode() + rb")\b")


class _Finder:
    """Collects what the triggers need, walking only the top-level statements that spell a word."""

    def __init__(self, screen: Screen, tree: ast.Module, nodes: Nodes, data: bytes, path: str,
                 no_alias: Container[str] = frozenset(), imported: FromImports | None = None) -> None:
        self.screen = screen
        self.imported = imported  # what the file's from-imports and own defs bind (None: nothing known)
        self.no_alias = no_alias  # bare annotation names that are no `Annotated` alias (`screen_ast.NoSessionNames`)
        self.nodes = nodes
        self.words = screen.words
        self.tree = tree
        self.data = data
        self.path = path
        self.table = ImportTable()
        self.imports = self.table.imports  # local name -> dotted names it may be bound to
        self.local_openers: set[str] = set()  # same-file registries / wrappers (`Session = sessionmaker()`,
        # also attributes: `self.Session = sessionmaker()`)
        self.manual_openers: set[str] = set()  # those of them SES001 follows (`is_raw`'s `manual_only`)
        self.calls: list[ast.Call] = []
        self.functions: list[ast.FunctionDef | ast.AsyncFunctionDef] = []
        self.withs: list[ast.With | ast.AsyncWith] = []
        self.closes = False
        self.spelled: list[ast.stmt] = []  # top-level statements that spell a prefilter word
        self.deprecated_nodes: list[ast.AST] = []  # imports / attributes spelling a deprecated leaf
        self._module_level: frozenset[str] | None | bool = False  # (False: not read yet)
        self._bound_otherwise: frozenset[str] | None | bool = False  # (`may_reach_a_function`; False: not read yet)
        # 1. module-level imports (also under `if TYPE_CHECKING:` / `try:`): names resolve through them
        top_imports = [n for stmt in tree.body for n in
                       ((stmt,) if isinstance(stmt, (ast.Import, ast.ImportFrom)) else
                        nodes.within(stmt) if isinstance(stmt, (ast.If, ast.Try, ast.With)) else ())
                       if isinstance(n, (ast.Import, ast.ImportFrom))]
        for node in top_imports:
            self._add_import(node)
        words = screen.wanted | self.words.raw | self.words.managed | SESSION_WORDS
        self.interesting = set(words)  # local names that may resolve to one of the words
        for local, bound in self.imports.items():
            if any(leaf(b) in words for b in bound):
                self.interesting.add(local)
        # 2. the top-level statements that spell a word or a local alias of one (`SL` for SessionLocal)
        self.spelled = self._spelling(screen.wanted | self.interesting)
        # 2b. function-local imports in them alias names too (atom's smoke_test_agent_journey.py:
        # `from core.database import SessionLocal as CoreSessionLocal` inside main())
        local_imports = [n for stmt in self.spelled for n in nodes.within(stmt)
                         if isinstance(n, (ast.Import, ast.ImportFrom))]
        if local_imports:
            for node in local_imports:
                self._add_import(node)
            aliases = {local for local, bound in self.imports.items() if any(leaf(b) in words for b in bound)}
            if aliases - self.interesting:
                self.interesting |= aliases
                self.spelled = self._spelling(screen.wanted | self.interesting)
        # 3. same-file registries / wrappers: their callers elsewhere in the file count too
        self.find_local_openers()
        if self.local_openers - self.interesting:
            self.interesting |= self.local_openers
            self.spelled = self._spelling(screen.wanted | self.interesting)
        # 4. one walk over those statements collects what the triggers look at
        deprecated = self.words.deprecated
        seen_imports = {id(n) for n in top_imports}
        for node in top_imports:
            self._check_deprecated_import(node)
        for stmt in self.spelled:
            for node in nodes.within(stmt):
                kind = type(node)
                if kind is ast.Call:
                    self.calls.append(node)
                elif kind is ast.Attribute:
                    if node.attr == "close":
                        self.closes = True
                    if node.attr in deprecated:
                        self.deprecated_nodes.append(node)
                elif kind is ast.FunctionDef or kind is ast.AsyncFunctionDef:
                    self.functions.append(node)
                elif kind is ast.With or kind is ast.AsyncWith:
                    self.withs.append(node)
                elif (kind is ast.Import or kind is ast.ImportFrom) and id(node) not in seen_imports:
                    self._add_import(node)  # function-local imports resolve names inside that function
                    self._check_deprecated_import(node)

    def _add_import(self, node: ast.Import | ast.ImportFrom) -> None:
        self.table.add(node)

    def _check_deprecated_import(self, node: ast.Import | ast.ImportFrom) -> None:
        deprecated = self.words.deprecated
        if isinstance(node, ast.Import):
            spelled = any(deprecated.intersection(alias.name.split(".")) for alias in node.names)
        else:
            spelled = bool(deprecated.intersection((node.module or "").split("."))) or \
                any(alias.name in deprecated for alias in node.names)
        if spelled:
            self.deprecated_nodes.append(node)

    def _spelling(self, words: Iterable[str]) -> list[ast.stmt]:
        """Top-level statements (not imports) containing one of `words` (a candidate construct is
        inside such a statement, and so are the functions enclosing it)."""
        pattern = _word_pattern(frozenset(words))
        lines: list[int] = []
        for regex in (pattern, self.screen.builder_pattern):  # a builder's name: its registry is an opener
            line, offset = 1, 0
            for match in regex.finditer(self.data) if regex is not None else ():
                line += self.data.count(b"\n", offset, match.start())
                offset = match.start()
                lines.append(line)
        lines.sort()
        spelled, index = [], 0
        for stmt in self.tree.body:
            first = min([stmt.lineno, *(d.lineno for d in getattr(stmt, "decorator_list", ()))])
            while index < len(lines) and lines[index] < first:
                index += 1
            if index < len(lines) and lines[index] <= stmt.end_lineno \
                    and not isinstance(stmt, (ast.Import, ast.ImportFrom)):
                spelled.append(stmt)
        return spelled

    # -- name resolution (a superset of what FullyQualifiedNameProvider can answer) -----------
    def resolve(self, node: ast.expr) -> set[str]:
        return self.table.resolve(node)

    def _configured(self, node: ast.expr, leaves: frozenset[str]) -> bool:
        """`resolves_to` for bare configured names (last component), a superset for dotted ones."""
        return any(leaf(name) in leaves for name in self.resolve(node))

    def _sqlalchemy(self, node: ast.expr, classes: frozenset[str]) -> bool:
        """May `node` be one of these SQLAlchemy classes? (`requests.Session` is not.)"""
        for name in self.resolve(node):
            if name in classes or (name.startswith(".") and leaf(name) in SESSION_WORDS):
                return True
        return False

    def _may_matter(self, func: ast.expr) -> bool:
        """Quick reject before resolving: the callee's last component (after import aliasing)."""
        if isinstance(func, ast.Attribute):
            return func.attr in self.interesting or func.attr == "begin"
        if isinstance(func, ast.Name):
            return func.id in self.interesting or func.id in self.local_openers
        return isinstance(func, ast.Call)

    def _may_be_generator(self, arg: ast.expr, call: ast.Call) -> bool:
        """May `call`, `next(arg)`, drive a project generator? A name is followed as the rule follows
        it (sessions._generator_call): to the one call its scope binds it to, if that is its only
        binding there; any other binding gives the rule nothing to drive."""
        if isinstance(arg, ast.Name):
            bound = _only_binding(self.tree, call, arg.id)
            if bound is _UNKNOWN:
                return True
            return isinstance(bound, ast.Call) and _may_be_generator(bound, self.may_reach_a_function,
                                                                     self.may_generate)
        return _may_be_generator(arg, self.may_reach_a_function, self.may_generate)

    def may_generate(self, func: ast.Name) -> bool:
        """May calling `func` make a generator of the project that yields a session
        (sessions.project_session_generator)? A configured dependency, or the session module's own,
        may; a function bound only by `from M import A` or by one top-level def here may when the
        module's facts count it among the generators yielding a session (conventions.module_facts_of,
        read as the rule reads them: sessions._module_facts): onyx's tests drive their own stream generators with
        `gen = handle_stream_message_objects(...)` ... `next(gen)`. Any other binding may."""
        if self._configured(func, self.words.raw) or self.imported is None:
            return True
        here = module_name_for(self.path)
        found = self.imported.get(func.id)
        if found is not None:
            module, dotted = found[0], ".".join(found)
        elif self.imported.own_function(func.id):
            module, dotted = here.name, f"{here.name}.{func.id}"
        else:
            return True
        config = self.screen.config
        roots = search_roots(self.path, config.root)
        if here.name in (module, config.session_module):  # this file's facts: from its text, not cached
            from ..analysis.conventions import module_facts_of

            own = (here.name, here.package, self.data)
            return dotted in module_facts_of(module, roots, config.session_module, own)[1]
        return dotted in _generators(module, roots, config.session_module)

    def may_reach_a_function(self, name: str) -> bool:
        """May `name.attr` resolve to a function of a project module (sessions.project_session_generator)?
        Not when the module does not bind `name` at its top (a local's attribute resolves under
        `<locals>`), nor when it binds it there only by assignments (onyx's connector modules:
        `connector = AxeroConnector()` ... `next(connector.poll_source(...))`): an object's attribute
        resolves under this module's name, where no project module is, unless this is a package's
        `__init__.py` (`package.name` may be a submodule). A name bound by an import, a def, a class
        or a `global` statement may."""
        names = self.module_level_names()
        if names is None:
            return True
        if name not in names:
            return False
        if self.path.endswith("__init__.py"):
            return True
        if self._bound_otherwise is False:
            self._bound_otherwise = _bound_otherwise_than_by_assignment(self.tree)
        return self._bound_otherwise is None or name in self._bound_otherwise

    def module_level_names(self) -> frozenset[str] | None:
        """The names the module binds at its top (windows.module_level_names; None: a star import
        may bind any), read on first use."""
        if self._module_level is False:
            found: set[str] = set()
            for stmt in self.tree.body:
                if isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__":
                    continue  # (binds nothing a call could reach)
                names = windows.module_level_names(stmt)
                if names is None:
                    self._module_level = None
                    return None
                found |= names
            self._module_level = frozenset(found)
        return self._module_level

    def is_raw(self, call: ast.Call, manual_only: bool = False) -> bool:
        """May `call` open a session by hand? `manual_only`: as SES001's and SES002's
        `manual_session_call` may take it: not a bare call of a configured dependency (`get_db()`:
        its session only through `next(get_db())`; atom's house context manager `get_db_session`, a
        generator by its reading, sent 264 files with `with get_db_session() as db:` and no finding
        to LibCST), and of the same-file functions only the wrappers (`_manual_wrappers`), not any
        function that opens a session (SES003, SES005 and SES006 may follow those)."""
        func = call.func
        if (isinstance(func, ast.Name) and func.id == "next") or "builtins.next" in self.resolve(func):
            first = _first_argument(call)  # a project generator yielding a session
            return first is not None and self._may_be_generator(first, call)
        if isinstance(func, ast.Call):  # sessionmaker(...)() / scoped_session(...)() / a builder's
            return (self._sqlalchemy(func.func, REGISTRIES) or self._registry_word(func.func)
                    or self.is_raw(func, manual_only))
        local = self.manual_openers if manual_only else self.local_openers
        if isinstance(func, ast.Name) and func.id in local:
            return True
        if isinstance(func, ast.Attribute) and func.attr in local:  # `self.Session()`
            return True
        return (self._configured(func, self.words.factories if manual_only else self.words.raw)
                or self._sqlalchemy(func, SESSION_CLASSES | ASYNC_SESSION_CLASSES))

    def is_opening(self, call: ast.Call) -> bool:
        func = call.func
        if isinstance(func, ast.Attribute) and func.attr == "begin":  # `with SessionLocal.begin() as db:`
            base = func.value
            if isinstance(base, ast.Call):  # `with sessionmaker(bind=e).begin() as db:`
                base = base.func
            if (isinstance(base, ast.Name) and base.id in self.local_openers) \
                    or self._configured(base, self.words.raw) or self._sqlalchemy(base, REGISTRIES):
                return True
        return self.is_raw(call) or self._configured(func, self.words.managed)

    # -- triggers ------------------------------------------------------------------------------
    def may_open(self, call: ast.Call) -> bool:
        """May `call` open a session (by hand or through a context manager)? Only the calls in the
        statements that spell a word can (`_spelling`)."""
        return self._may_matter(call.func) and self.is_opening(call)

    def opening_lines(self) -> list[int]:
        return [c.lineno for c in self.calls if self.may_open(c)]

    def fired(self) -> frozenset[str]:
        """The triggers among `raw`, `managed`, `block` and `deprecated` this file fires."""
        triggers = self.screen.triggers
        fired: set[str] = set()
        if "deprecated" in triggers and self.deprecated():
            fired.add("deprecated")
        if not triggers & {"raw", "raw_closed", "managed", "block"}:
            return frozenset(fired)
        openings = [c for c in self.calls if self.may_open(c)]
        if "raw" in triggers and any(self.is_raw(c, manual_only=True) and not _handed_out(self.tree, c)
                                     for c in openings):
            fired.add("raw")
        if ("raw_closed" in triggers and openings and _CLOSE_WORD.search(self.data) is not None
                and self.closed_names_used_after(self.closable_sessions(openings))):
            fired.add("raw_closed")
        if "managed" in triggers and openings and self.opening_in_injected_function(openings):
            fired.add("managed")
        if "block" in triggers and ((self.closes and self.closes_typed_session()) or
                                    (openings and self.block_names_used_after(openings))):
            fired.add("block")
        return frozenset(fired)

    def deprecated(self) -> bool:
        """SES004's checks on the imports and attributes that spell a deprecated leaf."""
        keys = [old for old, _ in self.screen.config.deprecated]

        def hit(name: str | None, exact: bool = False) -> bool:
            if name is None:
                return True  # a relative import we cannot resolve: let the rule decide
            return any(name == k or (not exact and name.startswith(k + ".")) for k in keys)

        for node in self.deprecated_nodes:
            if isinstance(node, ast.Import):
                if any(hit(alias.name) for alias in node.names):
                    return True
            elif isinstance(node, ast.ImportFrom):
                module = self.absolute(node)
                if any(hit(module if alias.name == "*" else module and f"{module}.{alias.name}")
                       for alias in node.names):
                    return True
            else:  # `dm.get_db_session_for_request` through `import core.database_manager as dm`
                for name in self.resolve(node):
                    if name.startswith(".") or hit(name, exact=True):
                        return True
        return False

    def absolute(self, node: ast.ImportFrom) -> str | None:
        if not node.level:
            return node.module or ""
        package = module_name_for(self.path).package if self.path else ""
        if not package:
            return None  # a relative import outside any package resolves to nothing
        return absolute_module(node.module, node.level, package)

    def find_local_openers(self) -> None:
        """`Session = sessionmaker(...)` and `def new_session(): return SessionLocal()` in this file:
        calling them opens a raw session too (SES001's wrappers and local registries)."""
        builders = set()  # same-file functions that may return a sessionmaker (`make_factory(url)`)
        registries: set[str] = set()  # names (and attributes) bound to a session factory
        for node in self.spelled:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                calls = [n for n in self.nodes.within(node) if isinstance(n, ast.Call)]
                if any(self._may_matter(n.func) and self.is_raw(n) for n in calls):
                    self.local_openers.add(node.name)
                if any(self._sqlalchemy(n.func, REGISTRIES) for n in calls):
                    builders.add(node.name)
        for node in self.spelled:
            # registries bound at module level or in a function (SES001 resolves them through scopes)
            for sub in self.nodes.within(node) if not isinstance(node, (ast.Assign, ast.AnnAssign)) else (node,):
                if isinstance(sub, (ast.Assign, ast.AnnAssign)) and isinstance(sub.value, ast.Call):
                    func = sub.value.func
                    if (self._registry_word(func) or self.is_raw(sub.value)
                            or (isinstance(func, ast.Name) and func.id in builders)):
                        targets = sub.targets if isinstance(sub, ast.Assign) else [sub.target]
                        registries |= {t.id for t in targets if isinstance(t, ast.Name)}
                        # `self.SessionLocal = sessionmaker(...)` in a method: `self.SessionLocal()`
                        registries |= {t.attr for t in targets if isinstance(t, ast.Attribute)}
                        self.local_openers |= registries
        self.manual_openers = set(registries)  # (what `_manual_wrappers` may return a call of)
        self.manual_openers |= self._manual_wrappers()

    def _manual_wrappers(self) -> set[str]:
        """The same-file functions SES001 takes a call of for a manual session (sessions.session_wrappers):
        a top-level, undecorated `def` whose body is one `return <manual session call>` (docstrings
        aside). Another function that opens a session (atom's `_check_governance(...)` around `with
        get_db_session() as db:`) opens its own, where the rule looks at it."""
        found = set()
        for node in self.spelled:
            if isinstance(node, ast.FunctionDef) and not node.decorator_list:
                body = [s for s in node.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant)
                                                    and isinstance(s.value.value, str))]
                if (len(body) == 1 and isinstance(body[0], ast.Return) and isinstance(body[0].value, ast.Call)
                        and self.is_raw(body[0].value, manual_only=True)):
                    found.add(node.name)
        return found

    def _registry_word(self, func: ast.expr) -> bool:
        """May `func` be a sessionmaker, even one a project module re-exports (SES001 follows those)?"""
        # project builders too (polar's `create_async_sessionmaker(engine)`): SES001 reads their source
        return any(leaf(name) in REGISTRY_WORDS or leaf(name).lower().endswith(_BUILDER_SUFFIXES)
                   for name in self.resolve(func))

    def opening_in_injected_function(self, openings: list[ast.Call]) -> bool:
        lines = [c.lineno for c in openings]
        for func in self.functions:
            if may_inject(func, self.no_alias) and any(func.lineno <= line <= func.end_lineno for line in lines):
                return True
        return False

    def closes_typed_session(self) -> bool:
        """`db.close()` on a parameter annotated as a session (`db: Session`, `db: "AsyncSession | None"`)
        of an enclosing function: SES005/SES006 track such sessions too."""
        closes = [c for c in self.calls if isinstance(c.func, ast.Attribute) and c.func.attr == "close"
                  and isinstance(c.func.value, ast.Name)]
        if not closes:
            return False
        types = _word_pattern(self.words.session_types)
        for func in self.functions:
            args = func.args
            sessions = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs + [args.vararg, args.kwarg]
                        if a is not None and a.annotation is not None
                        and (types.search(ast.unparse(a.annotation).encode()) or self._session_type(a.annotation))}
            if sessions and any(c.func.value.id in sessions and func.lineno <= c.lineno <= func.end_lineno
                                for c in closes):
                return True
        return False

    def _session_type(self, annotation: ast.expr) -> bool:
        """May this annotation name a session type under another name (`from sqlalchemy.orm import
        Session as S`; `Annotated[S, ...]`)? sessions.is_session_annotation resolves it the same way."""
        if isinstance(annotation, ast.Subscript):
            inner = annotation.slice
            annotation = inner.elts[0] if isinstance(inner, ast.Tuple) and inner.elts else inner
        return isinstance(annotation, (ast.Name, ast.Attribute)) and (
            self._sqlalchemy(annotation, SESSION_CLASSES | ASYNC_SESSION_CLASSES)
            or self._configured(annotation, self.words.session_types))

    def closable_sessions(self, openings: list[ast.Call]) -> set[str]:
        """The names FlowAnalysis may hold an open session in (interpreter.assign, stmt_With): a bare
        name assigned a raw session (`db = SessionLocal()`, also awaited, in a walrus or one of several
        targets), and the `as` name of a `with` opening (`with get_db_session() as db:`, whose session a
        `db.close()` in the block closes too). Parameters are `closes_typed_session`'s and the fixtures'."""
        every = {id(call) for call in openings}
        raw = {id(call) for call in openings if self.is_raw(call)}
        names: set[str] = set()
        for statement in self.spelled:
            for node in self.nodes.within(statement):
                kind = type(node)
                if kind is ast.Assign or kind is ast.AnnAssign or kind is ast.NamedExpr:
                    if id(_awaited(node.value)) in raw:
                        targets = node.targets if kind is ast.Assign else [node.target]
                        names.update(t.id for t in targets if type(t) is ast.Name)
                elif kind is ast.With or kind is ast.AsyncWith:
                    names.update(item.optional_vars.id for item in node.items
                                 if id(_awaited(item.context_expr)) in every and type(item.optional_vars) is ast.Name)
        return names

    def closed_names_used_after(self, sessions: set[str]) -> bool:
        """A `name.close()` of one of `sessions` after which the name, or a name that may hold an object
        loaded from or added to it, is read in the same function, or anywhere in a loop around the call
        (FlowAnalysis closes the session a bare name holds at that call, interpreter.call; the objects it
        follows are detached then: uses.py). Statements that spell no session word count too: a
        module's code may close its session in one statement and read it in the next. The session
        modules of mealie, dispatch and letta close their sessions last, in a `finally:`."""
        if not sessions:
            return False
        for statement in self._spelling(frozenset({"close"})):
            for call in self.nodes.within(statement):
                if not (type(call) is ast.Call and isinstance(call.func, ast.Attribute) and call.func.attr == "close"
                        and isinstance(call.func.value, ast.Name) and call.func.value.id in sessions):
                    continue
                if _read_after_close(self.tree, call, self.helper_may_load):
                    return True
        return False

    def helper_may_load(self, call: ast.Call) -> bool:
        """May `helper(..., session, ...)` return objects it loaded from the session (flow/loads.py
        `helper_load`: models.project_loader reads the function the callee resolves to)? Known not to
        when the callee is a bare name bound only by `from M import A` or by one top-level def here and
        that function returns no ORM object: polar's tasks keep `count = await _backfill(session, org)`."""
        func = call.func
        if type(func) is not ast.Name or self.imported is None:
            return True
        found = self.imported.get(func.id)
        if found is not None:
            target = ".".join(found)
        elif self.imported.own_function(func.id):
            target = f"{module_name_for(self.path).name}.{func.id}"
        else:
            return True
        from ..analysis.models import project_loader

        return project_loader(target, self.path, self.screen.config.root) is not None

    def block_names_used_after(self, openings: list[ast.Call]) -> bool:
        """A `with <opening> [as x]:` block a name of which (the session, an object loaded or added in
        it) is loaded after the block, or anywhere in an enclosing loop: SES005/SES006."""
        opening_ids = {id(c) for c in openings}
        blocks = [w for w in self.withs if any(id(i.context_expr) in opening_ids for i in w.items)]
        if not blocks:
            return False
        for block in blocks:
            scope, loops = _scope_and_loops(self.tree, block)
            if _used_after(scope, (block.end_lineno, block.end_col_offset), {id(n) for n in ast.walk(block)}, loops,
                           _followed_names(block, opening_ids, self.helper_may_load)):
                return True
        return False


def _may_load_anything(call: ast.Call) -> bool:
    return True


def _fixture_session_used_after_close(tree: ast.Module, closing: list[tuple[ast.AST, set[str], set[str]]],
                                      helper_may_load: Callable[[ast.Call], bool]) -> bool:
    """In one of the functions that may close a fixture session (`closing_fixture_functions`: the
    names it may close one in, the factories it may open one from), is the session, or a name that
    may hold an object loaded from it, read after its `.close()` (`_read_after_close`, as of a raw
    session) or after a `with factory() as s:` / `with factory.begin() as s:` block? atom's tests
    close the session they made from `db_session_factory` last, and read nothing after it."""
    for function, closed, factories in closing:
        for node in ast.walk(function):
            if is_call_of(node, "close") and isinstance(node.func.value, ast.Name) and node.func.value.id in closed:
                if _read_after_close(tree, node, helper_may_load):
                    return True
            elif isinstance(node, (ast.With, ast.AsyncWith)):
                openings = {id(i.context_expr) for i in node.items if factory_opened(i.context_expr, factories)}
                if openings:
                    scope, loops = _scope_and_loops(tree, node)
                    if _used_after(scope, (node.end_lineno, node.end_col_offset), {id(n) for n in ast.walk(node)},
                                   loops, _followed_names(node, openings, helper_may_load)):
                        return True
    return False


def _read_after_close(tree: ast.Module, close: ast.Call, helper_may_load: Callable[[ast.Call], bool]) -> bool:
    """After `name.close()`, is the name, or a name that may hold an object loaded from or added to it,
    read in the same function, or anywhere in a loop around the call?"""
    scope, loops = _scope_and_loops(tree, close)
    followed = _follow(list(ast.walk(scope)), {close.func.value.id}, helper_may_load)
    return _used_after(scope, (close.end_lineno, close.end_col_offset), set(), loops, followed)


def _scope_and_loops(tree: ast.Module, node: ast.AST) -> tuple[ast.AST, list[ast.AST]]:
    """The function (or module) `node` is in, and the loops around it inside that function, innermost first."""
    loops: list[ast.AST] = []
    scope: ast.AST = tree
    for scope in reversed(_ancestors(tree, node)):
        if isinstance(scope, (ast.For, ast.AsyncFor, ast.While)):
            loops.append(scope)
        if isinstance(scope, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            break
    return scope, loops


def _ancestors(tree: ast.Module, target: ast.stmt | ast.expr) -> list[ast.AST]:
    """The nodes enclosing `target`, outermost first: a search that only enters nodes whose line
    range holds the target (a parent map of the whole module cost more than the rest of the screen)."""
    stack: list[tuple[ast.AST, list[ast.AST]]] = [(tree, [])]
    while stack:
        node, path = stack.pop()
        for child in ast.iter_child_nodes(node):
            if child is target:
                return [*path, node]
            first = getattr(child, "lineno", None)
            if first is None or first <= target.lineno <= child.end_lineno:
                stack.append((child, [*path, node]))
    return [tree]


def _followed_names(block: ast.With | ast.AsyncWith, opening_ids: set[int],
                    helper_may_load: Callable[[ast.Call], bool] = lambda call: True) -> set[str]:
    """The names SES005/SES006 may follow out of this session block (flow/interpreter.py,
    flow/loads.py): the `as` name of an opening (the session); a bare name assigned, or a bare loop
    target bound, from what may load from it (`_may_load`) or from another such name (an alias); a name
    handed to its `add` / `add_all`. Not a name assigned from anything else: polar's tasks keep
    `ids = await repository.expire_open_checkouts()` for after the block, and read no object."""
    sessions = {item.optional_vars.id for item in block.items  # (the rules read a bare name only)
                if id(item.context_expr) in opening_ids and isinstance(item.optional_vars, ast.Name)}
    return _follow(list(ast.walk(block)), sessions, helper_may_load) if sessions else set()


def _follow(nodes: list[ast.AST], sessions: set[str],
            helper_may_load: Callable[[ast.Call], bool] = lambda call: True) -> set[str]:
    """`sessions`, and the names among `nodes` that may hold an object of one (`_followed_names`;
    `helper_may_load`: may a call given a session return what it loaded, `_Finder.helper_may_load`)."""
    followed = set(sessions)
    changed = True
    while changed:  # (an alias may come before its source's assignment in a loop)
        size = len(followed)
        for node in nodes:
            kind = type(node)
            if kind is ast.Assign or kind is ast.AnnAssign or kind is ast.NamedExpr:
                if node.value is not None and _may_load(node.value, sessions, followed, helper_may_load):
                    targets = node.targets if kind is ast.Assign else [node.target]
                    followed.update(t.id for t in targets if type(t) is ast.Name)  # (interpreter.assign: a
                    # bare name only; `self._session = session` makes `self` nothing, nor does `a, b = ...`)
            elif kind is ast.For or kind is ast.AsyncFor:
                if type(node.target) is ast.Name and _may_load(node.iter, sessions, followed, helper_may_load):
                    followed.add(node.target.id)  # (interpreter.stmt_For: a bare name only)
            elif (kind is ast.Call and isinstance(node.func, ast.Attribute) and node.func.attr in ("add", "add_all")
                  and isinstance(node.func.value, ast.Name) and node.func.value.id in sessions and node.args):
                followed.update(n.id for n in ast.walk(node.args[0]) if type(n) is ast.Name)
        changed = len(followed) != size
    return followed


def _may_load(value: ast.expr, sessions: set[str], followed: set[str],
              helper_may_load: Callable[[ast.Call], bool] = lambda call: True) -> bool:
    """May `value` hand out an object of the block's session (flow/loads.py's `load`, over-approximated)?
    A followed name; a call chain on the session (`db.query(User).first()`); a call given the session
    as an argument that may be a project helper loading through it (`helper_may_load`); `await` or
    `list(...)` around those."""
    if isinstance(value, ast.Await):
        value = value.value
    if isinstance(value, ast.Name):
        return value.id in followed
    if not isinstance(value, ast.Call):
        return False
    if any(isinstance(arg, ast.Name) and arg.id in sessions for arg in (*value.args, *(k.value for k in value.keywords))) \
            and helper_may_load(value):
        return True
    if isinstance(value.func, ast.Name) and value.func.id == "list" and len(value.args) == 1:
        return _may_load(value.args[0], sessions, followed, helper_may_load)
    node: ast.expr = value
    while isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        node = node.func.value
        if isinstance(node, ast.Await):
            node = node.value
    return isinstance(node, ast.Name) and node.id in sessions


def _used_after(scope: ast.AST, end: tuple[int, int], skipped: set[int], loops: list[ast.AST], inside: set[str]) -> bool:
    """Is one of `inside` (`_follow`) read in `scope` after position `end` (a block's, a close call's),
    or anywhere in an enclosing loop, outside the nodes in `skipped` (the block's own)?"""
    if not inside:
        return False
    for region_index, region in enumerate([scope, *loops]):
        for n in _live_reads(region, inside, end):
            if id(n) not in skipped and (region_index > 0 or (n.lineno, n.col_offset) >= end):
                return True
    return False


def _live_reads(region: ast.AST, names: set[str], after: tuple[int, int]) -> Iterator[ast.Name]:
    """The reads of `names` in `region` (`x`, `del x`, `x += 1`), but those a plain rebinding shadows: one
    that starts after `after` (the block's end) in a statement list holding the read, before it
    (`x = ...`, `with ... as x:` for its body and after it). Every path from the block to such a read
    runs through the rebinding, so the read sees its value, as FlowAnalysis finds: mealie's fixtures
    read `db` again only in a second `with session_context() as session:` that rebinds it."""
    stack: list[tuple[ast.AST, frozenset[str]]] = [(region, frozenset())]
    while stack:
        node, shadowed = stack.pop()
        kind = type(node)
        if kind is ast.Name:
            if node.id in names and node.id not in shadowed and type(node.ctx) is not ast.Store:
                yield node
            continue
        if kind is ast.AugAssign and type(node.target) is ast.Name and node.target.id in names \
                and node.target.id not in shadowed:
            yield node.target  # (a Store that reads first)
        for field in node._fields:
            value = getattr(node, field, None)
            if type(value) is list:
                if value and isinstance(value[0], ast.stmt):
                    live = shadowed | _with_targets(node, after) if field == "body" else shadowed
                    for statement in value:
                        stack.append((statement, live))
                        live = live | _rebinds(statement, after)
                else:
                    stack.extend((item, shadowed) for item in value if isinstance(item, ast.AST))
            elif isinstance(value, ast.AST):
                stack.append((value, shadowed))


def _rebinds(statement: ast.stmt, after: tuple[int, int]) -> frozenset[str]:
    """The names `statement` binds whenever it completes, if it starts after `after`."""
    if (statement.lineno, statement.col_offset) < after:
        return frozenset()
    kind = type(statement)
    if kind is ast.Assign:
        return frozenset(n.id for target in statement.targets for n in _unpacked(target))
    if kind is ast.AnnAssign and statement.value is not None and type(statement.target) is ast.Name:
        return frozenset({statement.target.id})
    return _with_targets(statement, after)


def _with_targets(node: ast.AST, after: tuple[int, int]) -> frozenset[str]:
    """The `as` names of a `with` statement that starts after `after` (bound for its body and after it)."""
    if type(node) not in (ast.With, ast.AsyncWith) or (node.lineno, node.col_offset) < after:
        return frozenset()
    return frozenset(n.id for item in node.items if item.optional_vars is not None for n in _unpacked(item.optional_vars))


def _unpacked(target: ast.expr) -> Iterator[ast.Name]:
    """The names a target binds itself (`a`, `a, (b, *c)`), not those it reads (`a.b`, `a[i]`)."""
    if type(target) is ast.Name:
        yield target
    elif type(target) in (ast.Tuple, ast.List):
        for element in target.elts:
            yield from _unpacked(element.value if type(element) is ast.Starred else element)


# `next(iter(rows))` and friends: never a generator function of the project
_BUILTIN_ITERATORS = frozenset({"iter", "reversed", "zip", "enumerate", "map", "filter", "range", "open"})


_UNKNOWN = object()  # (`_only_binding`: the scope's bindings of the name are not all known here)


def _bound_otherwise_than_by_assignment(tree: ast.Module) -> frozenset[str] | None:
    """The names the module binds at its top by an import, a def or a class, and those a `global`
    statement names anywhere; None when a star import may bind any name."""
    names: set[str] = set()
    todo: list[ast.AST] = list(tree.body)
    while todo:
        node = todo.pop()
        kind = type(node)
        if kind in (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef):
            names.add(node.name)  # (its body is its own scope)
        elif kind is ast.Import or kind is ast.ImportFrom:
            for alias in node.names:
                if alias.name == "*":
                    return None
                names.add(alias.asname or alias.name.partition(".")[0])
        elif kind is not ast.Lambda:
            todo.extend(ast.iter_child_nodes(node))
    names.update(n for node in ast.walk(tree) if type(node) is ast.Global for n in node.names)
    return frozenset(names)


def _awaited(node: ast.expr | None) -> ast.expr | None:
    """`x` for `await x` (interpreter.strip_await), else `node`."""
    return node.value if type(node) is ast.Await else node


def _handed_out(tree: ast.Module, call: ast.Call) -> bool:
    """Does the function `call` is made in hand its session out (sessions.yields_session): `with
    call as db` or `db = call` (also through `x or call`, `call if c else x`), and a `yield db` or
    `yield db, Model` of that function's own? SES001 leaves such a provider alone (a fixture or
    dependency: atom's tests make 300 of them), and SES002 follows no bare name a function binds.
    Only a single target counts: `db = self.db = Session()` is SES002's instance binding."""
    ancestors = _ancestors(tree, call)
    parent = ancestors[-1]
    name = None
    if isinstance(parent, ast.withitem):
        if parent.context_expr is call and isinstance(parent.optional_vars, ast.Name):
            name = parent.optional_vars.id
    else:
        node, index = call, len(ancestors) - 1
        while index > 0 and isinstance(ancestors[index], (ast.BoolOp, ast.IfExp)):
            node, index = ancestors[index], index - 1
        statement = ancestors[index]
        if isinstance(statement, ast.Assign) and statement.value is node and len(statement.targets) == 1:
            target = statement.targets[0]
        elif isinstance(statement, ast.AnnAssign) and statement.value is node:
            target = statement.target
        else:
            target = None
        name = target.id if isinstance(target, ast.Name) else None
    if name is None:
        return False
    function = next((n for n in reversed(ancestors) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))),
                    None)  # (sessions.enclosing_function: through lambdas, not through a class)
    if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return False
    return any(isinstance(node, ast.Yield) and _yields_name(node.value, name) for node in own_code(function))


def _yields_name(value: ast.expr | None, name: str) -> bool:
    """sessions._hands_out: `yield name`, or `name` an element of the tuple it yields."""
    elements = value.elts if isinstance(value, ast.Tuple) else [value]
    return any(isinstance(element, ast.Name) and element.id == name for element in elements)


def _only_binding(tree: ast.Module, call: ast.Call, name: str) -> ast.expr | None | object:
    """What `name` is bound to where `call` reads it, when the function (or, outside any function, the
    module) around `call` binds it exactly once, as LibCST's scope records bindings and
    sessions._generator_call counts them (imports left out): the value of `name = value` /
    `name: T = value`; None for a binding of another kind (a parameter, a loop, `with` or `except`
    target, an augmented assignment, a second binding) or for imports alone; _UNKNOWN when bound
    nowhere in a function's own code (a free name), or bound where this does not count (a
    comprehension target, a walrus, a match pattern, a nested def or class, a `global` / `nonlocal`
    name, an annotation alone), or read in a lambda or a class body. A comprehension that binds no
    such name is looked through: LibCST's comprehension scope hands the name to the scope around it
    (onyx's tests: `[doc for doc in next(doc_batch_generator)]`)."""
    ancestors = _ancestors(tree, call)
    scope: ast.AST = tree
    for index in range(len(ancestors) - 1, -1, -1):
        node = ancestors[index]
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            inside = ancestors[index + 1] if index + 1 < len(ancestors) else call
            if any(inside is statement for statement in node.body):
                scope = node
                break  # (in a decorator, default or annotation, the call is in the scope around the def)
        elif isinstance(node, (ast.Lambda, ast.ClassDef)):
            return _UNKNOWN
        elif isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            if any(isinstance(n, ast.Name) and n.id == name for g in node.generators for n in ast.walk(g.target)):
                return _UNKNOWN
    for node in ast.walk(scope):
        kind = type(node)
        if ((kind in (ast.Global, ast.Nonlocal) and name in node.names)
                or (node is not scope and kind in (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
                    and node.name == name)
                or (kind is ast.NamedExpr and isinstance(node.target, ast.Name) and node.target.id == name)
                or (kind is ast.comprehension and any(isinstance(n, ast.Name) and n.id == name
                                                      for n in ast.walk(node.target)))
                or (kind in (ast.MatchAs, ast.MatchStar) and node.name == name)
                or (kind is ast.MatchMapping and node.rest == name)):
            return _UNKNOWN
    bindings: list[ast.expr | None] = []
    if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)):
        args = scope.args
        bindings = [None for arg in (*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg)
                    if arg is not None and arg.arg == name]
    assigned: set[int] = set()  # the target names of the assignments counted with their value
    imported = False
    for node in own_code(scope):  # (a statement comes before its targets)
        kind = type(node)
        if kind is ast.AnnAssign and isinstance(node.target, ast.Name) and node.target.id == name:
            if node.value is None:
                return _UNKNOWN
            bindings.append(node.value)
            assigned.add(id(node.target))
        elif kind is ast.Assign:
            for target in node.targets:  # (`gen = other = make()`: each target is bound to the value)
                if isinstance(target, ast.Name) and target.id == name:
                    bindings.append(node.value)
                    assigned.add(id(target))
        elif kind is ast.Name and type(node.ctx) is ast.Store and node.id == name and id(node) not in assigned:
            bindings.append(None)  # a loop or `with` target, an augmented assignment, in a tuple
        elif kind is ast.ExceptHandler and node.name == name:
            bindings.append(None)
        elif kind in (ast.Import, ast.ImportFrom) and any(
                (alias.asname or alias.name.partition(".")[0]) == name for alias in node.names):
            imported = True  # (an ImportAssignment: the rule follows the other bindings)
    if not bindings:
        return None if imported else _UNKNOWN  # a free name: the rule looks in the scopes around
    return bindings[0] if len(bindings) == 1 else None


def _generators(module: str, roots: tuple[Path, ...], session_module: str) -> frozenset[str]:
    """The generators yielding a session that the project module `module` defines (cached until it or
    the session module changes)."""
    stamp = []
    for name in (module, session_module):
        path = find_module_source(name, roots) if name else None
        try:
            stamp.append(path.stat().st_mtime_ns if path is not None else None)
        except OSError:
            stamp.append(None)
    return _generators_at(module, roots, session_module, tuple(stamp))


@lru_cache(maxsize=256)
def _generators_at(module: str, roots: tuple[Path, ...], session_module: str, stamp: tuple) -> frozenset[str]:
    from ..analysis.conventions import module_facts_of

    return module_facts_of(module, roots, session_module)[1]


def _first_argument(call: ast.Call) -> ast.expr | None:
    """The value of `call`'s first argument as LibCST lists them, keywords and `*` / `**` included:
    what sessions.raw_session_call follows out of `next(...)`."""
    values = [a.value if isinstance(a, ast.Starred) else a for a in call.args] + [k.value for k in call.keywords]
    return min(values, key=lambda v: (v.lineno, v.col_offset)) if values else None


def _may_be_generator(arg: ast.expr, may_reach_a_function: Callable[[str], bool],
                      may_generate: Callable[[ast.Name], bool] = lambda func: True) -> bool:
    """May `next(arg)` drive a project generator (`next(get_db())`, `gen = get_db(); next(gen)`)?
    Not a generator expression, a literal or a builtin iterator: `next(x for x in xs)`; not a method
    of an object the function holds (`next(temp_dir.iterdir())`): sessions.project_session_generator
    resolves the callee, and an object's attribute never resolves to a function of a project module
    (`may_reach_a_function`: may `name.attr` do so? `_Finder.may_reach_a_function`); `may_generate`:
    may a call of this bare name make one (`_Finder.may_generate`)?"""
    if isinstance(arg, ast.Call):
        func = arg.func
        if isinstance(func, ast.Name):
            return func.id not in _BUILTIN_ITERATORS and may_generate(func)
        root = func
        while isinstance(root, ast.Attribute):
            root = root.value
        if isinstance(root, ast.Name):
            return may_reach_a_function(root.id)
        return True
    return isinstance(arg, ast.Name)  # (sessions._generator_call follows a call or a name, nothing else)
