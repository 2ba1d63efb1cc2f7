"""`session-lint --server`: an editor session scripted over stdio against the real server process
(pytest-lsp), checked against the CLI on the same text.

Every wait is for a message the server must send (with a generous timeout for a loaded machine),
never a sleep standing in for an assertion.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pygls")
pytest_lsp = pytest.importorskip("pytest_lsp")

from lsprotocol import types as lsp  # noqa: E402
from pygls.protocol import default_converter  # noqa: E402
from pytest_lsp import ClientServerConfig, LanguageClient  # noqa: E402
from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, register_lsp_features  # noqa: E402

from session_lint.rules import rule_by_code  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PROJECT = Path(__file__).resolve().parent / "project"
TIMEOUT = 120  # seconds for one expected message: the machine may be busy
SERVER = [sys.executable, "-m", "session_lint", "--server"]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
PUBLISH = lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS

DEPRECATED = "from core.database_manager import get_db_session\n"
CLEAN = "import os\n\n\ndef job():\n    return os.getcwd()\n"
# SES001 (unsafe fix: wrap the rest of the block in the context manager) and nothing else
MANUAL = ("from core.database import SessionLocal\n\n\ndef job():\n    db = SessionLocal()\n"
          "    db.add(1)\n    db.commit()\n")


def _client() -> LanguageClient:
    """pytest-lsp's client, also keeping every publishDiagnostics in order (`client.published`)."""
    client = LanguageClient(converter_factory=default_converter)

    def publish(ls: LanguageClient, params: lsp.PublishDiagnosticsParams) -> None:
        ls.diagnostics[params.uri] = params.diagnostics
        ls.published.append(params)

    def register(ls: LanguageClient, params: lsp.RegistrationParams) -> None:
        ls.registrations.extend(params.registrations)

    client.published, client.registrations = [], []
    register_lsp_features(client, {**DEFAULT_CLIENT_FEATURES, PUBLISH: publish,
                                   lsp.CLIENT_REGISTER_CAPABILITY: register})
    return client


aio = pytest.mark.asyncio(loop_scope="module")
CONFIG = ClientServerConfig(server_command=SERVER, server_env=ENV, client_factory=_client)


