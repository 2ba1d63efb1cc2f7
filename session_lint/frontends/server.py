"""`session-lint --server`: a language server (LSP over stdio) for editors.

The same engine and configuration as the CLI, on the unsaved text of each open document:

- diagnostics on open, change (full or incremental sync; debounced), save; cleared on close;
- code actions: per finding its fix as a `quickfix` (the text `session-lint --fix` would make of the
  file were it the only fix; unsafe ones titled "(unsafe)" and never preferred), a "suppress with
  `# noqa: SESnnn`" action, and `source.fixAll.session-lint` (what `session-lint --fix` makes of the
  whole text: safe fixes only).

Its dependencies (pygls, lsprotocol) are the `server` extra: this module imports them only in
`create_server`, so the plain install never needs them (`missing_dependency` says what is missing).
The text handling (documents, positions in the negotiated encoding, edits, noqa comments) is plain
Python below; the engine runs on one worker thread, so the event loop keeps answering while a large
file is linted.
"""

from __future__ import annotations

import ast
import asyncio
import bisect
import difflib
import logging
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from .. import __version__
from ..api import Applicability, Config, ConfigError, Diagnostic, FixError, fix_source
from ..diagnostics import SYNTAX_ERROR_CODE, syntax_error
from ..engine.linter import LINE_END_RE, NOQA_RE, LintRun, noqa_suppresses, run_rules, single_fix
from ..analysis.project import forget_layout
from ..engine.runner import screen_for
from ..rules import rule_by_code

SOURCE = "session-lint"
FIX_ALL_KIND = "source.fixAll.session-lint"
DEBOUNCE_SECONDS = 0.25  # after the last change of a document, before it is linted
INSTALL_HINT = "pip install 'session-lint[server]' (from a checkout: pip install -e '.[server]')"
PYTHON_SUFFIXES = (".py", ".pyi")

logger = logging.getLogger("session_lint.server")


def missing_dependency() -> str | None:
    """The name of the first `server` extra package that cannot be imported, or None."""
    for name in ("lsprotocol", "pygls"):
        try:
            __import__(name)
        except ImportError:
            return name
    return None


# -- text: documents and positions -------------------------------------------------------------

_NEWLINE = LINE_END_RE  # LSP's line ends (and LibCST's, and the noqa check's); not str.splitlines's


def units(text: str, encoding: str) -> int:
    """The length of `text` in the negotiated position encoding's code units."""
    if encoding == "utf-32":
        return len(text)
    if text.isascii():
        return len(text)
    if encoding == "utf-8":
        return len(text.encode("utf-8", "surrogatepass"))
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


@dataclass
class Document:
    uri: str
    text: str
    version: int | None = None
    language_id: str = "python"
    _starts: list[int] | None = field(default=None, repr=False)

    @property
    def starts(self) -> list[int]:
        """The offset of each line's start (the last line may be empty)."""
        if self._starts is None:
            self._starts = [0, *(m.end() for m in _NEWLINE.finditer(self.text))]
        return self._starts

    def set_text(self, text: str) -> None:
        self.text, self._starts = text, None

    def line(self, index: int) -> str:
        """Line `index` (0-based) without its line end; "" past the end."""
        starts = self.starts
        if not 0 <= index < len(starts):
            return ""
        end = starts[index + 1] if index + 1 < len(starts) else len(self.text)
        return self.text[starts[index]:end].rstrip("\r\n")

    def offset(self, line: int, character: int, encoding: str) -> int:
        """The offset of an LSP position (clamped to the document and to its line's end)."""
        starts = self.starts
        if line < 0:
            return 0
        if line >= len(starts):
            return len(self.text)
        start, content = starts[line], self.line(line)
        if character <= 0:
            return start
        if encoding == "utf-32" or content.isascii():
            return start + min(character, len(content))
        count = 0
        for i, char in enumerate(content):
            if count >= character:
                return start + i
            count += units(char, encoding)
        return start + len(content)

    def position(self, offset: int, encoding: str) -> tuple[int, int]:
        """The LSP (line, character) of an offset."""
        offset = max(0, min(offset, len(self.text)))
        line = bisect.bisect_right(self.starts, offset) - 1
        return line, units(self.text[self.starts[line]:offset], encoding)

    def apply_change(self, change_range, text: str, encoding: str) -> None:
        """Apply a `didChange` content change: the whole text, or `text` over a range."""
        if change_range is None:
            self.set_text(text)
            return
        start = self.offset(change_range.start.line, change_range.start.character, encoding)
        end = self.offset(change_range.end.line, change_range.end.character, encoding)
        start, end = min(start, end), max(start, end)
        self.set_text(self.text[:start] + text + self.text[end:])


