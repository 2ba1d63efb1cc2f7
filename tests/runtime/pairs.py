"""Fixture pairs: ``fixtures/cases/<case>/before.py`` and ``after.py`` (see fixtures/cases/README.md)."""

from __future__ import annotations

import importlib.util
import itertools
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]
CASES_DIR = REPO / "fixtures" / "cases"
DEMO_DIR = REPO / "fixtures" / "demo"

_EXPECT = re.compile(r"#\s*expect:\s*(?P<codes>.*)$")
_FIXED = re.compile(r"#\s*fixed:")
_counter = itertools.count()


@dataclass(frozen=True)
class Case:
    name: str
    before_path: Path
    after_path: Path
    before: str  # full source, header line included
    after: str
    expect: list[str]  # codes from before.py's "# expect:" line, in order of appearance

    @property
    def lint_path(self) -> Path:
        """Where the case is linted: as a module of the demo app, so the demo's pyproject.toml
        applies and ``core.database`` resolves to fixtures/demo/core/database.py."""
        return DEMO_DIR / "app" / f"{self.name}.py"


def case_names() -> list[str]:
    return sorted(p.name for p in CASES_DIR.iterdir() if (p / "before.py").is_file())


def parse_expect(header: str) -> list[str]:
    match = _EXPECT.fullmatch(header.strip())
    if match is None:
        raise ValueError(f"first line must be '# expect: CODE[, CODE...]', got {header!r}")
    return [code.strip() for code in match["codes"].split(",") if code.strip()]


def drop_header(source: str) -> str:
    """The source without its first line (the ``# expect:`` / ``# fixed:`` header)."""
    return source.split("\n", 1)[1] if "\n" in source else ""


def load_case(name: str) -> Case:
    directory = CASES_DIR / name
    before_path, after_path = directory / "before.py", directory / "after.py"
    before = before_path.read_text(encoding="utf-8")
    after = after_path.read_text(encoding="utf-8")
    if not _FIXED.match(after):
        raise ValueError(f"{after_path}: first line must be '# fixed: CODE[, CODE...]'")
    return Case(name, before_path, after_path, before, after, parse_expect(before.split("\n", 1)[0]))


def import_case_module(path: Path, name: str) -> ModuleType:
    """Import ``path`` as a brand-new module (unique name), so before and after can coexist."""
    module_name = f"_session_lint_case_{name}_{next(_counter)}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # FastAPI/pydantic resolve annotations through sys.modules
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    return module