@pytest_lsp.fixture(config=CONFIG, scope="module")  # one server for the module's editor sessions
async def client(lsp_client: LanguageClient):
    # No workspace folder, no root: configuration comes from each document's own pyproject.toml.
    await lsp_client.initialize_session(lsp.InitializeParams(
        capabilities=pytest_lsp.client_capabilities("visual-studio-code")))
    yield
    await lsp_client.shutdown_session()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of tests/project (a pyproject.toml with [tool.session-lint], core/database.py)."""
    root = tmp_path / "proj"
    shutil.copytree(PROJECT, root)
    return root


# -- helpers ----------------------------------------------------------------------------------

async def published(client: LanguageClient, uri: str, version: int | None = None) -> list[lsp.Diagnostic]:
    """The diagnostics the server publishes for `uri` (at `version`, when given): the first such
    publication, received already or waited for."""
    def found():
        for params in client.published:
            if params.uri == uri and (version is None or params.version == version):
                return list(params.diagnostics)
        return None

    async def wait():
        while (diagnostics := found()) is None:
            await client.wait_for_notification(PUBLISH)
        return diagnostics

    return await asyncio.wait_for(wait(), TIMEOUT)


def open_document(client: LanguageClient, uri: str, text: str, version: int = 1) -> None:
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(
        text_document=lsp.TextDocumentItem(uri=uri, language_id="python", version=version, text=text)))


def change(client: LanguageClient, uri: str, version: int, *changes) -> None:
    client.text_document_did_change(lsp.DidChangeTextDocumentParams(
        text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=version),
        content_changes=list(changes)))


def insert(line: int, character: int, text: str) -> lsp.TextDocumentContentChangePartial:
    at = lsp.Position(line=line, character=character)
    return lsp.TextDocumentContentChangePartial(range=lsp.Range(start=at, end=at), text=text)


def utf16_offset(text: str, position: lsp.Position) -> int:
    """An LSP position (UTF-16 code units) as an offset in `text` (written apart from the server's)."""
    lines = text.splitlines(keepends=True)  # (the texts of these tests have only \n line ends)
    offset = sum(len(line) for line in lines[:position.line])
    line = lines[position.line] if position.line < len(lines) else ""
    units = 0
    for i, char in enumerate(line):
        if units >= position.character:
            return offset + i
        units += 2 if ord(char) > 0xFFFF else 1
    return offset + len(line)


def apply_edit(text: str, uri: str, edit: lsp.WorkspaceEdit) -> str:
    """`text` with a WorkspaceEdit's TextEdits for `uri` applied, as an editor applies them."""
    if edit.document_changes:
        edits = [e for change in edit.document_changes if change.text_document.uri == uri for e in change.edits]
    else:
        edits = (edit.changes or {}).get(uri, [])
    spans = sorted(((utf16_offset(text, e.range.start), utf16_offset(text, e.range.end), e.new_text)
                    for e in edits), reverse=True)
    for start, end, new_text in spans:
        text = text[:start] + new_text + text[end:]
    return text


def cli_fix(path: Path, text: str, *options: str) -> str:
    """What `session-lint --fix` makes of `text` written to `path`."""
    path.write_bytes(text.encode("utf-8"))  # (bytes: text mode would translate line ends)
    subprocess.run([sys.executable, "-m", "session_lint", "--fix", "--no-cache", *options, str(path)],
                   cwd=path.parent, env=ENV, capture_output=True, timeout=TIMEOUT)
    return path.read_bytes().decode("utf-8")


def cli_check(path: Path, text: str) -> int:
    """The exit code of `session-lint` on `text` written to `path`."""
    path.write_bytes(text.encode("utf-8"))
    return subprocess.run([sys.executable, "-m", "session_lint", "--no-cache", str(path)], cwd=path.parent,
                          env=ENV, capture_output=True, timeout=TIMEOUT).returncode


async def code_actions(client: LanguageClient, uri: str, diagnostic: lsp.Diagnostic | None = None,
                       only: list[str] | None = None, at: lsp.Range | None = None) -> list[lsp.CodeAction]:
    found = await asyncio.wait_for(client.text_document_code_action_async(lsp.CodeActionParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri),
        range=at or diagnostic.range,
        context=lsp.CodeActionContext(diagnostics=[diagnostic] if diagnostic else [], only=only))), TIMEOUT)
    return found or []


def rng(line: int, start: int, end_line: int, end: int) -> lsp.Range:
    return lsp.Range(start=lsp.Position(line=line, character=start), end=lsp.Position(line=end_line, character=end))


# -- diagnostics ------------------------------------------------------------------------------

@aio
async def test_diagnostics_follow_the_unsaved_text_as_it_is_typed(client: LanguageClient, project: Path):
    path = project / "app" / "typed.py"  # never written: the buffer is all there is
    uri = path.as_uri()
    open_document(client, uri, CLEAN)
    assert await published(client, uri, 1) == []

    change(client, uri, 2, insert(1, 0, DEPRECATED))  # incremental: a line typed in
    [diagnostic] = await published(client, uri, 2)
    assert diagnostic.code == "SES004"
    assert diagnostic.range == rng(1, 0, 1, 48)
    assert diagnostic.severity == lsp.DiagnosticSeverity.Warning
    assert diagnostic.source == "session-lint"
    assert diagnostic.code_description.href == rule_by_code("SES004").url()
    assert "core.database_manager.get_db_session" in diagnostic.message

    # incremental: the line deleted again
    change(client, uri, 3, lsp.TextDocumentContentChangePartial(range=rng(1, 0, 2, 0), text=""))
    assert await published(client, uri, 3) == []

    change(client, uri, 4, lsp.TextDocumentContentChangeWholeDocument(text=CLEAN + DEPRECATED))  # full sync
    assert [(d.code, d.range) for d in await published(client, uri, 4)] == [("SES004", rng(5, 0, 5, 48))]

    # several changes in one notification, then more notifications before the lint: the last text counts
    change(client, uri, 5, insert(0, 0, "x = 1\n"), insert(0, 0, "y = 2\n"))
    change(client, uri, 6, insert(0, 0, "\n"))
    [diagnostic] = await published(client, uri, 6)
    assert diagnostic.range == rng(8, 0, 8, 48)

    seen = len(client.published)
    client.text_document_did_close(lsp.DidCloseTextDocumentParams(text_document=lsp.TextDocumentIdentifier(uri=uri)))
    await asyncio.wait_for(_until(lambda: any(p.uri == uri and not p.diagnostics and p.version is None
                                              for p in client.published[seen:]), client), TIMEOUT)