def line_edits(old: str, new: str) -> list[tuple[int, int, str]]:
    """(start, end, replacement) edits of `old`, by whole lines, that make `new` (ranges refer to
    `old` and do not overlap, as LSP's TextEdits of one document)."""
    if old == new:
        return []
    old_lines = _lines(old)
    new_lines = _lines(new)
    head = 0
    while head < min(len(old_lines), len(new_lines)) and old_lines[head] == new_lines[head]:
        head += 1
    tail = 0
    while (tail < min(len(old_lines), len(new_lines)) - head
           and old_lines[-1 - tail] == new_lines[-1 - tail]):
        tail += 1
    old_mid = old_lines[head:len(old_lines) - tail]
    new_mid = new_lines[head:len(new_lines) - tail]
    offsets = [sum(map(len, old_lines[:head]))]
    for text in old_mid:
        offsets.append(offsets[-1] + len(text))
    edits = []
    matcher = difflib.SequenceMatcher(a=old_mid, b=new_mid, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            edits.append((offsets[i1], offsets[i2], "".join(new_mid[j1:j2])))
    return edits


def _lines(text: str) -> list[str]:
    """The lines of `text`, each with its line end (LSP's, not str.splitlines's)."""
    starts = [0, *(m.end() for m in _NEWLINE.finditer(text))]
    ends = [*starts[1:], len(text)]
    return [text[s:e] for s, e in zip(starts, ends) if e > s]


def noqa_edit(document: Document, line: int, code: str) -> tuple[int, int, str] | None:
    """The edit that suppresses `code` on `line` (0-based) with a `# noqa: CODE` comment, merged
    into the line's `# noqa: ...` when it has one. None when no comment can do it without changing
    the program (the line ends inside a string, or after a backslash) or the engine would not read it."""
    content = document.line(line)
    start = document.starts[line] if line < len(document.starts) else len(document.text)
    match = NOQA_RE.search(content)
    if match and match.group("codes"):
        at = start + match.end("codes")
        edit = (at, at, f", {code}")
    elif match:
        return None  # a bare noqa comment suppresses every code already
    else:
        stripped = len(content.rstrip())
        edit = (start + stripped, start + len(content), f"  # noqa: {code}" if stripped else f"# noqa: {code}")
    new_text = document.text[:edit[0]] + edit[2] + document.text[edit[1]:]
    if not noqa_suppresses(_NEWLINE.split(new_text)[line] if line < len(document.starts) else "", code):
        return None  # (a noqa comment inside a string literal on the line comes first)
    if _program(document.text) is None or _program(document.text) != _program(new_text):
        return None  # a comment changes no program: this one was not only a comment
    return edit


_PROGRAMS: dict[str, str | None] = {}


def _program(text: str) -> str | None:
    """The AST of `text` (comments are not in it), or None when CPython cannot parse it."""
    if text not in _PROGRAMS:
        if len(_PROGRAMS) > 8:
            _PROGRAMS.clear()
        try:
            _PROGRAMS[text] = ast.dump(ast.parse(text))
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            _PROGRAMS[text] = None
    return _PROGRAMS[text]


def uri_to_path(uri: str) -> Path | None:
    """The file of a `file:` URI; None for any other URI (`untitled:`, a malformed one)."""
    try:
        parts = urlsplit(uri)
        if parts.scheme != "file" or not parts.path:
            return None
        path = url2pathname(parts.path)
        if parts.netloc and parts.netloc != "localhost":
            path = f"//{parts.netloc}{path}"  # a UNC path
        if "\x00" in path:
            return None
        return Path(path)
    except (ValueError, TypeError, OSError):
        return None


# -- configuration -----------------------------------------------------------------------------

class Configs:
    """The configuration of each document's directory, as the CLI finds it (the nearest
    pyproject.toml with a [tool.session-lint] table), cached per directory and read again when a
    pyproject.toml on the way up changes."""

    def __init__(self) -> None:
        self.cache: dict[Path, tuple[tuple, Config]] = {}

    def for_path(self, path: Path) -> Config:
        directory = path.parent
        stamp = _stamp(directory)
        hit = self.cache.get(directory)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        config = Config.discover(path)
        if len(self.cache) > 256:
            self.cache.clear()
        self.cache[directory] = (stamp, config)
        return config


def _stamp(directory: Path) -> tuple:
    try:
        directory = directory.resolve()
    except (OSError, RuntimeError):
        pass
    stamp = []
    for candidate in (directory, *directory.parents):
        try:
            stamp.append((candidate, (candidate / "pyproject.toml").stat().st_mtime_ns))
        except (OSError, ValueError):
            continue
    return tuple(stamp)


# -- the engine side (one worker thread) -------------------------------------------------------

@dataclass
class Linted:
    """A document's text as linted: the run (its fixes refer to its nodes) and its configuration."""

    text: str
    path: str
    config: Config | None
    run: LintRun | None
    error: str | None = None  # a configuration error: nothing was linted
    fixes: dict = field(default_factory=dict, repr=False)  # the fixed texts computed so far


class Engine:
    def __init__(self) -> None:
        self.configs = Configs()

    def lint(self, text: str, path: Path | None, root: Path) -> Linted:
        lint_path = path if path is not None else root / "untitled.py"
        forget_layout()  # (files may have come and gone since the last request)
        try:
            config = self.configs.for_path(lint_path)
        except ConfigError as exc:
            return Linted(text, str(lint_path), None, None, str(exc))
        if path is not None and config.is_excluded(path):
            return Linted(text, str(lint_path), config, None)
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError as exc:  # a lone surrogate: no file can hold it, LibCST refuses it
            lines = LINE_END_RE.split(text[:exc.start])
            error = syntax_error(str(lint_path), f"cannot encode as UTF-8: {exc.reason}", len(lines),
                                 len(lines[-1]) + 1)
            return Linted(text, str(lint_path), config, LintRun(text, None, [error]))
        screened = screen_for(config, str(lint_path)).verdict(data, str(lint_path))
        if not screened.may_report:
            # as in the CLI: no selected rule can report anything here, so it is not even parsed
            # (a half-typed line elsewhere in the file is left to the other linters' E999)
            return Linted(text, str(lint_path), config, LintRun(text, None, []))
        return Linted(text, str(lint_path), config, run_rules(text, str(lint_path), config, screened))

    @staticmethod
    def single_fix(linted: Linted, diagnostic: Diagnostic) -> str | None:
        """The text with this diagnostic's fix alone applied (None: `--fix` would refuse it)."""
        key = id(diagnostic)  # (the run, and so its diagnostics, live as long as `linted`)
        if key not in linted.fixes:
            linted.fixes[key] = single_fix(linted.run, diagnostic, linted.config)
        return linted.fixes[key]

    @staticmethod
    def fix_all(linted: Linted) -> str | None:
        """What `session-lint --fix` makes of the text (None: nothing)."""
        if "all" not in linted.fixes:
            fixed = None
            if linted.run is not None and any(d.is_fixable(False) for d in linted.run.diagnostics):
                try:
                    fixed = fix_source(linted.text, linted.path, linted.config, unsafe_fixes=False).source
                except FixError:
                    pass
            linted.fixes["all"] = fixed if fixed != linted.text else None
        return linted.fixes["all"]


# -- the server --------------------------------------------------------------------------------

def create_server():
    """The pygls LanguageServer (pygls and lsprotocol are imported here, not by the module)."""
    from lsprotocol import types as lsp
    from pygls.lsp.server import LanguageServer
    from pygls.protocol import LanguageServerProtocol
    from pygls.protocol.language_server import lsp_method

    class Protocol(LanguageServerProtocol):
        """Documents live in `State.documents` (LSP's line ends, the negotiated encoding), not in
        pygls's workspace: pygls's own copy would split lines at form feeds and U+2028 too."""

        def _user(self, method: str, params):
            if (handler := self.fm.features.get(method)) is not None:
                yield handler, (params,), None

        @lsp_method(lsp.TEXT_DOCUMENT_DID_OPEN)
        def lsp_text_document__did_open(self, params):
            yield from self._user(lsp.TEXT_DOCUMENT_DID_OPEN, params)

        @lsp_method(lsp.TEXT_DOCUMENT_DID_CHANGE)
        def lsp_text_document__did_change(self, params):
            yield from self._user(lsp.TEXT_DOCUMENT_DID_CHANGE, params)

        @lsp_method(lsp.TEXT_DOCUMENT_DID_CLOSE)
        def lsp_text_document__did_close(self, params):
            yield from self._user(lsp.TEXT_DOCUMENT_DID_CLOSE, params)

    server = LanguageServer("session-lint", __version__, protocol_cls=Protocol,
                            text_document_sync_kind=lsp.TextDocumentSyncKind.Incremental)
    state = State(server, lsp)

    @server.feature(lsp.INITIALIZE)
    def initialize(params: lsp.InitializeParams) -> None:
        state.initialize(params)

    @server.feature(lsp.INITIALIZED)
    async def initialized(params: lsp.InitializedParams) -> None:
        await state.watch_config_files()

    @server.feature(lsp.SHUTDOWN)
    def shutdown(params) -> None:
        state.shut_down = True
        for task in state.pending.values():
            task.cancel()

    @server.feature(lsp.EXIT)
    def exit_(params) -> None:
        state.exit()

    @server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
    def did_open(params: lsp.DidOpenTextDocumentParams) -> None:
        item = params.text_document
        state.documents[item.uri] = Document(item.uri, item.text, item.version, item.language_id or "")
        state.schedule(item.uri, 0)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(params: lsp.DidChangeTextDocumentParams) -> None:
        document = state.documents.get(params.text_document.uri)
        if document is None:
            logger.warning("didChange for a document that is not open: %s", params.text_document.uri)
            return
        for change in params.content_changes:
            document.apply_change(getattr(change, "range", None), change.text, state.encoding)
        document.version = params.text_document.version
        state.schedule(document.uri, DEBOUNCE_SECONDS)

    @server.feature(lsp.TEXT_DOCUMENT_DID_SAVE, lsp.SaveOptions(include_text=False))
    def did_save(params: lsp.DidSaveTextDocumentParams) -> None:
        if params.text_document.uri in state.documents:
            state.schedule(params.text_document.uri, 0, fresh=True)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(params: lsp.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        state.documents.pop(uri, None)
        state.linted.pop(uri, None)
        if (task := state.pending.pop(uri, None)) is not None:
            task.cancel()
        server.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri=uri, diagnostics=[]))

    @server.feature(lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def did_change_watched_files(params: lsp.DidChangeWatchedFilesParams) -> None:
        for uri in state.documents:  # a pyproject.toml changed: every open document again
            state.schedule(uri, 0, fresh=True)

    @server.feature(lsp.TEXT_DOCUMENT_CODE_ACTION, lsp.CodeActionOptions(
        code_action_kinds=[lsp.CodeActionKind.QuickFix, lsp.CodeActionKind.SourceFixAll, FIX_ALL_KIND]))
    async def code_action(params: lsp.CodeActionParams):
        try:
            return await state.code_actions(params)
        except Exception:  # an action the engine cannot compute is left out, never an error response
            logger.exception("code actions for %s", params.text_document.uri)
            return []

    return server


class State:
    """The server's documents, lint results and pending (debounced) lints."""

    def __init__(self, server, lsp) -> None:
        self.server, self.lsp = server, lsp
        self.documents: dict[str, Document] = {}
        self.linted: dict[str, Linted] = {}
        self.pending: dict[str, asyncio.Task] = {}
        self.engine = Engine()
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="session-lint-engine")
        self.encoding = "utf-16"
        self.root = Path.cwd()
        self.shut_down = False
        self.reported_errors: set[str] = set()
        self.capabilities = None

    # -- lifecycle -----------------------------------------------------------------------------
    def initialize(self, params) -> None:
        self.capabilities = params.capabilities
        encoding = self.server.workspace.position_encoding
        self.encoding = str(getattr(encoding, "value", encoding) or "utf-16")
        # (for documents without a file: `untitled:` buffers; no folder at all is fine)
        folders = [f.uri for f in params.workspace_folders or []]
        for uri in [*folders, params.root_uri or ""]:
            path = uri_to_path(uri) if uri else None
            try:
                if path is not None and path.is_dir():
                    self.root = path
                    break
            except (OSError, ValueError):
                continue

    async def watch_config_files(self) -> None:
        """Ask the client to tell us when a pyproject.toml changes (when it can)."""
        lsp = self.lsp
        watched = getattr(getattr(self.capabilities, "workspace", None), "did_change_watched_files", None)
        if not getattr(watched, "dynamic_registration", False):
            return
        options = lsp.DidChangeWatchedFilesRegistrationOptions(
            watchers=[lsp.FileSystemWatcher(glob_pattern="**/pyproject.toml")])
        try:
            await self.server.client_register_capability_async(lsp.RegistrationParams(registrations=[
                lsp.Registration(id="session-lint-pyproject", method=lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES,
                                 register_options=options)]))
        except Exception as exc:  # the client said no: configuration is read again on each lint anyway
            logger.info("file watching not registered: %s", exc)

    def exit(self) -> None:
        """`exit`: 0 after `shutdown`, 1 without (LSP), at once: a lint still running on the engine
        thread is not waited for."""
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0 if self.shut_down else 1)

    # -- linting --------------------------------------------------------------------------------
    def schedule(self, uri: str, delay: float, fresh: bool = False) -> None:
        """Lint `uri` after `delay` seconds (a newer call replaces a pending one); `fresh`: even
        when its text was linted already (its configuration may have changed)."""
        if fresh:
            self.linted.pop(uri, None)
        if (task := self.pending.pop(uri, None)) is not None:
            task.cancel()
        if not self.shut_down:
            self.pending[uri] = asyncio.ensure_future(self._lint_later(uri, delay))

    async def _lint_later(self, uri: str, delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        document = self.documents.get(uri)
        if document is None or not self._lints(document):
            return
        text, version = document.text, document.version
        try:
            linted = await self.lint(document)
        except Exception:  # an engine bug: say so in the log, keep serving
            logger.exception("linting %s", uri)
            return
        if self.documents.get(uri) is not document or document.text != text:
            return  # changed meanwhile: the lint scheduled by that change publishes
        if self.pending.get(uri) is asyncio.current_task():
            del self.pending[uri]
        if linted.error and linted.error not in self.reported_errors:
            self.reported_errors.add(linted.error)
            self.server.window_show_message(self.lsp.ShowMessageParams(
                type=self.lsp.MessageType.Error, message=f"session-lint: {linted.error}"))
        diagnostics = [self.diagnostic(document, d) for d in (linted.run.diagnostics if linted.run else [])]
        self.server.text_document_publish_diagnostics(self.lsp.PublishDiagnosticsParams(
            uri=uri, diagnostics=diagnostics, version=version))

    def _lints(self, document: Document) -> bool:
        """Python documents only (by language or by file name), as the CLI lints .py/.pyi files."""
        if document.language_id in ("python", ""):
            return True
        path = uri_to_path(document.uri)
        return path is not None and path.suffix in PYTHON_SUFFIXES

    async def lint(self, document: Document) -> Linted:
        """The document's current text linted (the last result when the text is the same)."""
        text = document.text
        linted = self.linted.get(document.uri)
        if linted is not None and linted.text == text:
            return linted
        linted = await self.on_engine(self.engine.lint, text, uri_to_path(document.uri), self.root)
        if self.documents.get(document.uri) is document:
            self.linted[document.uri] = linted
        return linted

    async def on_engine(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    # -- LSP shapes -------------------------------------------------------------------------------
    def range(self, document: Document, start: int, end: int):
        lsp = self.lsp
        (l1, c1), (l2, c2) = document.position(start, self.encoding), document.position(end, self.encoding)
        return lsp.Range(start=lsp.Position(line=l1, character=c1), end=lsp.Position(line=l2, character=c2))

    def diagnostic_offsets(self, document: Document, d: Diagnostic) -> tuple[int, int]:
        """Offsets of a diagnostic's 1-based (line, code point column) range in the document."""
        def offset(line: int, column: int) -> int:
            index = max(line - 1, 0)
            if index >= len(document.starts):
                return len(document.text)
            return document.starts[index] + min(max(column - 1, 0), len(document.line(index)))
        start = offset(d.line, d.column)
        return start, max(start, offset(d.end_line, d.end_column))

    def diagnostic(self, document: Document, d: Diagnostic):
        lsp = self.lsp
        rule = rule_by_code(d.code)
        return lsp.Diagnostic(
            range=self.range(document, *self.diagnostic_offsets(document, d)),
            message=d.message,
            severity=lsp.DiagnosticSeverity.Warning,
            code=d.code,
            code_description=lsp.CodeDescription(href=rule.url()) if rule is not None else None,
            source=SOURCE,
        )

    def workspace_edit(self, document: Document, edits: list[tuple[int, int, str]]):
        lsp = self.lsp
        text_edits = [lsp.TextEdit(range=self.range(document, s, e), new_text=t) for s, e, t in edits]
        workspace = getattr(self.capabilities, "workspace", None)
        if getattr(getattr(workspace, "workspace_edit", None), "document_changes", False):
            return lsp.WorkspaceEdit(document_changes=[lsp.TextDocumentEdit(
                text_document=lsp.OptionalVersionedTextDocumentIdentifier(uri=document.uri, version=document.version),
                edits=text_edits)])
        return lsp.WorkspaceEdit(changes={document.uri: text_edits})

    # -- code actions -----------------------------------------------------------------------------
    async def code_actions(self, params) -> list:
        lsp = self.lsp
        document = self.documents.get(params.text_document.uri)
        if document is None or not self._lints(document):
            return []
        snapshot = Document(document.uri, document.text, document.version)  # edits refer to this text
        linted = await self.lint(document)
        if linted.run is None or linted.text != snapshot.text:
            return []
        only = params.context.only

        def wanted(kind: str) -> bool:
            return only is None or any(kind == k or kind.startswith(f"{k}.") for k in only)

        actions = []
        if wanted(lsp.CodeActionKind.QuickFix):
            requested = self.requested_range(snapshot, params.range)
            context = {(d.code, _range_key(d.range)) for d in params.context.diagnostics
                       if d.source == SOURCE}
            for d in linted.run.diagnostics:
                if d.code == SYNTAX_ERROR_CODE:
                    continue
                start, end = self.diagnostic_offsets(snapshot, d)
                shown = self.diagnostic(snapshot, d)
                if not ((d.code, _range_key(shown.range)) in context or _touches(start, end, *requested)):
                    continue
                actions.extend(await self.quick_fixes(snapshot, linted, d, shown))
        if wanted(FIX_ALL_KIND):
            fixed = await self.on_engine(Engine.fix_all, linted)
            if fixed is not None:
                actions.append(lsp.CodeAction(
                    title="session-lint: fix all safe fixes", kind=FIX_ALL_KIND,
                    edit=self.workspace_edit(snapshot, line_edits(snapshot.text, fixed))))
        return actions

    async def quick_fixes(self, document: Document, linted: Linted, d: Diagnostic, shown) -> list:
        lsp = self.lsp
        actions = []
        if d.fix is not None:
            fixed = await self.on_engine(Engine.single_fix, linted, d)
            if fixed is not None:
                unsafe = d.fix.applicability is Applicability.UNSAFE
                actions.append(lsp.CodeAction(
                    title=f"{d.code}: {d.fix.message}" + (" (unsafe)" if unsafe else ""),
                    kind=lsp.CodeActionKind.QuickFix, diagnostics=[shown], is_preferred=not unsafe,
                    edit=self.workspace_edit(document, line_edits(document.text, fixed))))
        edit = noqa_edit(document, d.line - 1, d.code)
        if edit is not None:
            actions.append(lsp.CodeAction(
                title=f"Suppress {d.code} with `# noqa: {d.code}`", kind=lsp.CodeActionKind.QuickFix,
                diagnostics=[shown], edit=self.workspace_edit(document, [edit])))
        return actions

    def requested_range(self, document: Document, lsp_range) -> tuple[int, int]:
        start = document.offset(lsp_range.start.line, lsp_range.start.character, self.encoding)
        end = document.offset(lsp_range.end.line, lsp_range.end.character, self.encoding)
        return min(start, end), max(start, end)


def _range_key(lsp_range) -> tuple:
    return (lsp_range.start.line, lsp_range.start.character, lsp_range.end.line, lsp_range.end.character)


def _touches(start: int, end: int, req_start: int, req_end: int) -> bool:
    """Does the diagnostic [start, end] meet the requested range (a cursor is an empty range)?"""
    return start <= req_end and req_start <= end


def main() -> int:
    """Serve LSP over stdin/stdout until `exit` (or until the client closes stdin)."""
    server = create_server()
    server.start_io()
    # stdin closed without `exit`: what LSP says `exit` would have returned
    sys.stdout.flush()
    os._exit(0 if getattr(server.protocol, "_shutdown", False) else 1)
