"""`session-lint`: the command line. Exit codes: 0 clean, 1 findings remain, 2 error."""

from __future__ import annotations

import signal
import sys
from dataclasses import replace
from pathlib import Path

import click

from .. import __version__
from ..config import Config, ConfigError, check_codes, config_file_in
from ..diagnostics import syntax_error
from ..discovery import discover
from .output import (
    ALL_PASSED,
    SourceLines,
    format_concise,
    format_full,
    format_github,
    format_json,
    format_sarif,
    format_statistics,
    summary,
    use_color,
)
from ..engine.parallel import Options, default_jobs, run_jobs
from ..rules import all_rules, rule_by_code
from ..engine.runner import FileOutcome, Mode, process_text
from ..engine.signals import Interrupted, exit_now
from ..sourcefile import Source, SourceError

OUTPUT_FORMATS = ("text", "concise", "json", "sarif", "github")
NO_CONFIG_NOTICE = ("session-lint: no [tool.session-lint] configuration found, so the defaults are in use "
                    "(core.database, SessionLocal, get_db, get_db_session); `session-lint --init` discovers "
                    "your project's own names.")

# What a warm run needs is imported above; the baseline, --init, --server and the docs are imported
# by the options that use them, and the engine modules import LibCST, the screen and the pool only
# for files the cache does not answer (session_lint/engine/parallel.py).


def _codes(value: str | None, option: str) -> tuple[str, ...] | None:
    """The codes of a --select/--ignore/--extend-select value; an empty value or an unknown code
    is an error (`--select ''` or `--select SES042` would otherwise check nothing and exit 0)."""
    if value is None:
        return None
    codes = tuple(c.strip().upper() for c in value.split(",") if c.strip())
    if not codes:
        raise ConfigError(f"{option} needs at least one rule code or prefix, got {value!r}")
    check_codes(codes, option)
    return codes


def _fail(message: str) -> None:
    click.echo(f"session-lint: error: {message}", err=True)
    sys.exit(2)


class _Configs:
    """The configuration for each linted path: --config, or the nearest pyproject.toml."""

    def __init__(self, explicit: Path | None, overrides: dict) -> None:
        self.overrides = overrides
        self.explicit = self._apply(Config.from_file(explicit)) if explicit else None  # (one object: one cache)
        self.cache: dict[Path, Config] = {}
        self.defaults_used = False  # some path had no [tool.session-lint] anywhere above it

    def for_path(self, path: Path) -> Config:
        return self.for_directory((path if path.is_dir() else path.parent).resolve())

    def for_directory(self, directory: Path) -> Config:
        """`for_path` of a resolved directory."""
        if self.explicit is not None:
            return self.explicit
        config = self._for_directory(directory)
        self.defaults_used |= config.source is None
        return config

    def _for_directory(self, directory: Path) -> Config:
        """`Config.discover`, each directory's pyproject.toml read once: a directory without a
        configuration of its own has its parent's (the same object, so one cache and one screen)."""
        if directory not in self.cache:
            found = config_file_in(directory)
            if found is not None:
                self.cache[directory] = self._apply(Config.from_file(found))
            elif directory.parent != directory:
                self.cache[directory] = self._for_directory(directory.parent)
            else:
                self.cache[directory] = self._apply(Config.discover(directory))  # the defaults
        return self.cache[directory]

    def _apply(self, config: Config) -> Config:
        select, ignore, extend = self.overrides["select"], self.overrides["ignore"], self.overrides["extend_select"]
        return replace(
            config,
            select=select if select is not None else config.select,
            ignore=config.ignore + (ignore or ()),
            extend_select=config.extend_select + (extend or ()),
        )


def explain(code: str) -> str:
    from .docs import explain as explain_rule

    rule = rule_by_code(code)
    if rule is None:
        _fail(f"unknown rule {code!r} (see `session-lint --list-rules`)")
    return explain_rule(rule)


