"""Process one file: read it, lint or fix it, and say what happened (never raise)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from ..config import Config
from .deep import deep
from ..diagnostics import Diagnostic, Fix, syntax_error
from ..rules import rule_codes
from ..sourcefile import Source, SourceError, write_atomic

if TYPE_CHECKING:
    from .screen import Screen, Verdict

# The engine (LibCST and the rules) is imported by the functions that lint, and the screen (with
# the `ast` analysis it uses) by `screen_for`: a run where every file is screened out never loads
# LibCST (about a third of a second per process), and a warm run, where the cache answers for
# every file, loads neither.


class Mode(enum.Enum):
    CHECK = "check"
    FIX = "fix"  # write fixed files
    DIFF = "diff"  # show what --fix would change, write nothing


@dataclass
class FileOutcome:
    path: str
    diagnostics: list[Diagnostic] = field(default_factory=list)
    fixed: int = 0  # fixes applied (FIX) or that would be applied (DIFF)
    diff: str = ""  # DIFF mode: unified diff of the fixed file
    error: str | None = None  # an error that makes the run exit 2 (fix not applicable, write failed)
    new_data: bytes | None = None  # FIX mode without `write`: the fixed file, for the caller to write


def _detached(diagnostic: Diagnostic) -> Diagnostic:
    """The diagnostic without CST nodes, so it can cross process boundaries and be cached."""
    if diagnostic.fix is not None:
        diagnostic.fix = Fix(diagnostic.fix.applicability, diagnostic.fix.message)
    diagnostic.fix_spans = []
    return diagnostic


def lint_text(text: str, path: str, config: Config, with_edits: bool = False,
              screened: Verdict | None = None) -> list[Diagnostic]:
    """`screened`: the screen's verdict on this text (only the rules it names can report)."""
    from .linter import fix_edits, run_rules

    run = run_rules(text, path, config, screened)
    if with_edits:
        for diagnostic in run.diagnostics:
            if diagnostic.fix is not None:
                diagnostic.edits = fix_edits(run, diagnostic)
    return [_detached(d) for d in run.diagnostics]


@deep  # one large-stack thread for the whole file (session_lint/engine/deep.py)
def process_text(text: str, path: str, config: Config, mode: Mode, unsafe_fixes: bool,
                 with_edits: bool = False, screened: Verdict | None = None) -> tuple[FileOutcome, str]:
    """Lint or fix a source text; returns the outcome and the (possibly fixed) text. `screened`:
    the screen's verdict on `text`, used to lint it (a fix's output is linted with every rule)."""
    import difflib
    import traceback

    from .linter import FixError, fix_source

    outcome = FileOutcome(path)
    try:
        if mode is Mode.CHECK:
            outcome.diagnostics = lint_text(text, path, config, with_edits, screened)
            return outcome, text
        try:
            result = fix_source(text, path, config, unsafe_fixes=unsafe_fixes)
        except FixError as exc:
            outcome.error = str(exc)
            outcome.diagnostics = lint_text(text, path, config, with_edits, screened)
            return outcome, text
        outcome.fixed = result.applied
        if mode is Mode.DIFF and result.source != text:
            outcome.diff = "".join(difflib.unified_diff(
                text.splitlines(keepends=True), result.source.splitlines(keepends=True),
                fromfile=f"a/{path}", tofile=f"b/{path}"))
        outcome.diagnostics = [_detached(d) for d in result.remaining] if mode is Mode.FIX \
            else lint_text(text, path, config, with_edits, screened)
        return outcome, result.source
    except Exception as exc:  # a bug in a rule must not stop the run or print a traceback
        where = traceback.extract_tb(exc.__traceback__)[-1]
        outcome.error = (f"{path}: internal error ({type(exc).__name__}: {exc} at "
                         f"{Path(where.filename).name}:{where.lineno}); please report it")
        return outcome, text


def process_data(path: Path, data: bytes, config: Config, mode: Mode = Mode.CHECK, unsafe_fixes: bool = False,
                 with_edits: bool = False, screen: bool = True, write: bool = True,
                 screened: Verdict | None = None) -> FileOutcome:
    """Lint (or fix) one file's bytes, already read by the caller. With `screen`, files that no selected rule can
    flag skip LibCST entirely, and only the rules that may report run (session_lint/engine/screen.py: same
    diagnostics, 10-100x cheaper); `screened` is that verdict when the caller has it already.
    Without `write`, a fixed file is left in `outcome.new_data` (see `write_fixed`)."""
    display = str(path)
    if screen and screened is None:
        screened = screen_for(config, display).verdict(data, display)
    if screened is not None and not screened.may_report:
        return FileOutcome(display)
    try:
        source = Source.from_bytes(data)
    except SourceError as exc:
        return FileOutcome(display, [syntax_error(display, str(exc))])
    outcome, new_text = process_text(source.text, display, config, mode, unsafe_fixes, with_edits, screened)
    if mode is Mode.FIX and outcome.error is None and new_text != source.text:
        try:
            outcome.new_data = source.encode(new_text)
        except UnicodeEncodeError as exc:
            _write_failed(outcome, exc)
        if write:
            write_fixed(path, outcome)
    return outcome


def write_fixed(path: Path, outcome: FileOutcome) -> bool:
    """Write the fixed file `outcome` carries, atomically; True when a file was written."""
    data, outcome.new_data = outcome.new_data, None  # (written once; the bytes are not kept)
    if data is None:
        return False
    try:
        write_atomic(path, data)
    except OSError as exc:
        _write_failed(outcome, exc)
        return False
    return True


def _write_failed(outcome: FileOutcome, exc: Exception) -> None:
    outcome.error = f"{outcome.path}: cannot write fixed file: {exc}"
    outcome.fixed = 0
    outcome.new_data = None


@lru_cache(maxsize=256)
def _screen(config: Config, root: Path | None, codes: tuple[str, ...]) -> Screen:
    from .screen import Screen

    return Screen(config, codes)


def screen_for(config: Config, path: str) -> Screen:
    """The screen for the rules selected for `path` (per-file-ignores may deselect some). Keyed on the
    configuration's root too, which its equality leaves out: two projects configured alike (a monorepo's
    services) have their own helpers and dependencies, which the screen reads from their sources."""
    where = path if config.per_file_ignores else None  # resolving the path costs more than the screen
    return _screen(config, config.root, tuple(code for code in rule_codes() if config.is_selected(code, where)))
