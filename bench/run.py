"""Benchmark: session-lint cold/warm vs `ruff check --select ALL --no-cache` and `flake8 --select SES`.

    python bench/run.py --scaling                # 1000 files (~147k lines) at 1x, then 4x and 16x (~2.3M)
    python bench/run.py --files 300 --repeat 1   # quick

Every tree is timed with session-lint cold and warm, `ruff check --select ALL --no-cache`
and `flake8 --select SES -j N` (the same rules through the flake8 plugin; --no-flake8 skips it).

The synthetic repository is generated under /tmp (never committed). Each command runs
in a fresh wrapper process that reports wall time and the peak RSS of the largest
process it waited for (getrusage RUSAGE_CHILDREN: the biggest worker). Best of
--repeat runs is reported.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
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


def measure(cmd: list[str], cwd: Path, repeat: int, before=None) -> dict:
    best = None
    for _ in range(repeat):
        if before:
            before()
        out = subprocess.run([sys.executable, "-c", WRAPPER, *cmd], cwd=cwd, capture_output=True, text=True,
                             env=ENV)
        result = json.loads(out.stdout)
        if result["rc"] not in (0, 1):
            raise SystemExit(f"{cmd[0]} failed ({result['rc']}): {result['err']}")
        if best is None or result["wall"] < best["wall"]:
            best = result
    return best


def session_lint_cmd(root: Path, jobs: int, cache: bool) -> list[str]:
    return [sys.executable, "-m", "session_lint", str(root), "--jobs", str(jobs), "--exit-zero",
            "--output-format", "concise",
            *([] if cache else ["--no-cache"])]


def bench_tree(root: Path, jobs: int, repeat: int, extra: bool = True, flake8: bool = True) -> dict:
    cache_dir = root / ".session_lint_cache"
    subprocess.run([sys.executable, "-m", "session_lint", str(root / "core" / "database.py"), "--no-cache"],
                   env=ENV, capture_output=True)  # writes .pyc for every module a lint loads

    def clear():
        shutil.rmtree(cache_dir, ignore_errors=True)

    results = {
        "cold": measure(session_lint_cmd(root, jobs, True), root, repeat, before=clear),
        "warm": measure(session_lint_cmd(root, jobs, True), root, repeat),
        "ruff": measure([str(VENV_BIN / "ruff"), "check", "--select", "ALL", "--no-cache", "--exit-zero",
                         "--isolated", str(root)], root, repeat),
    }
    if extra:  # the 1x tree only (bounded run time)
        results["no_cache"] = measure(session_lint_cmd(root, jobs, False), root, 1)
        results["jobs1"] = measure(session_lint_cmd(root, 1, False), root, 1)
    if flake8:  # the same rules through flake8's plugin (flake8 also always runs pyflakes/pycodestyle)
        results["flake8"] = measure([str(VENV_BIN / "flake8"), "--select", "SES", "-j", str(jobs), str(root)],
                                    root, 1)
    return results


def report(name: str, counts: dict, results: dict) -> None:
    lines = counts["lines"]
    print(f"\n== {name}: {counts['files']} files, {lines:,} lines "
          f"({counts['session']} session modules, {counts['anti']} with anti-patterns)")
    ruff = results["ruff"]["wall"]
    for label, r in results.items():
        ratio = f"{r['wall'] / ruff:5.2f}x ruff"
        print(f"  {label:9s} {r['wall']:7.2f} s  {lines / r['wall']:>11,.0f} lines/s  {ratio}  "
              f"cpu {r['cpu']:7.2f} s  peak RSS {r['maxrss_kb'] / 1024:6.0f} MB  ({r['lines']} output lines)")
    if "flake8" in results:
        print(f"  session-lint cold is {results['flake8']['wall'] / results['cold']['wall']:.1f}x faster than "
              f"flake8 --select SES, warm {results['flake8']['wall'] / results['warm']['wall']:.0f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=1000,
                        help="modules in the 1x tree (~110 lines each; 16x of 1000 is ~1.8M lines)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeat", type=int, default=3, help="best of N for cold/warm/ruff")
    parser.add_argument("--scaling", action="store_true", help="also time 4x and 16x trees (best of 1)")
    parser.add_argument("--no-flake8", action="store_true",
                        help="skip `flake8 --select SES` (about 10k lines/s: 3-4 minutes on the 16x tree)")
    parser.add_argument("--keep", action="store_true", help="keep the generated trees")
    parser.add_argument("--session-share", type=float, default=0.25, help="share of session-related modules")
    parser.add_argument("--anti-share", type=float, default=0.12,
                        help="share of session-related modules with an anti-pattern")
    args = parser.parse_args()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=CHECKOUT, capture_output=True,
                            text=True).stdout.strip() or "(not a git checkout)"
    rules = subprocess.run([sys.executable, "-c", "from session_lint.rules import all_rules; "
                            "print(','.join(r.code for r in all_rules()))"], cwd=CHECKOUT, capture_output=True,
                           text=True, env={**os.environ, "PYTHONPATH": str(CHECKOUT)}).stdout.strip()
    print(f"session-lint benchmark: {time.strftime('%Y-%m-%d %H:%M')} commit {commit} | "
          f"{platform.processor() or platform.machine()} {os.cpu_count()} CPUs | Python {platform.python_version()} "
          f"| jobs {args.jobs} | rules {rules}")
    base = Path(tempfile.mkdtemp(prefix="session-lint-bench-"))
    try:
        scales = [1, 4, 16] if args.scaling else [1]
        summary = {}
        for scale in scales:
            root = base / f"x{scale}"
            counts = generate(root, files=args.files * scale, seed=scale, session_share=args.session_share,
                              anti_share=args.anti_share)
            results = bench_tree(root, args.jobs, args.repeat if scale == 1 else 1, extra=scale == 1,
                                 flake8=not args.no_flake8)
            report(f"{scale}x", counts, results)
            shutil.rmtree(root, ignore_errors=True) if not args.keep else None
            summary[scale] = (counts["lines"], results["cold"]["wall"], results["ruff"]["wall"])
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