async def _until(condition, client: LanguageClient) -> None:
    while not condition():
        await client.wait_for_notification(PUBLISH)


@aio
async def test_positions_are_utf16_code_units(client: LanguageClient, project: Path):
    uri = (project / "app" / "wide.py").as_uri()
    # é is one UTF-16 unit, 😀 two: the import starts at code point 10, UTF-16 unit 11
    text = 's = "é😀"; ' + DEPRECATED
    open_document(client, uri, text)
    [diagnostic] = await published(client, uri, 1)
    assert diagnostic.range == rng(0, 11, 0, 11 + 48)
    # an incremental change after the emoji, in UTF-16 units: the server's copy stays exact
    change(client, uri, 2, insert(0, 8, "x"))  # between 😀 and the closing quote
    [diagnostic] = await published(client, uri, 2)
    assert diagnostic.range == rng(0, 12, 0, 12 + 48)
    actions = await code_actions(client, uri, diagnostic)
    fix = next(a for a in actions if a.title.startswith("SES004"))
    expected = cli_fix(project / "app" / "wide.py", 's = "é😀x"; ' + DEPRECATED)
    assert apply_edit('s = "é😀x"; ' + DEPRECATED, uri, fix.edit) == expected


@aio
async def test_each_document_uses_its_nearest_pyproject(client: LanguageClient, project: Path, tmp_path: Path):
    other = tmp_path / "other"
    shutil.copytree(PROJECT, other)
    (other / "pyproject.toml").write_text('[tool.session-lint]\nignore = ["SES004"]\n', encoding="utf-8")
    uri_a, uri_b = (project / "app" / "a.py").as_uri(), (other / "app" / "b.py").as_uri()
    open_document(client, uri_a, DEPRECATED)
    open_document(client, uri_b, DEPRECATED)
    assert [d.code for d in await published(client, uri_a, 1)] == ["SES004"]
    assert await published(client, uri_b, 1) == []


@aio
async def test_a_file_that_does_not_parse_gets_ses999(client: LanguageClient, project: Path):
    uri = (project / "app" / "broken.py").as_uri()
    open_document(client, uri, "from core.database import SessionLocal\n\ndef job(:\n    pass\n")
    [diagnostic] = await published(client, uri, 1)
    assert diagnostic.code == "SES999"
    assert diagnostic.range.start.line == 2
    assert await code_actions(client, uri, diagnostic) == []
    # as in the CLI, a file that spells no session name is not parsed: its syntax is ruff's business
    change(client, uri, 2, lsp.TextDocumentContentChangeWholeDocument(text="def job(:\n    pass\n"))
    assert await published(client, uri, 2) == []
    assert cli_check(project / "app" / "broken.py", "def job(:\n    pass\n") == 0


@aio
async def test_line_ends_are_lsps_not_str_splitlines(client: LanguageClient, project: Path):
    # a form feed and U+2028 end no line for LSP (nor for Python); \r\n and a lone \r do
    uri = (project / "app" / "ends.py").as_uri()
    text = "# page\x0cbreak\r\nx = '\u2028'\ry = 1\n" + DEPRECATED
    open_document(client, uri, text)
    [diagnostic] = await published(client, uri, 1)
    assert diagnostic.range == rng(3, 0, 3, 48)
    change(client, uri, 2, insert(2, 0, "z = 2\r\n"))  # (incremental, after both)
    [diagnostic] = await published(client, uri, 2)
    assert diagnostic.range == rng(4, 0, 4, 48)
    text = text.replace("y = 1", "z = 2\r\ny = 1")
    [suppress] = [a for a in await code_actions(client, uri, diagnostic) if a.title.startswith("Suppress")]
    [edit] = suppress.edit.document_changes[0].edits
    assert edit.range == rng(4, 48, 4, 48) and edit.new_text == "  # noqa: SES004"
    [fix] = [a for a in await code_actions(client, uri, diagnostic) if a.title.startswith("SES004")]
    assert apply_edit_lsp_lines(text, fix.edit) == cli_fix(project / "app" / "ends.py", text)


