"""`session-lint --init`: print (or write) the configuration for a project's session conventions.

session_lint/analysis/conventions/ discovers them; this module ranks what it found, renders the
`[tool.session-lint]` block with where each value came from, and writes it into pyproject.toml.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ..config import Config, ConfigError
from ..analysis.conventions import Discovery, Item, discover_conventions, flavor_of_type
from ..analysis.knowledge import DEFAULT_SESSION_TYPES

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

# The tie-breaker between equally used helpers: the conventional names first.
_PREFERRED = ("get_db", "get_session", "get_db_session", "session_scope", "get_async_db",
              "get_async_session")


# -- rendering ------------------------------------------------------------------------

def _rank(items: list[Item], session_module: str | None) -> list[Item]:
    def key(item: Item):
        in_module = item.qualified.rsplit(".", 1)[0] == session_module
        preferred = _PREFERRED.index(item.name) if item.name in _PREFERRED else len(_PREFERRED)
        return (-item.uses, not item.commits, not in_module, preferred, item.origin.path, item.origin.line)
    return sorted(items, key=key)


def _q(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render(discovery: Discovery) -> str:
    """The `[tool.session-lint]` block for what was discovered, with where each value came from."""
    session_module = discovery.session_module[0] if discovery.session_module else None
    lines = ["[tool.session-lint]",
             f"# Discovered by `session-lint --init` in {discovery.files} files; review before committing."]

    if discovery.session_module:
        lines.append(f"session-module = {_q(session_module)}  # {discovery.session_module[1]}")
    else:
        lines.append("# session-module: not found (no sessionmaker, session context manager or dependency)")

    chosen: set[str] = set()  # helpers written as one kind are not written as another
    for flavor, prefix in (("sync", ""), ("async", "async-")):
        factories = [f for f in discovery.factories if f.flavor == flavor]
        # names used only by the session module itself (`_factory`) stay out when a public one exists
        public = [f for f in factories if not f.name.startswith("_")]
        factories = public or factories
        # A sessionmaker of another module (a script's own engine, a test database) is not the
        # project's factory: configured, a fix would point its sessions at the session module's.
        elsewhere = [f for f in factories if session_module and f.qualified.rsplit(".", 1)[0] != session_module]
        factories = [f for f in factories if f not in elsewhere]
        key = f"{prefix}session-factories"
        if factories:
            lines.append(f"{key} = [")
            for item in factories:
                note = f" ({item.note})" if item.note else ""
                lines.append(f"    {_q(item.name)},  # {item.origin}{note}")
            lines.append("]")
        else:
            lines.append(f"# {key}: none found")
        for item in elsewhere:
            lines.append(f"#   not configured: {item.qualified} ({item.origin}), its own sessionmaker "
                         "(calls are reported as raw sessions, never rewritten)")
        for label, items in (("context-manager", discovery.context_managers),
                             ("dependency", discovery.dependencies)):
            ranked = _rank([i for i in items if i.flavor == flavor], session_module)
            key = f"{prefix}{label}"
            if not ranked:
                default = getattr(Config(), key.replace("-", "_"))
                lines.append(f"# {key}: none found; the default {_q(default)} stays, and a fix that uses it "
                             "imports it from session-module")
                continue
            # SPEC §2: several standard helpers of a kind, the first the one fixes use. The helpers
            # of the module that defines the best one are the project's (dispatch: get_session and
            # get_organization_session); another module's namesake, or a helper already chosen as
            # another kind (atom's get_db_session, also passed to Depends), is only mentioned.
            home = ranked[0].qualified.rsplit(".", 1)[0]
            listed = [i for i in ranked if i.qualified.rsplit(".", 1)[0] == home and i.qualified not in chosen]
            listed = listed or ranked[:1]
            chosen.update(i.qualified for i in listed)
            names = [_configured_name(i, items, session_module) for i in listed]
            if len(listed) == 1:
                lines.append(f"{key} = {_q(names[0])}  # {_where(listed[0])}")
            else:
                lines.append(f"{key} = [")
                lines += [f"    {_q(name)},  # {_where(item)}" for name, item in zip(names, listed)]
                lines.append("]")
            for other in ranked:
                if other not in listed:
                    lines.append(f"#   also found: {other.qualified} ({_where(other)})")
        session_type = next((i.session_type for i in _rank(
            [i for i in discovery.dependencies + discovery.context_managers if i.flavor == flavor],
            session_module) if i.session_type and "." in i.session_type), None)
        if session_type and session_type != DEFAULT_SESSION_TYPES[flavor] and flavor_of_type(session_type) == flavor:
            lines.append(f"{prefix}session-type = {_q(session_type)}  # annotation of the dependency")

    if discovery.migrations:
        lines.append("exclude = [  # Alembic migrations: a session there must use the migration's connection")
        for origin in discovery.migrations:
            directory = origin.path.rsplit("/", 1)[0] if "/" in origin.path else "."
            lines.append(f"    {_q(directory)},  # {origin.path}")
        lines.append("]")

    for alias_source, alias in discovery.aliases:
        lines.append(f"# dependency alias {alias.origin}: {alias_source}")
    if discovery.expire_on_commit is not None:
        value, origin = discovery.expire_on_commit
        lines.append(f"expire-on-commit = {'true' if value else 'false'}  # {origin}")
    else:
        lines.append("expire-on-commit = true  # SQLAlchemy's default: no sessionmaker(...) sets it")

    lines += ["", "[tool.session-lint.deprecated]"]
    if discovery.deprecated:
        for old, new, origin in discovery.deprecated:
            lines.append(f"{_q(old)} = {_q(new)}  # {origin}")
        for old, new, origin in discovery.differing:
            lines.append(f"# {old} ({origin}) is not {new}: their parameters or their commits differ, so "
                         "SES004 reports its imports without rewriting them")
    else:
        lines.append("# none found (no module warns with DeprecationWarning and forwards to the session module)")
    return "\n".join(lines) + "\n"


def _where(item: Item) -> str:
    return f"{item.origin}, used {item.uses} times" if item.uses else str(item.origin)


def _configured_name(item: Item, items: list[Item], session_module: str | None) -> str:
    """The bare name for a helper of the session module that no other module's helper shares."""
    in_module = item.qualified.rsplit(".", 1)[0] == session_module
    return item.name if in_module and _unique(item, items) else item.qualified


