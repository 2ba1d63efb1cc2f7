"""Real-code harness: session-lint on public FastAPI/SQLAlchemy projects, as a new user runs it.

    python bench/realworld.py --mirrors /work/.mirror              # every project of the manifest
    python bench/realworld.py --mirrors /work/.mirror --only atom,onyx --no-ruff

For each project of `bench/realworld.toml` (name, repository, commit, source root) this
1. materialises the source root at the pinned commit from a local git directory
   (`<mirrors>/<owner>+<name>/repo`, `<mirrors>/<owner>+<name>` or `<mirrors>/<name>`; Python, TOML,
   `.cfg` and `.gitignore` files only) under --work,
2. runs `session-lint --init --write` in the root (a new user's configuration),
3. lints (`--no-cache`), timing it against `ruff check --select ALL --no-cache` in the same run,
4. applies `--fix --unsafe-fixes` to a git copy, checks every changed file still parses, lints the
   result (a finding that was not there before is a bad fix), fixes again (any change: not idempotent),
5. scores `bench/labels/<name>.txt` when there is one: `path line CODE why` must be reported,
   `path line - why` must not be reported (any code),
6. lints again with `bench/configs/<name>.toml` when there is one (a configuration written by hand
   from the project's session module) and lists the findings that differ from step 3's: what
   `--init` gets wrong, measured by what it changes.

The fix diff of each project is kept in `<work>/<name>/fix.diff` for a hunk-by-hunk review, the
findings in `findings.json`. Nothing here is committed but this script, the manifest and the labels.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import resource
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

HERE = Path(__file__).resolve().parent
CHECKOUT = HERE.parent
KEEP_SUFFIXES = (".py", ".pyi", ".toml", ".cfg", ".ini")
ENV = {**os.environ, "PYTHONPATH": str(CHECKOUT), "NO_COLOR": "1"}


@dataclass
class Project:
    name: str
    repository: str
    commit: str
    root: str


@dataclass
class Report:
    name: str
    lines: int = 0
    files: int = 0
    init_rc: int = 0
    lint_seconds: float = 0.0
    ruff_seconds: float | None = None
    lint_cpu: float = 0.0
    ruff_cpu: float | None = None
    codes: Counter = field(default_factory=Counter)
    crashes: list[str] = field(default_factory=list)
    ses999: int = 0
    fixed_files: int = 0
    fixes_applied: int = 0
    unparsable: list[str] = field(default_factory=list)
    new_findings: list[str] = field(default_factory=list)
    not_idempotent: list[str] = field(default_factory=list)
    labels: dict | None = None
    # findings with --init's configuration and not with the hand-written one (configs/<name>.toml), and back
    init_only: list[str] | None = None
    hand_only: list[str] | None = None


HAND_CONFIG = ".session-lint-hand.toml"  # the hand-written configuration, copied into the project root


def load_manifest(path: Path) -> list[Project]:
    data = tomllib.loads(path.read_text())
    return [Project(**entry) for entry in data["project"]]


def git_dir(mirrors: Path, project: Project) -> Path:
    owner_name = project.repository.replace("/", "+")
    for candidate in (mirrors / owner_name / "repo", mirrors / owner_name, mirrors / project.name):
        if (candidate / "HEAD").is_file() or (candidate / ".git").exists():
            return candidate
    raise SystemExit(f"realworld: no git directory for {project.repository} under {mirrors} "
                     f"(fetch it first)")


def materialise(project: Project, mirrors: Path, dest: Path) -> Path:
    """The project's files at the pinned commit under `dest` (reused when already there)."""
    stamp = dest / ".materialised"
    if stamp.is_file() and stamp.read_text() == project.commit:
        return dest
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    repo = git_dir(mirrors, project)
    git = ["git", f"--git-dir={repo / '.git' if (repo / '.git').exists() else repo}"]
    listing = subprocess.run([*git, "ls-tree", "-r", "-z", project.commit], capture_output=True, check=True).stdout
    wanted: list[tuple[str, str]] = []
    for entry in listing.split(b"\0"):
        if not entry:
            continue
        meta, _, name = entry.partition(b"\t")
        mode, kind, sha = meta.split()
        path = name.decode("utf-8", "surrogateescape")
        if kind == b"blob" and mode != b"120000" and (path.endswith(KEEP_SUFFIXES) or path.endswith(".gitignore")):
            wanted.append((sha.decode(), path))
    # One `cat-file --batch` for all blobs; a snapshot may lack its largest files: skip those.
    proc = subprocess.Popen([*git, "cat-file", "--batch"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    def feed() -> None:  # from a thread: cat-file blocks on a full stdout while we write
        proc.stdin.write("".join(f"{sha}\n" for sha, _ in wanted).encode())
        proc.stdin.close()

    threading.Thread(target=feed, daemon=True).start()
    for sha, path in wanted:
        header = proc.stdout.readline().split()
        if len(header) < 3 or header[1] == b"missing":
            continue
        data = proc.stdout.read(int(header[2]))
        proc.stdout.read(1)
        target = dest / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    proc.wait()
    stamp.write_text(project.commit)
    return dest


def run(cmd: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess, float]:
    return run_timed(cmd, cwd)[:2]


def run_timed(cmd: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess, float, float]:
    """(process, wall seconds, CPU seconds of the command and its children). On a shared machine the
    CPU time is the steadier figure: other load stretches wall time, not the work done."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=ENV)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return proc, wall, cpu


def session_lint(*args: str) -> list[str]:
    return [sys.executable, "-m", "session_lint", *args]


FINDING = re.compile(r"^(?P<path>.+?):(?P<row>\d+):(?P<column>\d+): (?P<code>SES\d{3}) (?P<message>.*)$")


def lint_findings(root: Path, report: Report, *extra: str) -> tuple[list[dict], float, float]:
    """Findings in JSON's shape, read from the concise text output (JSON output computes every fix's
    edits, which costs far more than the lint on big files: issue 13)."""
    proc, seconds, cpu = run_timed(session_lint("--output-format", "concise", "--no-cache", "--exit-zero", *extra, "."), root)
    crashed(proc, "lint", report)
    findings = []
    for line in proc.stdout.splitlines():
        match = FINDING.match(line)
        if match:
            findings.append({"code": match["code"], "message": match["message"],
                             "filename": str(root / match["path"]),
                             "location": {"row": int(match["row"]), "column": int(match["column"])}})
    return findings, seconds, cpu


def crashed(proc: subprocess.CompletedProcess, step: str, report: Report) -> None:
    if proc.returncode not in (0, 1) or "Traceback" in proc.stderr or "internal error" in proc.stderr:
        report.crashes.append(f"{step}: exit {proc.returncode}: {proc.stderr.strip()[-400:]}")


def relative(diagnostic: dict, root: Path) -> str:
    return os.path.relpath(diagnostic["filename"], root)


def finding_keys(findings: list[dict], root: Path) -> Counter:
    """(path, code, offending line text) per finding: stable when fixes move lines around."""
    keys: Counter = Counter()
    texts: dict[str, list[str]] = {}
    for d in findings:
        path = relative(d, root)
        if path not in texts:
            try:
                texts[path] = (root / path).read_text(encoding="utf-8", errors="replace").splitlines()
            except OSError:
                texts[path] = []
        lines = texts[path]
        row = d["location"]["row"]
        text = lines[row - 1].strip() if 0 < row <= len(lines) else ""
        keys[(path, d["code"], text)] += 1
    return keys


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=h", "-c", "user.email=h@h", *args], cwd=root,
                          capture_output=True, text=True, check=True).stdout


def changed_files(root: Path) -> list[str]:
    out = git(root, "diff", "--name-only", "-z", "HEAD")
    return [p for p in out.split("\0") if p]


def score_labels(labels_file: Path, findings: list[dict], root: Path) -> dict:
    reported: dict[tuple[str, int], set[str]] = {}
    for d in findings:
        reported.setdefault((relative(d, root), d["location"]["row"]), set()).add(d["code"])
    must, must_not, missed, wrong = 0, 0, [], []
    for raw in labels_file.read_text().splitlines():
        line = raw.split("#", 1)[0].strip() if raw.lstrip().startswith("#") else raw.strip()
        if not line:
            continue
        path, row, code, *_why = line.split(maxsplit=3)
        codes = reported.get((path, int(row)), set())
        if code == "-":
            must_not += 1
            if codes:
                wrong.append(f"{path}:{row} {','.join(sorted(codes))}")
        else:
            must += 1
            if code not in codes:
                missed.append(f"{path}:{row} {code}")
    labelled = {(path, row) for path, row, *_ in (ln.split() for ln in labels_file.read_text().splitlines()
                                                  if ln.strip() and not ln.lstrip().startswith("#"))}
    unlabelled = sorted(f"{p}:{r} {','.join(sorted(c))}" for (p, r), c in reported.items()
                        if (p, str(r)) not in labelled)
    return {"must": must, "must_not": must_not, "missed": missed, "wrong": wrong,
            "recall": (must - len(missed)) / must if must else None, "unlabelled": unlabelled}


def evaluate(project: Project, args: argparse.Namespace) -> Report:
    report = Report(project.name)
    base = args.work / project.name
    pristine = materialise(project, args.mirrors, base / "pristine")
    copy = base / "copy"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(pristine, copy, ignore=shutil.ignore_patterns(".materialised"))
    root = copy / project.root
    for file in root.rglob("*.py"):
        report.files += 1
        with open(file, "rb") as handle:
            report.lines += sum(1 for _ in handle)

    proc, _ = run(session_lint("--init", "--write"), root)
    report.init_rc = proc.returncode
    crashed(proc, "--init", report)
    (base / "init.txt").write_text(proc.stdout + proc.stderr)
    hand = args.configs / f"{project.name}.toml"
    if hand.is_file():  # beside the sources: its relative excludes mean what they say there
        shutil.copyfile(hand, root / HAND_CONFIG)
    git(copy, "init", "-q")
    git(copy, "add", "-A")
    git(copy, "commit", "-q", "--allow-empty", "-m", "pristine + --init")

    findings, report.lint_seconds, report.lint_cpu = lint_findings(root, report)
    if not args.no_ruff:
        proc, report.ruff_seconds, report.ruff_cpu = run_timed(["ruff", "check", "--select", "ALL", "--no-cache", "--exit-zero",
                                         "--quiet", "."], root)
    (base / "findings.json").write_text(json.dumps(findings, indent=1))
    report.codes = Counter(d["code"] for d in findings)
    report.ses999 = report.codes.get("SES999", 0)
    if args.labels and (args.labels / f"{project.name}.txt").is_file():
        report.labels = score_labels(args.labels / f"{project.name}.txt", findings, root)

    if (root / HAND_CONFIG).is_file():
        by_hand = finding_keys(lint_findings(root, report, "--config", HAND_CONFIG)[0], root)
        by_init = finding_keys(findings, root)
        report.init_only = sorted(f"{p}: {c} {t[:80]}" for (p, c, t), n in (by_init - by_hand).items())
        report.hand_only = sorted(f"{p}: {c} {t[:80]}" for (p, c, t), n in (by_hand - by_init).items())

    before = finding_keys(findings, root)
    proc, _ = run(session_lint("--fix", "--unsafe-fixes", "--no-cache", "--exit-zero", "--output-format",
                               "concise", "."), root)
    crashed(proc, "--fix", report)
    fixed = changed_files(copy)
    report.fixed_files = len(fixed)
    fixed_count = re.search(r"\((\d+) fixed,", proc.stdout)
    report.fixes_applied = int(fixed_count.group(1)) if fixed_count else 0
    (base / "fix.diff").write_text(git(copy, "diff", "HEAD"))
    for path in fixed:
        try:
            ast.parse((copy / path).read_bytes())
        except (SyntaxError, ValueError) as error:
            report.unparsable.append(f"{path}: {error}")
    after = finding_keys(lint_findings(root, report)[0], root)
    prefix = os.path.relpath(root, copy)
    fixed_in_root = {os.path.relpath(copy / p, root) for p in fixed} if prefix != "." else set(fixed)
    for key, count in after.items():
        if key[0] in fixed_in_root and count > before.get(key, 0):
            report.new_findings.append(f"{key[0]}: {key[1]} {key[2][:80]}")
    git(copy, "add", "-A")
    git(copy, "commit", "-q", "--allow-empty", "-m", "after --fix")
    proc, _ = run(session_lint("--fix", "--unsafe-fixes", "--no-cache", "--exit-zero", "--output-format",
                               "concise", "."), root)
    crashed(proc, "second --fix", report)
    report.not_idempotent = changed_files(copy)
    return report


def table(reports: list[Report]) -> str:
    head = ("| project | lines | findings | by code | lint | ruff ALL | ratio | CPU: lint / ruff | crashes | SES999 "
            "| fixes (files) | unparsable | new findings | not idempotent | labels: recall | wrong reports "
            "| --init vs hand config |")
    rows = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in reports:
        ratio = f"{r.lint_seconds / r.ruff_seconds:.1f}x" if r.ruff_seconds else "-"
        ruff = f"{r.ruff_seconds:.1f} s" if r.ruff_seconds is not None else "-"
        cpu = (f"{r.lint_cpu:.1f} s / {r.ruff_cpu:.1f} s = {r.lint_cpu / r.ruff_cpu:.1f}x" if r.ruff_cpu
               else f"{r.lint_cpu:.1f} s / -")
        codes = " ".join(f"{c}:{n}" for c, n in sorted(r.codes.items())) or "-"
        if r.labels:
            recall = r.labels["recall"]
            recall_text = (f"{recall:.2f} ({r.labels['must'] - len(r.labels['missed'])}/{r.labels['must']})"
                           if recall is not None else "-")
            wrong = f"{len(r.labels['wrong'])}/{r.labels['must_not']}"
        else:
            recall_text, wrong = "no labels", "-"
        rows.append(f"| {r.name} | {r.lines:,} | {sum(r.codes.values())} | {codes} | {r.lint_seconds:.1f} s "
                    f"| {ruff} | {ratio} | {cpu} | {len(r.crashes)} | {r.ses999} | {r.fixes_applied} ({r.fixed_files}) | {len(r.unparsable)} "
                    f"| {len(r.new_findings)} | {len(r.not_idempotent)} | {recall_text} | {wrong} "
                    f"| {_init_versus_hand(r)} |")
    return "\n".join(rows)


def _init_versus_hand(r: Report) -> str:
    if r.init_only is None or r.hand_only is None:
        return "no hand config"
    if not r.init_only and not r.hand_only:
        return "same findings"
    return f"+{len(r.init_only)} -{len(r.hand_only)}"


def details(r: Report) -> list[str]:
    out = []
    for title, items in (("crash", r.crashes), ("unparsable after fix", r.unparsable),
                         ("new finding after fix", r.new_findings), ("not idempotent", r.not_idempotent)):
        out += [f"  {title}: {item}" for item in items]
    if r.labels:
        out += [f"  missed (must report): {item}" for item in r.labels["missed"]]
        out += [f"  wrong report (must not): {item}" for item in r.labels["wrong"]]
        out += [f"  unlabelled report: {item}" for item in r.labels["unlabelled"]]
    out += [f"  only with --init's config: {item}" for item in r.init_only or ()]
    out += [f"  only with the hand config: {item}" for item in r.hand_only or ()]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", type=Path, default=HERE / "realworld.toml")
    parser.add_argument("--labels", type=Path, default=HERE / "labels")
    parser.add_argument("--configs", type=Path, default=HERE / "configs",
                        help="hand-written configurations (<name>.toml) to compare --init's with")
    parser.add_argument("--mirrors", type=Path, default=Path(os.environ.get("SESSION_LINT_MIRRORS", "/work/.mirror")))
    parser.add_argument("--work", type=Path, default=Path("/tmp/realworld"))
    parser.add_argument("--only", help="comma-separated project names")
    parser.add_argument("--no-ruff", action="store_true", help="skip timing ruff")
    args = parser.parse_args(argv)
    projects = load_manifest(args.manifest)
    if args.only:
        wanted = set(args.only.split(","))
        projects = [p for p in projects if p.name in wanted]
    reports = []
    for project in projects:
        print(f"== {project.name}", file=sys.stderr, flush=True)
        report = evaluate(project, args)
        reports.append(report)
        print("\n".join(details(report)) or "  (nothing to report)", file=sys.stderr, flush=True)
    print(table(reports))
    (args.work / "summary.json").write_text(json.dumps([r.__dict__ for r in reports], indent=1, default=str))
    bad = any(r.crashes or r.unparsable or r.new_findings or r.not_idempotent
              or (r.labels and (r.labels["missed"] or r.labels["wrong"])) for r in reports)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