def list_rules() -> str:
    width = max(30, *(len(rule.name) + 2 for rule in all_rules()))  # names longer than 28 keep a gap
    lines = [f"{'code':<8}{'name':<{width}}{'fix':<11}summary"]
    for rule in all_rules():
        lines.append(f"{rule.code:<8}{rule.name:<{width}}{rule.fix_availability:<11}{rule.summary}")
    return "\n".join(lines) + "\n"


class _OneLineErrors(click.Command):
    """Usage errors as one `session-lint: error: ...` line (exit 2), like every other bad input."""

    def main(self, *args, **kwargs):
        kwargs.pop("standalone_mode", None)
        try:
            return super().main(*args, standalone_mode=False, **kwargs)
        except click.ClickException as exc:
            _fail(exc.format_message().replace("\n", " "))
        except click.Abort as exc:
            if isinstance(exc.__context__, KeyboardInterrupt):  # Ctrl-C outside the run (the output):
                stop = Interrupted(signal.SIGINT)  # exit as a stopped run does, as the signal would
                click.echo(f"session-lint: {stop}", err=True)
                exit_now(stop.exit_code)
            _fail("aborted")


@click.command(cls=_OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--fix", is_flag=True, help="Apply safe fixes in place.")
@click.option("--unsafe-fixes", is_flag=True, help="With --fix/--diff, apply unsafe fixes too.")
@click.option("--diff", is_flag=True, help="Show the diff --fix would make; write nothing.")
@click.option("--select", help="Comma-separated rule codes or prefixes to enable (replaces the configured select).")
@click.option("--ignore", help="Comma-separated rule codes or prefixes to disable.")
@click.option("--extend-select", help="Comma-separated rule codes or prefixes to enable on top of select.")
@click.option("--output-format", type=click.Choice(OUTPUT_FORMATS), default="text", show_default=True)
@click.option("--config", "config_file", type=click.Path(path_type=Path, dir_okay=False),
              help="Read [tool.session-lint] from this file instead of the nearest pyproject.toml.")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when findings remain (2 still means an error).")
@click.option("--statistics", is_flag=True, help="Show counts per rule instead of each finding.")
@click.option("--baseline", "baseline_file", type=click.Path(path_type=Path, dir_okay=False),
              help="Report only findings not recorded in this baseline file.")
@click.option("--write-baseline", "write_baseline_file", type=click.Path(path_type=Path, dir_okay=False),
              help="Record the current findings in this baseline file and exit 0.")
@click.option("--init", "init", is_flag=True,
              help="Discover the project's session conventions in PATH and print a [tool.session-lint] block.")
@click.option("--write", "init_write", is_flag=True, help="With --init, add the block to PATH/pyproject.toml.")
@click.option("--stdin-filename", help="Lint source read from stdin as if it were this file.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              help="Worker processes (default: number of CPUs).")
@click.option("--no-cache", is_flag=True, help="Do not read or write the result cache (.session_lint_cache/).")
@click.option("--server", is_flag=True,
              help="Run the language server (LSP over stdio) for editors; needs the `server` extra.")
@click.option("--explain", "explain_code", metavar="CODE", help="Show a rule's documentation.")
@click.option("--list-rules", "show_rules", is_flag=True, help="List every rule.")
@click.version_option(__version__, "--version", prog_name="session-lint")
def main(paths, fix, unsafe_fixes, diff, select, ignore, extend_select, output_format, config_file,
         exit_zero, statistics, baseline_file, write_baseline_file, init, init_write, stdin_filename,
         jobs, no_cache, server, explain_code, show_rules):
    """Find and fix SQLAlchemy session anti-patterns in PATHS (default: .)."""
    if server:
        _serve(paths)
    if init or init_write:
        _init(paths, init_write)
        return
    if baseline_file and write_baseline_file:
        _fail("--baseline and --write-baseline cannot be combined")
    if explain_code:
        click.echo(explain(explain_code), nl=False)
        return
    if show_rules:
        click.echo(list_rules(), nl=False)
        return
    mode = Mode.DIFF if diff else Mode.FIX if fix else Mode.CHECK
    sources = SourceLines()
    try:
        baseline = None
        if baseline_file:
            from .baseline import Baseline

            baseline = Baseline.load(baseline_file)
        configs = _Configs(config_file, {"select": _codes(select, "--select"), "ignore": _codes(ignore, "--ignore"),
                                         "extend_select": _codes(extend_select, "--extend-select")})
        from_stdin = stdin_filename is not None or list(paths) == [Path("-")]
        if from_stdin:
            outcomes = [_run_stdin(stdin_filename or "-", configs, mode, unsafe_fixes, output_format, sources)]
        else:
            outcomes = _run_paths(list(paths) or [Path(".")], configs, mode, unsafe_fixes, output_format,
                                  jobs or default_jobs(), not no_cache)
    except ConfigError as exc:
        _fail(str(exc))
    except click.BadParameter as exc:
        _fail(exc.format_message())
    except Interrupted as stop:  # SIGINT / SIGTERM: say what was written, exit as the signal would
        click.echo(f"session-lint: {stop}", err=True)
        exit_now(stop.exit_code)
    if configs.defaults_used and config_file is None:
        click.echo(NO_CONFIG_NOTICE, err=True)
    if write_baseline_file:
        from .baseline import write_baseline

        diagnostics = sorted((d for o in outcomes for d in o.diagnostics), key=lambda d: d.sort_key)
        try:
            count = write_baseline(write_baseline_file, diagnostics, sources)
        except ConfigError as exc:
            _fail(str(exc))
        click.echo(f"Wrote {count} finding{'s' if count != 1 else ''} to {write_baseline_file}.", err=True)
        sys.exit(2 if any(o.error for o in outcomes) else 0)
    if baseline is not None:
        for outcome in outcomes:
            outcome.diagnostics = baseline.new_findings(outcome.diagnostics, sources)
    # With stdin + --fix the fixed source owns stdout, so findings go to stderr.
    out = sys.stderr if from_stdin and mode is Mode.FIX else sys.stdout
    sys.exit(_report(outcomes, mode, unsafe_fixes, output_format, exit_zero, out, statistics, sources))


def _serve(paths) -> None:
    """`--server`: the language server (session_lint/frontends/server.py), when its extra is installed."""
    if paths:
        _fail("--server takes no paths (the editor sends the documents)")
    from .server import INSTALL_HINT, missing_dependency, main as serve

    missing = missing_dependency()
    if missing:
        _fail(f"--server needs the `server` extra ({missing} is not installed): {INSTALL_HINT}")
    serve()


def _init(paths, write: bool) -> None:
    if len(paths) > 1:
        _fail("--init takes one project directory")
    from .init import run_init  # loads the whole-project discovery (analysis/conventions)

    try:
        block, written = run_init(paths[0] if paths else Path("."), write=write)
    except ConfigError as exc:
        _fail(str(exc))
    if written:
        click.echo(f"Added [tool.session-lint] to {written}.", err=True)
    else:
        click.echo(block, nl=False)


def _run_paths(paths: list[Path], configs: _Configs, mode: Mode, unsafe_fixes: bool,
               output_format: str, workers: int = 1, use_cache: bool = False) -> list[FileOutcome]:
    for path in paths:
        if not path.exists():
            raise ConfigError(f"{path}: no such file or directory")
    jobs: list[tuple[Path, Config]] = []
    for root in paths:
        root_config = configs.for_path(root)
        resolved_root = (root if root.is_dir() else root.parent).resolve()
        by_directory: dict[Path, Config] = {}  # (resolving every file's directory was most of discovery)
        for file in discover([root], root_config.is_excluded):
            directory = file.parent
            if directory not in by_directory:
                try:  # discovery follows no directory symlink: below the root, no need to resolve
                    resolved = resolved_root / directory.relative_to(root) if root.is_dir() else directory.resolve()
                except ValueError:
                    resolved = directory.resolve()
                by_directory[directory] = configs.for_directory(resolved) if resolved != resolved_root \
                    else root_config
            jobs.append((file, by_directory[directory]))
    # session_lint/engine/parallel.py: cache (CHECK mode only), screen, process pool; outcomes keep job order
    options = Options(mode, unsafe_fixes, with_edits=output_format in ("json", "sarif"), use_cache=use_cache)
    return run_jobs(jobs, options, workers)


def _run_stdin(name: str, configs: _Configs, mode: Mode, unsafe_fixes: bool,
               output_format: str, sources: SourceLines) -> FileOutcome:
    # Bytes, decoded like a file's (PEP 263 cookie, BOM): the terminal's locale says nothing
    # about the encoding of the source an editor pipes in.
    data = _binary(sys.stdin).read()
    config = configs.for_path(Path(name) if name != "-" else Path("."))
    try:
        source = Source.from_bytes(data)
    except SourceError as exc:
        if mode is Mode.FIX:  # the editor replaces the buffer with stdout: give it back unchanged
            _write_stdout_bytes(data)
        return FileOutcome(name, [syntax_error(name, str(exc))])
    sources.register(name, source.text)
    outcome, fixed_text = process_text(source.text, name, config, mode, unsafe_fixes,
                                       output_format in ("json", "sarif"))
    if mode is Mode.FIX:  # stdin has no file to write: print the fixed source, in its own encoding
        _write_stdout_bytes(source.encode(fixed_text))
    return outcome


def _binary(stream):
    """The byte stream under a text stream (Click's test runner gives one too); Click 8.2+
    deprecates `click.get_binary_stream`."""
    return getattr(stream, "buffer", stream)


def _write_stdout_bytes(data: bytes) -> None:
    sys.stdout.flush()
    stream = _binary(sys.stdout)
    stream.write(data)
    stream.flush()


def _report(outcomes: list[FileOutcome], mode: Mode, unsafe_fixes: bool, output_format: str,
            exit_zero: bool, out, statistics: bool = False, sources: SourceLines | None = None) -> int:
    sources = sources or SourceLines()
    diagnostics = sorted((d for o in outcomes for d in o.diagnostics), key=lambda d: d.sort_key)
    errors = [o.error for o in outcomes if o.error]
    fixed = sum(o.fixed for o in outcomes)
    if mode is Mode.DIFF:
        for outcome in outcomes:
            out.write(outcome.diff)
        if fixed:
            click.echo(f"Would fix {fixed} error{'s' if fixed != 1 else ''}.", err=True)
    elif statistics:
        format_statistics(diagnostics, out, unsafe_fixes, as_json=output_format == "json")
    elif output_format == "json":
        format_json(diagnostics, out)
    elif output_format == "sarif":
        from .baseline import fingerprint_hash, fingerprints

        hashes = dict(zip(map(id, diagnostics), map(fingerprint_hash,
                                                    fingerprints(diagnostics, sources, Path.cwd()))))
        format_sarif(diagnostics, out, fingerprint=lambda d: hashes.get(id(d)))
    elif output_format == "github":
        format_github(diagnostics, out)
    else:
        if output_format == "concise":
            format_concise(diagnostics, out)
        else:
            format_full(diagnostics, out, sources, color=use_color(out))
        closing = summary(diagnostics, fixed if mode is Mode.FIX else 0, unsafe_fixes)
        if not (errors and closing == ALL_PASSED):  # a file that errored was not checked (or not written)
            click.echo(closing, file=out)
    for error in errors:
        click.echo(f"session-lint: error: {error}", err=True)
    if errors:
        return 2
    if exit_zero:
        return 0
    if mode is Mode.DIFF:
        return 1 if fixed else 0
    return 1 if diagnostics else 0
