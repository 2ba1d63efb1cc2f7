"""Benchmark: session-lint (text, JSON, warm) vs `ruff check --select ALL --no-cache` and flake8.

    python bench/run.py                          # real-shaped tree (~200k lines), 3 rounds
    python bench/run.py --shape flat --scaling   # the first benchmark's flat tree at 1x, 4x and 16x
    python bench/run.py --files 100 --repeat 1   # quick

Every tool runs on the same tree in the same rounds, interleaved (session-lint text, session-lint
JSON, session-lint SARIF, ruff, flake8 --select SES when installed, then again), so a drift of the shared machine's
speed hits them all alike; each figure is the min and the median of --repeat rounds. session-lint
runs cold (`--no-cache`) unless labelled warm.

The "real" shape (default) is what issue 13 found the flat tree hid: 3-5k-line modules, big service
classes of many methods, 10-30% session modules, a few session-dense ones. "flat" is the first
benchmark's tree (25% session modules of small module-level functions).

The synthetic repository is generated under /tmp (never committed). Each command runs
in a fresh wrapper process that reports wall time and the peak RSS of the largest
process it waited for (getrusage RUSAGE_CHILDREN: the biggest worker).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.generate import generate  # noqa: E402

VENV_BIN = Path(sys.executable).parent
CHECKOUT = Path(__file__).resolve().parent.parent

WRAPPER = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
proc = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
wall = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"wall": wall, "maxrss_kb": usage.ru_maxrss, "cpu": usage.ru_utime + usage.ru_stime,
                  "rc": proc.returncode,
                  "lines": proc.stdout.decode(errors="replace").count("\\n"),
                  "err": proc.stderr.decode(errors="replace")[-300:]}))
"""


# Run the checkout as an installed tool runs: from bytecode (pip compiles it at install time;
# PYTHONDONTWRITEBYTECODE would make every run compile session-lint's modules again).
ENV = {**{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}, "PYTHONPATH": str(CHECKOUT)}