def apply_edit_lsp_lines(text: str, edit: lsp.WorkspaceEdit) -> str:
    """`apply_edit` for a text with \r\n, \r and form feeds: lines split as LSP splits them."""
    import re

    starts = [0, *(m.end() for m in re.finditer(r"\r\n|\r|\n", text))]

    def offset(position: lsp.Position) -> int:
        return starts[position.line] + position.character  # (ASCII only on the edited lines)

    edits = [e for change in edit.document_changes for e in change.edits]
    for e in sorted(edits, key=lambda e: offset(e.range.start), reverse=True):
        text = text[:offset(e.range.start)] + e.new_text + text[offset(e.range.end):]
    return text


@aio
async def test_it_asks_to_hear_of_pyproject_changes(client: LanguageClient):
    [registration] = [r for r in client.registrations if r.method == lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES]
    assert [w for w in registration.register_options["watchers"]] == [{"globPattern": "**/pyproject.toml"}]


@pytest_lsp.fixture(config=CONFIG)
async def utf8_client(lsp_client: LanguageClient):
    capabilities = pytest_lsp.client_capabilities("neovim")
    capabilities.general = lsp.GeneralClientCapabilities(position_encodings=["utf-8", "utf-16"])
    result = await lsp_client.initialize_session(lsp.InitializeParams(capabilities=capabilities))
    assert result.capabilities.position_encoding == "utf-8"
    yield
    await lsp_client.shutdown_session()


@pytest.mark.asyncio
async def test_a_client_that_prefers_utf8_gets_utf8_positions(utf8_client: LanguageClient, project: Path):
    uri = (project / "app" / "bytes.py").as_uri()
    open_document(utf8_client, uri, 's = "é😀"; ' + DEPRECATED)
    [diagnostic] = await published(utf8_client, uri, 1)
    assert diagnostic.range == rng(0, 14, 0, 14 + 48)  # é is 2 bytes, 😀 4
    change(utf8_client, uri, 2, insert(0, 11, "x"))  # after 😀, in bytes
    [diagnostic] = await published(utf8_client, uri, 2)
    assert diagnostic.range == rng(0, 15, 0, 15 + 48)


# -- code actions -----------------------------------------------------------------------------

@aio
async def test_safe_quick_fix_gives_the_clis_fixed_text(client: LanguageClient, project: Path):
    path = project / "app" / "safe.py"
    uri = path.as_uri()
    text = "import os\n" + DEPRECATED + "\n\ndef job():\n    with get_db_session() as s:\n        return s, os\n"
    open_document(client, uri, text)
    [diagnostic] = await published(client, uri, 1)
    actions = await code_actions(client, uri, diagnostic)
    [fix] = [a for a in actions if a.kind == lsp.CodeActionKind.QuickFix and a.title.startswith("SES004")]
    assert fix.title == "SES004: Import from `core.database`"
    assert fix.is_preferred is True
    assert list(fix.diagnostics) == [diagnostic]
    fixed = apply_edit(text, uri, fix.edit)
    assert fixed == cli_fix(path, text) != text

    # the editor applies it: the finding is gone
    change(client, uri, 2, lsp.TextDocumentContentChangeWholeDocument(text=fixed))
    assert await published(client, uri, 2) == []


@aio
async def test_unsafe_quick_fix_is_labelled_and_gives_the_clis_unsafe_fixed_text(client: LanguageClient,
                                                                                 project: Path):
    path = project / "app" / "unsafe.py"
    uri = path.as_uri()
    open_document(client, uri, MANUAL)
    [diagnostic] = await published(client, uri, 1)
    assert diagnostic.code == "SES001"
    actions = await code_actions(client, uri, diagnostic)
    [fix] = [a for a in actions if a.title.startswith("SES001:")]
    assert fix.title.endswith(" (unsafe)")
    assert fix.is_preferred is False
    fixed = apply_edit(MANUAL, uri, fix.edit)
    assert fixed == cli_fix(path, MANUAL, "--unsafe-fixes") != MANUAL
    assert cli_fix(path, MANUAL) == MANUAL  # (and plain --fix leaves it, as fix-all below does)
    assert not [a for a in await code_actions(client, uri, only=[lsp.CodeActionKind.SourceFixAll],
                                              at=rng(0, 0, 0, 0))]


