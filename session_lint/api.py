"""The library API: lint or fix a source text (what the CLI, flake8 plugin and tests use)."""

from .config import Config, ConfigError
from .diagnostics import Applicability, Diagnostic, Fix
from .engine.linter import FixError, FixResult, fix_source, lint_source

__all__ = ["Applicability", "Config", "ConfigError", "Diagnostic", "Fix", "FixError",
           "FixResult", "fix_source", "lint_source"]
