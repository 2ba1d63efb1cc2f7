"""One-line test helpers shared by every rule's tests (pyupgrade style).

Sources are linted as if they were `app/module.py` inside a small project whose
`core/database.py` is the reference session module, so names are resolved the
way they are in a real checkout.
"""

from __future__ import annotations

import os
import textwrap
from dataclasses import replace
from pathlib import Path
from typing import Iterator

from session_lint.api import Config, fix_source, lint_source

PROJECT = Path(__file__).parent / "project"
DEFAULT_PATH = PROJECT / "app" / "module.py"
# Real projects fetched locally (never committed): tests that use them skip without them.
REAL = Path(os.environ.get("SESSION_LINT_REAL_PROJECTS", "/tmp/real"))


def real_project_sources(sample: int) -> Iterator[tuple[Path, str, Config]]:
    """(path, text, config) for every `sample`-th UTF-8 .py file of each project under REAL, or
    every file with SESSION_LINT_SCREEN_FULL=1. The config is `REAL/<project>.toml` when there
    is one (rooted at the project), else the project's own."""
    step = 1 if os.environ.get("SESSION_LINT_SCREEN_FULL") else sample
    for project in sorted(p for p in REAL.iterdir() if p.is_dir()):
        cfg = Config.discover(project)
        toml = REAL / f"{project.name}.toml"
        if toml.is_file():
            cfg = replace(Config.from_file(toml), root=project)
        for file in sorted(project.rglob("*.py"))[::step]:
            try:
                yield file, file.read_text(encoding="utf-8"), cfg
            except (UnicodeDecodeError, OSError):
                continue


def write_tree(root: Path, files: dict[str, str]) -> None:
    """Write `files` ({relative path: text}) under `root`, making their folders."""
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def config(**overrides) -> Config:
    return replace(Config(root=PROJECT), **overrides)


def _prepare(src: str) -> str:
    return textwrap.dedent(src).lstrip("\n")


def found(src: str, code: str | None = None, path: Path = DEFAULT_PATH, cfg: Config | None = None):
    """[(line, column, code)] for the diagnostics of `src` (only `code`'s when given)."""
    diagnostics = lint_source(_prepare(src), str(path), cfg or config())
    return [(d.line, d.column, d.code) for d in diagnostics if code is None or d.code == code]


def check_flagged(src: str, expected: list[tuple[int, int, str]], **kwargs) -> None:
    code = expected[0][2] if expected else None
    assert found(src, code, **kwargs) == expected


def check_noop(src: str, code: str, **kwargs) -> None:
    """`src` must not be flagged with `code`."""
    assert found(src, code, **kwargs) == []


def check_fixed(before: str, after: str, code: str, *, unsafe: bool = False,
                path: Path = DEFAULT_PATH, cfg: Config | None = None) -> None:
    """The fix turns `before` into exactly `after`; `after` lints clean for `code`; a second fix is a no-op."""
    cfg = cfg or config()
    before, after = _prepare(before), _prepare(after)
    result = fix_source(before, str(path), cfg, unsafe_fixes=unsafe)
    assert result.source == after
    assert result.applied >= 1
    assert [d for d in lint_source(after, str(path), cfg) if d.code == code] == []
    assert fix_source(after, str(path), cfg, unsafe_fixes=unsafe).source == after


def check_not_fixed(src: str, code: str, *, unsafe: bool = True, path: Path = DEFAULT_PATH,
                    cfg: Config | None = None) -> None:
    """`src` is flagged with `code` but offers no fix (for this applicability)."""
    cfg = cfg or config()
    src = _prepare(src)
    diagnostics = [d for d in lint_source(src, str(path), cfg) if d.code == code]
    assert diagnostics, f"expected {code}"
    assert not any(d.is_fixable(unsafe) for d in diagnostics)