@aio
async def test_quick_fixes_for_the_cursor_position(client: LanguageClient, project: Path):
    uri = (project / "app" / "cursor.py").as_uri()
    text = "import os\n" + DEPRECATED + MANUAL
    open_document(client, uri, text)
    diagnostics = await published(client, uri, 1)
    assert sorted(d.code for d in diagnostics) == ["SES001", "SES004"]
    # a cursor inside the SES004 import, no context diagnostics (as some clients ask)
    titles = [a.title for a in await code_actions(client, uri, at=rng(1, 10, 1, 10),
                                                 only=[lsp.CodeActionKind.QuickFix])]
    assert titles == ["SES004: Import from `core.database`", "Suppress SES004 with `# noqa: SES004`"]
    # a cursor on the first line: nothing to fix there
    assert await code_actions(client, uri, at=rng(0, 0, 0, 0), only=[lsp.CodeActionKind.QuickFix]) == []


@aio
@pytest.mark.parametrize("line, expected", [
    (DEPRECATED, DEPRECATED.rstrip("\n") + "  # noqa: SES004\n"),
    (DEPRECATED.rstrip("\n") + "   \n", DEPRECATED.rstrip("\n") + "  # noqa: SES004\n"),
    (DEPRECATED.rstrip("\n") + "  # noqa: E501\n", DEPRECATED.rstrip("\n") + "  # noqa: E501, SES004\n"),
    (DEPRECATED.rstrip("\n") + "  # NOQA:SES001,E501 keep me\n",
     DEPRECATED.rstrip("\n") + "  # NOQA:SES001,E501, SES004 keep me\n"),
    (DEPRECATED.rstrip("\n") + "  # type: ignore\n", DEPRECATED.rstrip("\n") + "  # type: ignore  # noqa: SES004\n"),
])
async def test_noqa_action(client: LanguageClient, project: Path, line: str, expected: str):
    uri = (project / "app" / "noqa.py").as_uri()
    text = "import os\n" + line + "x = os\n"
    open_document(client, uri, text)
    [diagnostic] = await published(client, uri, 1)
    [suppress] = [a for a in await code_actions(client, uri, diagnostic) if a.title.startswith("Suppress")]
    assert suppress.title == "Suppress SES004 with `# noqa: SES004`"
    assert suppress.kind == lsp.CodeActionKind.QuickFix
    suppressed = apply_edit(text, uri, suppress.edit)
    assert suppressed == "import os\n" + expected + "x = os\n"
    change(client, uri, 2, lsp.TextDocumentContentChangeWholeDocument(text=suppressed))
    assert await published(client, uri, 2) == []


@aio
async def test_no_noqa_action_where_a_comment_would_change_the_code(client: LanguageClient, project: Path):
    # the finding's line ends inside a string: a noqa comment there would be part of the string
    uri = (project / "app" / "string.py").as_uri()
    text = 'from core.database_manager import get_db_session; x = """\n"""\n'
    open_document(client, uri, text)
    [diagnostic] = await published(client, uri, 1)
    titles = [a.title for a in await code_actions(client, uri, diagnostic, only=[lsp.CodeActionKind.QuickFix])]
    assert titles == ["SES004: Import from `core.database`"]


@aio
async def test_fix_all_equals_the_clis_fix(client: LanguageClient, project: Path):
    path = project / "app" / "everything.py"
    uri = path.as_uri()
    text = (DEPRECATED + "from core import database_manager as dbm\n\n\ndef other():\n"
            "    with get_db_session() as s:\n        return s, dbm\n\n\n"
            + MANUAL.replace("from core.database import SessionLocal\n", "from core.database import SessionLocal\n\n"))
    open_document(client, uri, text)
    diagnostics = await published(client, uri, 1)
    assert sorted(d.code for d in diagnostics) == ["SES001", "SES004", "SES004"]
    expected = cli_fix(path, text)
    assert expected != text and "with get_db_session() as db:" not in expected  # (SES001's fix is unsafe)
    for only in ([lsp.CodeActionKind.SourceFixAll], ["source.fixAll.session-lint"], None):
        actions = [a for a in await code_actions(client, uri, only=only, at=rng(0, 0, 0, 0))
                   if a.kind == "source.fixAll.session-lint"]
        [fix_all] = actions
        assert apply_edit(text, uri, fix_all.edit) == expected
    assert await code_actions(client, uri, only=[lsp.CodeActionKind.QuickFix], at=rng(0, 0, 0, 0)) != []
    assert [a.kind for a in await code_actions(client, uri, only=["refactor"], at=rng(0, 0, 0, 0))] == []


