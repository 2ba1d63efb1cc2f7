"""flake8 plugin: `flake8 --select SES` reports what `session-lint` reports for the same file and configuration."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Iterator

from .. import __version__
from ..config import Config, ConfigError
from ..engine.linter import run_rules
from ..engine.runner import screen_for
from ..rules import opt_in_codes


class SessionLintPlugin:
    name = "session-lint"
    version = __version__
    # opt-in rules (SES015) that flake8's own `--select` / `--extend-select` name by their full code:
    # enabled as if session-lint's configuration named them (a prefix such as `SES` does not)
    flake8_opt_ins: tuple[str, ...] = ()

    @classmethod
    def parse_options(cls, options) -> None:
        named = {code.strip().upper() for attr in ("select", "extend_select", "enable_extensions")
                 for code in (getattr(options, attr, None) or ()) if isinstance(code, str)}
        cls.flake8_opt_ins = tuple(sorted(named & opt_in_codes()))

    def __init__(self, tree, filename: str, lines: list[str]) -> None:  # `tree` marks a file-level plugin
        self.filename = filename
        self.lines = lines

    def run(self) -> Iterator[tuple[int, int, str, type]]:
        # flake8 aborts the whole run (every file's findings) when a plugin raises: an internal
        # error becomes this file's SES999 instead, like a file the CLI cannot lint.
        try:
            findings = list(self._run())
        except Exception as exc:
            message = f"SES999 session-lint internal error ({type(exc).__name__}: {exc}); please report it"
            findings = [(1, 0, message, type(self))]
        yield from findings

    def _run(self) -> Iterator[tuple[int, int, str, type]]:
        path = Path(self.filename) if self.filename not in ("-", "stdin") else Path.cwd() / "stdin.py"
        try:
            config = Config.discover(path)
        except ConfigError as exc:
            yield 1, 0, f"SES999 invalid session-lint configuration: {exc}", type(self)
            return
        if self.flake8_opt_ins:
            config = replace(config, extend_select=config.extend_select + self.flake8_opt_ins)
        if config.is_excluded(path):  # `exclude` from [tool.session-lint], as the CLI's walk applies it
            return
        source = "".join(self.lines)
        # the CLI's cheap screen: files no rule can flag never pay for LibCST
        screened = screen_for(config, self.filename).verdict(source.encode("utf-8", "surrogatepass"), self.filename)
        if not screened.may_report:
            return
        # flake8 applies `# noqa` itself; select/ignore come from session-lint's own config as well
        for d in run_rules(source, self.filename, config, screened).diagnostics:
            yield d.line, d.column - 1, f"{d.code} {d.message}", type(self)
