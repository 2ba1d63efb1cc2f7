"""The rule registry: every module in this package named `sesNNN_*.py` defines one rule."""

from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache

from .base import Rule, RuleContext

__all__ = ["Rule", "RuleContext", "all_rules", "rule_by_code"]


@lru_cache(maxsize=None)
def all_rules() -> tuple[type[Rule], ...]:
    rules = []
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("ses"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        found = [obj for obj in vars(module).values()
                 if isinstance(obj, type) and issubclass(obj, Rule) and obj is not Rule
                 and obj.__module__ == module.__name__]
        if len(found) != 1:
            raise RuntimeError(f"{module.__name__} must define exactly one Rule, found {len(found)}")
        rules.append(found[0])
    return tuple(sorted(rules, key=lambda r: r.code))


def rule_by_code(code: str) -> type[Rule] | None:
    code = code.upper()
    return next((r for r in all_rules() if r.code == code or r.name == code.lower()), None)
