"""kill -9 trials: SIGKILL at a random moment of each writing command, many times, then check
what it left (tests/faults/killing.py holds the harness and says what is checked).

    python bench/faults.py --trials 100                  # every operation, 100 trials each
    python bench/faults.py --trials 10 --ops add,push    # a few
    python bench/faults.py --trials 100 --write          # also record the figures in RESULTS.md

Prints, per operation: trials run, how many the kill caught mid-way (the rest had finished),
problems found (each listed) and temp files left behind (gc removes those)."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "faults"))

import killing  # noqa: E402 - the harness the test suite runs too

SECTION = "## Faults: kill -9 at random moments (bench/faults.py)"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=100, help="trials per operation (default 100)")
    ap.add_argument("--ops", default=",".join(killing.OPS), help=f"comma-separated, from {','.join(killing.OPS)}")
    ap.add_argument("--count", type=int, default=1500, help="files in the dataset (default 1500)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--write", action="store_true", help="write the figures into bench/RESULTS.md")
    args = ap.parse_args()
    ops = [o.strip() for o in args.ops.split(",") if o.strip()]
    unknown = [o for o in ops if o not in killing.OPS]
    if unknown:
        ap.error(f"unknown operation(s): {', '.join(unknown)}")

    base = Path(tempfile.mkdtemp(prefix="cairn-faults-"))
    h = killing.Harness(base, count=args.count, seed=args.seed)
    rows = []
    started = time.monotonic()
    try:
        for op in ops:
            t0 = time.monotonic()
            trials = killing.run_op(h, op, args.trials, _dot)
            caught = sum(not t.finished_first for t in trials)
            problems = [
                f"{op} trial {i} (kill after {t.delay:.2f} s): {p}" for i, t in enumerate(trials) for p in t.problems
            ]
            bad = sum(bool(t.problems) for t in trials)
            left = sum(t.leftovers for t in trials)
            rows.append((op, len(trials), caught, h.durations[op], bad, left, problems))
            print(
                f"\r{op:13} {len(trials):4} trials, {caught:4} killed mid-way (command takes {h.durations[op]:.2f} s), "
                f"{bad} with problems, {left} temp files left ({time.monotonic() - t0:.0f} s)",
                flush=True,
            )
            for p in problems:
                print("   ", p)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    if args.write:
        _write(rows, args, time.monotonic() - started)
    return 1 if any(r[4] for r in rows) else 0


def _dot(trial: killing.Trial) -> None:
    print("x" if trial.problems else ".", end="", flush=True)


def _write(rows, args, took: float) -> None:
    lines = [
        SECTION,
        "",
        f"`python bench/faults.py --trials {args.trials} --count {args.count} --write` "
        f"({time.strftime('%Y-%m-%d')}, {took / 60:.0f} min on the 2-core bench machine). Each trial copies a "
        "prepared project (git repo, bare git origin, folder remote), starts the real `cairn` command, sends "
        "SIGKILL to its process group after a random delay spread over the command's measured duration, then "
        "checks: `cairn fsck` finds nothing corrupt (nothing missing either, except for fetch and pull), the "
        "command run again completes (no lock blocks it), the result equals the reference run's (workspace bytes, "
        "pointer, outputs and cairn.lock, or what a fresh clone pulls), and no stray file is in the workspace. "
        '"Killed mid-way" counts the trials the kill caught before the command ended.',
        "",
        "| operation | trials | killed mid-way | command takes | problems found | temp files left |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for op, n, caught, dur, bad, left, _ in rows:
        lines.append(f"| {op} | {n} | {caught} | {dur:.2f} s | {bad} | {left} |")
    found = [p for r in rows for p in r[6]]
    if found:
        lines += ["", "Problems:", "", *[f"- {p}" for p in found]]
    text = "\n".join(lines) + "\n"
    results = HERE / "RESULTS.md"
    old = results.read_text()
    if SECTION in old:
        head, _, rest = old.partition(SECTION)
        nxt = rest.find("\n## ")
        old = head + (rest[nxt + 1 :] if nxt >= 0 else "")
        old = old.rstrip("\n") + "\n"
    results.write_text(old.rstrip("\n") + "\n\n" + text)


if __name__ == "__main__":
    sys.exit(main())
