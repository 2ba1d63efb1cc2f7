"""`[tool.session-lint]` configuration: loading, validation, and rule selection."""

from __future__ import annotations

import fnmatch
import sys
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path, PurePath
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


class ConfigError(Exception):
    """A configuration problem; the CLI prints it on one line and exits 2."""


# key in pyproject -> (attribute, expected type, description used in error messages)
_STR = (str, "a string")
_STR_LIST = (list, "a list of strings")
_BOOL = (bool, "true or false")
_STR_OR_LIST = ((str, list), "a string or a list of strings")
_STR_TABLE = (dict, "a table of strings")
_LIST_TABLE = (dict, "a table of lists of strings")

_KEYS: dict[str, tuple[str, tuple[type, str]]] = {
    "session-module": ("session_module", _STR),
    "session-factories": ("session_factories", _STR_LIST),
    "context-manager": ("context_manager", _STR_OR_LIST),
    "dependency": ("dependency", _STR_OR_LIST),
    "async-session-factories": ("async_session_factories", _STR_LIST),
    "async-context-manager": ("async_context_manager", _STR_OR_LIST),
    "async-dependency": ("async_dependency", _STR_OR_LIST),
    "session-type": ("session_type", _STR),
    "async-session-type": ("async_session_type", _STR),
    "expire-on-commit": ("expire_on_commit", _BOOL),
    "select": ("select", _STR_LIST),
    "ignore": ("ignore", _STR_LIST),
    "extend-select": ("extend_select", _STR_LIST),
    "exclude": ("exclude", _STR_LIST),
    "per-file-ignores": ("per_file_ignores", _LIST_TABLE),
    "deprecated": ("deprecated", _STR_TABLE),
    "slow-calls": ("slow_calls", _STR_LIST),
}

# where the further entries of a helper list go
_MORE = {"context_manager": "more_context_managers", "dependency": "more_dependencies",
         "async_context_manager": "more_async_context_managers", "async_dependency": "more_async_dependencies"}

DEFAULT_DEPRECATED = {
    "core.database_manager": "core.database",
    "core.database_manager.get_db_session_for_request": "core.database.get_db",
    "core.database_manager.get_monitored_db_session": "core.database.get_db_session",
}


@dataclass(frozen=True)
class Config:
    session_module: str = "core.database"
    session_factories: tuple[str, ...] = ("SessionLocal",)
    context_manager: str = "get_db_session"
    dependency: str = "get_db"
    async_session_factories: tuple[str, ...] = ("AsyncSessionLocal",)
    async_context_manager: str = "get_async_session"
    async_dependency: str = "get_async_db"
    # SPEC §2: several standard helpers. The four keys above take a string or a list; the first
    # entry is the one fixes use, the others are recognised as standard too.
    more_context_managers: tuple[str, ...] = ()
    more_dependencies: tuple[str, ...] = ()
    more_async_context_managers: tuple[str, ...] = ()
    more_async_dependencies: tuple[str, ...] = ()
    session_type: str = "sqlalchemy.orm.Session"
    async_session_type: str = "sqlalchemy.ext.asyncio.AsyncSession"
    expire_on_commit: bool = True
    select: tuple[str, ...] = ("SES",)
    ignore: tuple[str, ...] = ()
    extend_select: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()
    deprecated: tuple[tuple[str, str], ...] = tuple(DEFAULT_DEPRECATED.items())
    # SES009: dotted names of the project's own slow calls (`app.clients.fetch_invoice`), added to
    # the network / subprocess / sleep calls session-lint knows
    slow_calls: tuple[str, ...] = ()
    # Where the configuration came from (None: built-in defaults); paths in
    # per-file-ignores and exclude are relative to `root`.
    source: Path | None = field(default=None, compare=False)
    root: Path | None = field(default=None, compare=False)

    # -- construction -------------------------------------------------
    @classmethod
    def from_dict(cls, table: dict[str, Any], *, source: Path | None = None,
                  root: Path | None = None) -> Config:
        where = f"{source}: " if source else ""
        values: dict[str, Any] = {}
        for key, value in table.items():
            if key not in _KEYS:
                known = ", ".join(sorted(_KEYS))
                raise ConfigError(f"{where}unknown key '{key}' in [tool.session-lint] (known keys: {known})")
            attr, (typ, desc) = _KEYS[key]
            if not isinstance(value, typ) or (typ is str and not value):
                raise ConfigError(f"{where}'{key}' must be {desc}, got {value!r}")
            if typ == (str, list):  # a helper, or several: the first is the one fixes use
                names = [value] if isinstance(value, str) else value
                if not names or not all(isinstance(v, str) and v for v in names):
                    raise ConfigError(f"{where}'{key}' must be {desc}, got {value!r}")
                value, values[_MORE[attr]] = names[0], tuple(names[1:])
            elif typ is list:
                if not all(isinstance(v, str) and v for v in value):
                    raise ConfigError(f"{where}'{key}' must be {desc}, got {value!r}")
                value = tuple(value)
            elif key == "deprecated":
                if not all(isinstance(v, str) and v for v in value.values()):
                    raise ConfigError(f"{where}'{key}' must be {desc}, got {value!r}")
                value = tuple(value.items())
            elif key == "per-file-ignores":
                if not all(isinstance(v, list) and all(isinstance(c, str) for c in v)
                           for v in value.values()):
                    raise ConfigError(f"{where}'{key}' must be {desc}, got {value!r}")
                value = tuple((glob, tuple(codes)) for glob, codes in value.items())
            values[attr] = value
        for attr in ("select", "ignore", "extend_select"):
            check_codes(values.get(attr, ()), f"{where}'{attr.replace('_', '-')}'")
        if values.get("select") == ():
            raise ConfigError(f"{where}'select' is empty: no rule would be checked")
        for glob, codes in values.get("per_file_ignores", ()):
            check_codes(codes, f"{where}'per-file-ignores' entry {glob!r}")
        return cls(**values, source=source, root=root)

    @classmethod
    def from_file(cls, path: Path) -> Config:
        """Load `[tool.session-lint]` from a pyproject.toml (or a bare session-lint TOML file)."""
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read config {path}: {exc.strerror or exc}") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: invalid TOML: {exc}") from None
        table = data.get("tool", {}).get("session-lint")
        if table is None and Path(path).name != "pyproject.toml":
            table = data  # a dedicated session-lint.toml holds the keys at top level
        if not isinstance(table, dict):
            table = {}
        return cls.from_dict(table, source=Path(path), root=Path(path).resolve().parent)

    @classmethod
    def discover(cls, start: str | Path) -> Config:
        """The configuration of the nearest pyproject.toml with a [tool.session-lint] table."""
        found = find_config_file(Path(start))
        return cls.from_file(found) if found else cls(root=Path.cwd())

    # -- queries -------------------------------------------------------
    @property
    def context_managers(self) -> tuple[str, ...]:
        return (self.context_manager, *self.more_context_managers)

    @property
    def dependencies(self) -> tuple[str, ...]:
        return (self.dependency, *self.more_dependencies)

    @property
    def async_context_managers(self) -> tuple[str, ...]:
        return (self.async_context_manager, *self.more_async_context_managers)

    @property
    def async_dependencies(self) -> tuple[str, ...]:
        return (self.async_dependency, *self.more_async_dependencies)

    @property
    def deprecated_map(self) -> dict[str, str]:
        return dict(self.deprecated)

    def relative(self, path: str | Path) -> str:
        """`path` relative to the config root, with forward slashes, for glob matching."""
        try:
            return Path(path).resolve().relative_to(_resolved(self.root or Path.cwd())).as_posix()
        except (ValueError, OSError):
            return PurePath(path).as_posix()

    def is_selected(self, code: str, path: str | Path | None = None,
                    select: tuple[str, ...] | None = None,
                    ignore: tuple[str, ...] = (),
                    extend_select: tuple[str, ...] = ()) -> bool:
        """ruff semantics: the most specific matching prefix among select/ignore wins."""
        chosen = (select if select is not None else self.select) + self.extend_select + extend_select
        ignored = self.ignore + ignore
        if path is not None:
            rel = self.relative(path)
            for glob, codes in self.per_file_ignores:
                if _glob_match(rel, glob):
                    ignored += codes
        best_select = max((len(p) for p in chosen if _prefix_match(code, p)), default=-1)
        best_ignore = max((len(p) for p in ignored if _prefix_match(code, p)), default=-1)
        if code in _opt_in_codes() and code not in chosen:
            return False  # an opt-in rule (SES015) is named by its full code, never by a prefix
        return best_select >= 0 and best_select > best_ignore

    def is_excluded(self, path: str | Path) -> bool:
        if not self.exclude:
            return False  # (resolving the path is most of the cost of discovering a file)
        rel = self.relative(path)
        return any(_glob_match(rel, glob) for glob in self.exclude)