def run_once(cmd: list[str], cwd: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", WRAPPER, *cmd], cwd=cwd, capture_output=True, text=True, env=ENV)
    result = json.loads(out.stdout)
    if result["rc"] not in (0, 1):
        raise SystemExit(f"{cmd[0]} failed ({result['rc']}): {result['err']}")
    return result


def session_lint_cmd(root: Path, jobs: int, cache: bool, output: str = "text") -> list[str]:
    return [sys.executable, "-m", "session_lint", str(root), "--jobs", str(jobs), "--exit-zero",
            "--output-format", output, *([] if cache else ["--no-cache"])]


def flake8_bin() -> str | None:
    candidate = VENV_BIN / "flake8"
    return str(candidate) if candidate.exists() else shutil.which("flake8")


def bench_tree(root: Path, jobs: int, repeat: int, extra: bool = True, flake8: bool = True) -> dict:
    """{label: [result per round]}; every command once per round, in the same order."""
    cache_dir = root / ".session_lint_cache"
    subprocess.run([sys.executable, "-m", "session_lint", str(root / "core" / "database.py"), "--no-cache"],
                   env=ENV, capture_output=True)  # writes .pyc for every module a lint loads
    commands = {
        "text": session_lint_cmd(root, jobs, False),
        "json": session_lint_cmd(root, jobs, False, "json"),
        "sarif": session_lint_cmd(root, jobs, False, "sarif"),
        "ruff": [str(VENV_BIN / "ruff") if (VENV_BIN / "ruff").exists() else "ruff", "check", "--select", "ALL",
                 "--no-cache", "--exit-zero", "--isolated", str(root)],
    }
    if flake8 and flake8_bin():  # the same rules through flake8's plugin (flake8 also runs pyflakes/pycodestyle)
        commands["flake8"] = [flake8_bin(), "--select", "SES", "-j", str(jobs), str(root)]
    results: dict[str, list[dict]] = {label: [] for label in commands}
    if extra:
        results["warm"] = []
    for _ in range(repeat):
        for label, cmd in commands.items():
            results[label].append(run_once(cmd, root))
        if extra:  # warm: a cached run over the unchanged tree (the first run fills the cache)
            shutil.rmtree(cache_dir, ignore_errors=True)
            run_once(session_lint_cmd(root, jobs, True), root)
            results["warm"].append(run_once(session_lint_cmd(root, jobs, True), root))
    if extra:
        results["jobs1"] = [run_once(session_lint_cmd(root, 1, False), root)]
    return results


def _stats(runs: list[dict], key: str) -> tuple[float, float]:
    values = sorted(r[key] for r in runs)
    return values[0], statistics.median(values)


def report(name: str, counts: dict, results: dict) -> None:
    lines = counts["lines"]
    print(f"\n== {name}: {counts['files']} files, {lines:,} lines ({counts['session']} session modules, "
          f"{counts.get('dense', 0)} session-dense, {counts['anti']} with anti-patterns); "
          f"{len(results['ruff'])} rounds, min / median")
    ruff_med = _stats(results["ruff"], "wall")[1]
    text_med = _stats(results["text"], "wall")[1]
    for label, runs in results.items():
        low, med = _stats(runs, "wall")
        rss = max(r["maxrss_kb"] for r in runs) / 1024
        vs_text = f"  {med / text_med:5.2f}x text" if label in ("json", "sarif") else ""
        print(f"  {label:7s} {low:7.2f} / {med:7.2f} s  {lines / med:>10,.0f} lines/s  {med / ruff_med:5.2f}x ruff"
              f"{vs_text}  cpu {_stats(runs, 'cpu')[1]:7.2f} s  peak RSS {rss:5.0f} MB  ({runs[-1]['lines']} output lines)")
    for label in ("json", "sarif"):  # pairwise ratios: the same round's runs, so drift cancels
        pairs = sorted(j["wall"] / t["wall"] for j, t in zip(results[label], results["text"]))
        print(f"  {label}/text per round: min {pairs[0]:.2f}x, median {statistics.median(pairs):.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=None,
                        help="modules in the 1x tree (real: 250, ~800 lines each; flat: 1000, ~110 lines each)")
    parser.add_argument("--shape", choices=("real", "flat"), default="real",
                        help="real: big service classes, 3-5k-line modules, session-dense files; flat: the old tree")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeat", type=int, default=3, help="rounds (every command once per round)")
    parser.add_argument("--scaling", action="store_true", help="also time 4x and 16x trees (best of 1)")
    parser.add_argument("--no-flake8", action="store_true",
                        help="skip `flake8 --select SES` (about 10k lines/s: 3-4 minutes on the 16x tree)")
    parser.add_argument("--keep", action="store_true", help="keep the generated trees")
    parser.add_argument("--session-share", type=float, default=None,
                        help="share of session-related modules (real: 0.2, flat: 0.25)")
    parser.add_argument("--anti-share", type=float, default=0.12,
                        help="share of session-related modules with an anti-pattern")
    args = parser.parse_args()
    args.files = args.files or (250 if args.shape == "real" else 1000)
    args.session_share = args.session_share or (0.2 if args.shape == "real" else 0.25)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=CHECKOUT, capture_output=True,
                            text=True).stdout.strip() or "(not a git checkout)"
    rules = subprocess.run([sys.executable, "-c", "from session_lint.rules import all_rules; "
                            "print(','.join(r.code for r in all_rules()))"], cwd=CHECKOUT, capture_output=True,
                           text=True, env={**os.environ, "PYTHONPATH": str(CHECKOUT)}).stdout.strip()
    print(f"session-lint benchmark: {time.strftime('%Y-%m-%d %H:%M')} commit {commit} | "
          f"{platform.processor() or platform.machine()} {os.cpu_count()} CPUs | Python {platform.python_version()} "
          f"| jobs {args.jobs} | rules {rules} | shape {args.shape}")
    base = Path(tempfile.mkdtemp(prefix="session-lint-bench-"))
    try:
        scales = [1, 4, 16] if args.scaling else [1]
        summary = {}
        for scale in scales:
            root = base / f"x{scale}"
            counts = generate(root, files=args.files * scale, seed=scale, session_share=args.session_share,
                              anti_share=args.anti_share, shape=args.shape)
            results = bench_tree(root, args.jobs, args.repeat if scale == 1 else 1, extra=scale == 1,
                                 flake8=not args.no_flake8)
            report(f"{scale}x", counts, results)
            shutil.rmtree(root, ignore_errors=True) if not args.keep else None
            summary[scale] = (counts["lines"], _stats(results["text"], "wall")[1], _stats(results["ruff"], "wall")[1])
        if len(summary) > 1:
            print("\nscaling (cold wall time per million lines):")
            for scale, (lines, cold, ruff) in summary.items():
                print(f"  {scale:2d}x {lines:>10,} lines  session-lint {cold / lines * 1e6:6.2f} s/Mline  "
                      f"ruff {ruff / lines * 1e6:6.2f} s/Mline")
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
        else:
            print(f"trees kept under {base}")


if __name__ == "__main__":
    main()