# -- robustness -------------------------------------------------------------------------------

@aio
async def test_the_server_survives_malformed_input(client: LanguageClient, project: Path):
    untitled = "untitled:Untitled-1"
    open_document(client, untitled, DEPRECATED)  # no file: linted with the server's directory's config
    assert [d.code for d in await published(client, untitled, 1)] == ["SES004"]
    for uri in ("not a uri", "file://%zz/\x00", "file:", "http://example.com/x.py"):
        open_document(client, uri, DEPRECATED)
        await published(client, uri, 1)
    change(client, "file:///never/opened.py", 3, insert(0, 0, "x"))  # a change to no document
    uri = (project / "app" / "odd.py").as_uri()
    open_document(client, uri, CLEAN, version=5)
    await published(client, uri, 5)
    change(client, uri, 2, insert(99, 99, DEPRECATED))  # a stale version, a range past the end
    assert [d.code for d in await published(client, uri, 2)] == ["SES004"]
    change(client, uri, 3, lsp.TextDocumentContentChangePartial(range=rng(3, 50, 0, 0), text="# "))  # end < start
    await published(client, uri, 3)
    change(client, uri, 4, lsp.TextDocumentContentChangeWholeDocument(text="x = '\ud800'\n" + DEPRECATED))
    [diagnostic] = await published(client, uri, 4)  # a lone surrogate: no file can hold it
    assert (diagnostic.code, diagnostic.range.start) == ("SES999", lsp.Position(line=0, character=5))
    assert await code_actions(client, "file:///never/opened.py", at=rng(0, 0, 0, 0)) == []
    assert await code_actions(client, untitled, at=rng(0, 0, 0, 0), only=[lsp.CodeActionKind.QuickFix])

    huge = uri.replace("odd.py", "huge.py")
    open_document(client, huge, (CLEAN + "\n") * 3000 + DEPRECATED)  # 18k lines
    # the event loop answers while the engine works on it, and the finding arrives
    assert await code_actions(client, "file:///never/opened.py", at=rng(0, 0, 0, 0)) == []
    [diagnostic] = await published(client, huge, 1)
    assert diagnostic.range.start.line == 6 * 3000
    assert not any(m.type == lsp.MessageType.Error and 'odd' in m.message for m in client.messages)


@aio
async def test_a_configuration_error_is_shown_not_raised(client: LanguageClient, tmp_path: Path):
    bad = tmp_path / "bad"
    (bad / "app").mkdir(parents=True)
    (bad / "pyproject.toml").write_text('[tool.session-lint]\nselect = ["SES042"]\n', encoding="utf-8")
    uri = (bad / "app" / "x.py").as_uri()
    open_document(client, uri, DEPRECATED)
    assert await published(client, uri, 1) == []
    [message] = [m for m in client.messages if str(bad) in m.message]
    assert message.type == lsp.MessageType.Error and "SES042" in message.message
    # fixed on disk, then saved: linted with the new configuration
    (bad / "pyproject.toml").write_text("[tool.session-lint]\n", encoding="utf-8")
    seen = len(client.published)
    client.text_document_did_save(lsp.DidSaveTextDocumentParams(text_document=lsp.TextDocumentIdentifier(uri=uri)))
    assert [d.code for d in await _next(client, uri, seen)] == ["SES004"]