def known_codes() -> tuple[str, ...]:
    """Every code a selector can name: the rules' and SES999 (files that cannot be parsed)."""
    from .diagnostics import SYNTAX_ERROR_CODE
    from .rules import rule_codes

    return (*rule_codes(), SYNTAX_ERROR_CODE)


def _opt_in_codes() -> frozenset[str]:
    from .rules import opt_in_codes

    return opt_in_codes()


def check_codes(codes: tuple[str, ...], where: str) -> None:
    """Each of `codes` must be ALL, a known code or a prefix of one: a typo such as SES042 would
    otherwise select (or ignore) nothing without a word, and a clean exit would hide it."""
    known = known_codes()
    for code in codes:
        if code != "ALL" and not any(k.startswith(code) for k in known):
            raise ConfigError(f"{where} has unknown rule code {code!r} (valid: {', '.join(known)}, "
                              "a prefix of them such as SES or SES00, or ALL)")


@lru_cache(maxsize=64)
def _resolved(root: Path) -> Path:
    return root.resolve()


def _prefix_match(code: str, prefix: str) -> bool:
    return prefix == "ALL" or code.startswith(prefix)


def _glob_match(rel_path: str, glob: str) -> bool:
    """Match a path against a glob the way users write them in ruff/flake8 configs."""
    glob = glob.rstrip("/")
    parts = rel_path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]  # the path and its parents
    candidates += [parts[-1]]
    return any(fnmatch.fnmatchcase(c, glob) or fnmatch.fnmatchcase(c, glob + "/*") for c in candidates)


def find_config_file(start: Path) -> Path | None:
    start = start.resolve()
    directory = start if start.is_dir() else start.parent
    for candidate_dir in (directory, *directory.parents):
        candidate = config_file_in(candidate_dir)
        if candidate is not None:
            return candidate
    return None


def config_file_in(directory: Path) -> Path | None:
    """`directory`'s own pyproject.toml when it has a [tool.session-lint] table."""
    candidate = directory / "pyproject.toml"
    if not candidate.is_file():
        return None
    try:
        data = tomllib.loads(candidate.read_text(encoding="utf-8"))
    except OSError:
        return None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{candidate}: invalid TOML: {exc}") from None
    return candidate if "session-lint" in data.get("tool", {}) else None


KNOWN_KEYS = tuple(_KEYS)
CONFIG_FIELDS = tuple(f.name for f in fields(Config))