def _unique(item: Item, items: list[Item]) -> bool:
    """Is the bare name enough (no other discovered helper of another module shares it)?"""
    return all(other.name != item.name or other.qualified == item.qualified for other in items)


# -- --init / --init --write -----------------------------------------------------------

def write_config(block: str, root: Path) -> Path:
    """Append `block` to root/pyproject.toml (created when absent), keeping the file's bytes."""
    target = root / "pyproject.toml"
    if target.exists():
        try:
            data = target.read_bytes()
            parsed = tomllib.loads(data.decode("utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read {target}: {exc.strerror or exc}") from None
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{target}: invalid TOML: {exc}") from None
        if "session-lint" in parsed.get("tool", {}):
            raise ConfigError(f"{target} already has a [tool.session-lint] table; not changed")
        newline = b"\r\n" if b"\r\n" in data else b"\n"
        addition = block.replace("\n", newline.decode()).encode("utf-8")
        if data and not data.endswith(b"\n"):
            data += newline
        if data.strip():
            data += newline
        _write(target, data + addition)
    else:
        _write(target, block.encode("utf-8"))
    return target


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.session-lint-init")
    try:
        tmp.write_bytes(data)
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
    except OSError as exc:
        if tmp.exists():
            tmp.unlink()
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from None


def run_init(path: str | Path, write: bool = False) -> tuple[str, Path | None]:
    """The generated block, and the file written when `write` is set."""
    root = Path(path)
    if not root.is_dir():
        raise ConfigError(f"--init expects a project directory, got {path}")
    block = render(discover_conventions(root))
    return block, (write_config(block, root) if write else None)