@aio
async def test_a_changed_pyproject_relints_open_documents(client: LanguageClient, tmp_path: Path):
    root = tmp_path / "watched"
    shutil.copytree(PROJECT, root)
    (root / "pyproject.toml").write_text('[tool.session-lint]\nignore = ["SES004"]\n', encoding="utf-8")
    uri = (root / "app" / "x.py").as_uri()
    open_document(client, uri, DEPRECATED)
    assert await published(client, uri, 1) == []
    (root / "pyproject.toml").write_text("[tool.session-lint]\n", encoding="utf-8")
    seen = len(client.published)
    client.workspace_did_change_watched_files(lsp.DidChangeWatchedFilesParams(changes=[lsp.FileEvent(
        uri=(root / "pyproject.toml").as_uri(), type=lsp.FileChangeType.Changed)]))
    assert [d.code for d in await _next(client, uri, seen)] == ["SES004"]


async def _next(client: LanguageClient, uri: str, seen: int) -> list[lsp.Diagnostic]:
    """The first diagnostics published for `uri` after the first `seen` publications."""
    await asyncio.wait_for(_until(lambda: any(p.uri == uri for p in client.published[seen:]), client), TIMEOUT)
    return next(list(p.diagnostics) for p in client.published[seen:] if p.uri == uri)


# -- the process: exit codes, missing extra -----------------------------------------------------

def _frame(message: dict) -> bytes:
    body = json.dumps(message).encode("utf-8")
    return f"Content-Length: {len(body)}\r\n\r\n".encode("ascii") + body


def _session(*messages: dict) -> subprocess.CompletedProcess:
    stdin = b"".join(_frame(m) for m in messages)
    return subprocess.run(SERVER, input=stdin, env=ENV, capture_output=True, timeout=TIMEOUT)


INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
              "params": {"processId": None, "rootUri": None, "capabilities": {}}}
INITIALIZED = {"jsonrpc": "2.0", "method": "initialized", "params": {}}
SHUTDOWN = {"jsonrpc": "2.0", "id": 2, "method": "shutdown"}
EXIT = {"jsonrpc": "2.0", "method": "exit"}


def test_exit_after_shutdown_is_0():
    done = _session(INITIALIZE, INITIALIZED, SHUTDOWN, EXIT)
    assert done.returncode == 0, done.stderr
    assert b'"id": 2' in done.stdout or b'"id":2' in done.stdout  # shutdown answered


def test_exit_without_shutdown_is_1():
    assert _session(INITIALIZE, INITIALIZED, EXIT).returncode == 1


def test_the_client_going_away_ends_the_server():
    # stdin closed without shutdown or exit (the editor died): the server ends, with 1
    assert _session(INITIALIZE, INITIALIZED).returncode == 1


def test_odd_workspace_folders_and_root():
    odd = {**INITIALIZE, "params": {"processId": None, "rootUri": "file:///no/such/dir",
                                    "workspaceFolders": [{"uri": "untitled:x", "name": "x"},
                                                         {"uri": "file://%00/", "name": "nul"}],
                                    "capabilities": {}}}
    done = _session(odd, INITIALIZED, SHUTDOWN, EXIT)
    assert done.returncode == 0, done.stderr
    assert b'"id": 1' in done.stdout and b'"error"' not in done.stdout


def test_exit_while_a_lint_runs_does_not_wait_for_it():
    huge = (CLEAN + "\n") * 20000 + DEPRECATED
    opened = {"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {
        "uri": "untitled:big", "languageId": "python", "version": 1, "text": huge}}}
    assert _session(INITIALIZE, INITIALIZED, opened, SHUTDOWN, EXIT).returncode == 0


def test_garbage_on_stdin_then_a_session():
    garbage = b"Content-Length: 5\r\n\r\n{{{{{" + _frame({"jsonrpc": "2.0", "id": 9, "method": "no/such"})
    stdin = garbage + b"".join(_frame(m) for m in (INITIALIZE, INITIALIZED, SHUTDOWN, EXIT))
    done = subprocess.run(SERVER, input=stdin, env=ENV, capture_output=True, timeout=TIMEOUT)
    assert done.returncode == 0, done.stderr


def test_server_without_pygls_says_how_to_install_it():
    code = ("import sys; sys.modules['pygls'] = None; sys.argv = ['session-lint', '--server']\n"
            "from session_lint.frontends.cli import main; main()")
    done = subprocess.run([sys.executable, "-c", code], env=ENV, capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "pip install 'session-lint[server]'" in done.stderr and "pygls" in done.stderr
