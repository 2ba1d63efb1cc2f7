"""The rule registry: every module in this package named `sesNNN_*.py` defines one rule.

Importing this package does not load the rules (nor LibCST): `rule_codes()` reads the
module names, which is all the screen and the cache need; `all_rules()` imports them.

A rule module states, next to its detection, what a file must contain for it to fire:
`SCREEN_TRIGGERS = ("raw",)` - names of the `ast` screen's triggers (session_lint/engine/screen.py
documents them, screen_async.py and screen_queries.py the async and query ones).
`screen_triggers()` reads that line from the module's source, so the screen runs before (and
often instead of) loading LibCST. A rule without the line is not screened:
every file reaches LibCST for it (correct, only slower).
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
from pathlib import Path
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .base import Rule

__all__ = ["Rule", "all_rules", "docs_url", "opt_in_codes", "rule_by_code", "rule_codes", "rule_names"]


def __getattr__(name: str):  # `from session_lint.rules import Rule` loads the base class on demand
    if name == "Rule":
        from . import base

        return getattr(base, name)
    raise AttributeError(name)


def _rule_modules() -> list[str]:
    return sorted(info.name for info in pkgutil.iter_modules(__path__) if info.name.startswith("ses"))


@lru_cache(maxsize=None)
def rule_codes() -> tuple[str, ...]:
    """The codes of every rule, from the module names (`ses001_manual_session` -> SES001)."""
    return tuple(name.partition("_")[0].upper() for name in _rule_modules())


@lru_cache(maxsize=None)
def all_rules() -> tuple[type[Rule], ...]:
    from .base import Rule

    rules = []
    for name in _rule_modules():
        module = importlib.import_module(f"{__name__}.{name}")
        found = [obj for obj in vars(module).values()
                 if isinstance(obj, type) and issubclass(obj, Rule) and obj is not Rule
                 and obj.__module__ == module.__name__]
        if len(found) != 1:
            raise RuntimeError(f"{module.__name__} must define exactly one Rule, found {len(found)}")
        if found[0].code != name.partition("_")[0].upper():
            raise RuntimeError(f"{module.__name__} defines {found[0].code}: the module name must start with it")
        rules.append(found[0])
    return tuple(sorted(rules, key=lambda r: r.code))


_TRIGGERS_LINE = re.compile(r"^SCREEN_TRIGGERS\s*=\s*(\([^)\n]*\))\s*(?:#.*)?$", re.MULTILINE)


@lru_cache(maxsize=None)
def screen_triggers() -> dict[str, frozenset[str]]:
    """{code: the screen triggers its module declares}, for the rules that declare them (read from
    the module's source: importing the rules would load LibCST)."""
    found = {}
    for name in _rule_modules():
        source = (Path(__path__[0]) / f"{name}.py").read_text(encoding="utf-8")
        match = _TRIGGERS_LINE.search(source)
        if match is not None:
            found[name.partition("_")[0].upper()] = frozenset(ast.literal_eval(match.group(1)))
    return found


_OPT_IN_LINE = re.compile(r"^\s+default_enabled\s*=\s*False\b", re.MULTILINE)


@lru_cache(maxsize=None)
def opt_in_codes() -> frozenset[str]:
    """The codes of the rules that are off unless named by their full code (`default_enabled = False`
    in the class: SES015). Read from the modules' source, like `screen_triggers`: the selection is
    computed before LibCST is loaded (tests/test_opt_in_rules.py checks it matches the classes)."""
    found = set()
    for name in _rule_modules():
        source = (Path(__path__[0]) / f"{name}.py").read_text(encoding="utf-8")
        if _OPT_IN_LINE.search(source):
            found.add(name.partition("_")[0].upper())
    return frozenset(found)


_NAME_LINE = re.compile(r'^    name = "([a-z0-9-]+)"', re.MULTILINE)


@lru_cache(maxsize=None)
def rule_names() -> dict[str, str]:
    """{code: the rule's kebab-case name}, read from the modules' source like `screen_triggers`: the
    output formats name the rules of cached findings without loading LibCST (tests/test_cache_warm.py
    checks them against the classes)."""
    found = {}
    for name in _rule_modules():
        match = _NAME_LINE.search((Path(__path__[0]) / f"{name}.py").read_text(encoding="utf-8"))
        if match is not None:
            found[name.partition("_")[0].upper()] = match.group(1)
    return found


def docs_url(code: str, name: str) -> str:
    """Where a rule is documented (`Rule.url`)."""
    return f"https://github.com/session-lint/session-lint/blob/main/docs/rules.md#{code.lower()}-{name}"


def rule_by_code(code: str) -> type[Rule] | None:
    code = code.upper()
    return next((r for r in all_rules() if r.code == code or r.name == code.lower()), None)
