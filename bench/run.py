"""Benchmark cairn against DVC: `python bench/run.py [--quick|--smoke] [--only W1,W3] [--runs N] [--tools cairn]`.

Standard library only (any python >= 3.11); the tools run from the bench's own venvs under
bench/.venvs/. See bench/README.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import chunk_workloads
import datasets
import envs
import merge_workloads
import report
import scale_workloads
import target_workloads
from catalog import select
from peers import PEERS
from runner import ERROR, NOT_INSTALLED, NOT_RUN, TOOLS, Runner, WorkloadResult, rmtree, time_help
from s3server import MotoServer
from tools import Tool, cairn_tool, dvc_tool, peer_tool

DEFAULT_RUNS = 5


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench/run.py", description=__doc__.splitlines()[0])
    scale = p.add_mutually_exclusive_group()
    scale.add_argument("--quick", action="store_true", help="a tenth of the full data sizes")
    scale.add_argument(
        "--smoke", action="store_true", help="tiny data, every workload once, no warm-up (checks the harness)"
    )
    p.add_argument("--only", metavar="W1,W3", help="comma-separated workload ids (W5 = W5-copy and W5-hardlink)")
    p.add_argument(
        "--runs",
        type=int,
        metavar="N",
        help=f"timed runs per tool per workload (default {DEFAULT_RUNS}; 1 with --smoke)",
    )
    p.add_argument(
        "--tools",
        default=",".join(TOOLS),
        metavar="cairn",
        help="comma-separated tools to run (default: cairn,dvc; the peers oxen and git-lfs only when named); "
        "the others are reported as not run",
    )
    p.add_argument(
        "--out", type=Path, default=envs.BENCH_DIR, help="where RESULTS.md and results.json go (default: bench/)"
    )
    p.add_argument(
        "--work",
        type=Path,
        default=envs.BENCH_DIR / ".work",
        help="scratch area: datasets, run folders, logs (default: bench/.work/)",
    )
    p.add_argument(
        "--s1",
        metavar="SIZES",
        help=f"files in the S1 sequence, a comma list of {', '.join(scale_workloads.SIZES)}, each run in turn "
        f"(default: {scale_workloads.DEFAULT['full']} at full scale, {scale_workloads.DEFAULT['quick']} with --quick)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=3600,
        metavar="S",
        help="give up on one timed command after S seconds (default 3600)",
    )
    args = p.parse_args(argv)
    if args.runs is not None and args.runs < 1:
        p.error("--runs must be >= 1")
    args.tools = [t.strip().lower() for t in args.tools.split(",") if t.strip()]
    unknown = sorted(set(args.tools) - set(TOOLS) - set(PEERS))
    if unknown or not args.tools:
        p.error(f"--tools takes a comma list of {', '.join((*TOOLS, *PEERS))} (got {', '.join(unknown) or 'none'})")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    # the code measured is the code at the start: a commit made while the run goes on is not it
    checkout = report.checkout_id(envs.REPO_ROOT)
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    scale = datasets.SCALES[mode]
    runs = args.runs or (1 if args.smoke else DEFAULT_RUNS)
    warmup = not args.smoke
    s1_sizes = scale_workloads.sizes(args.s1, mode)
    chosen = scale_workloads.at_sizes(select(args.only, mode), s1_sizes)
    if not chosen:
        print(f"no workload selected at {mode} scale", file=sys.stderr)
        return 2
    work: Path = args.work.resolve()
    logs = work / "logs"
    machine = report.describe_machine(work)  # load average at the start

    with envs.venvs_lock():
        rmtree(logs)
        rmtree(work / "runs")
        logs.mkdir(parents=True)
        run_dvc = "dvc" in args.tools
        dvc_env = envs.ensure_venv("dvc", envs.DVC_REQUIREMENTS, logs) if run_dvc else None
        needs_s3 = any(w.s3 for w in chosen)
        moto_env = envs.ensure_venv("moto", envs.MOTO_REQUIREMENTS, logs) if needs_s3 else None
        not_run = f"not run (--tools {','.join(args.tools)})"
        unavailable = {name: (NOT_RUN, not_run) for name in TOOLS if name not in args.tools}
        cairn = envs.install_cairn(envs.REPO_ROOT, logs) if "cairn" in args.tools else None
        peer_installs = {
            name: envs.ensure_oxen(logs) if name == "oxen" else envs.find_git_lfs()
            for name in PEERS
            if name in args.tools
        }
        envs.venvs_ready()
        tools: dict[str, Tool | None] = {
            "cairn": cairn_tool(cairn.venv.bin, cairn.version or "?") if cairn and cairn.venv else None,
            "dvc": dvc_tool(dvc_env.bin, dvc_env.version_of("dvc") or "?") if dvc_env else None,
        }
        if cairn and cairn.problem:
            unavailable["cairn"] = (NOT_INSTALLED, f"not installed ({cairn.problem})")
            print(f"[bench] cairn: {cairn.problem}", flush=True)
        for name, got in peer_installs.items():
            tools[name] = peer_tool(name, got.bin_dir, got.version or "?") if got.bin_dir else None
            if got.problem:
                unavailable[name] = (NOT_INSTALLED, f"not installed ({got.problem})")
                print(f"[bench] {name}: {got.problem}", flush=True)

        needed = set().union(*(w.datasets for w in chosen))
        data = datasets.prepare(
            work,
            scale,
            small=bool(needed & {"small"}),
            big="big" in needed,
            chain="chain" in needed,
            huge="huge" in needed,
        )
        help_samples = time_help(tools, work, runs=3 if args.smoke else 10, warmup=warmup)

        s3 = MotoServer(moto_env, logs / "moto.log") if moto_env else None
        results: list[WorkloadResult] = []
        try:
            if s3:
                s3.start()
            runner = Runner(
                work=work,
                data=data,
                scale=mode,
                tools=tools,
                unavailable=unavailable,
                s3=s3,
                runs=runs,
                warmup=warmup,
                timeout_s=args.timeout,
                continued=frozenset(w.after for w in chosen if w.after),
            )
            try:
                for w in chosen:
                    results.append(runner.run(w))
            finally:
                runner.close()
        finally:
            if s3:
                s3.stop()

    help_text = report.help_line(
        help_samples, {name: unavailable.get(name, ("", "failed"))[1] for name in (*TOOLS, *peer_installs)}
    )
    header = report.Header(
        mode=mode,
        runs=runs,
        warmup=warmup,
        date=report.now(),
        machine=machine,
        versions={
            name: (t.version if t else unavailable.get(name, ("", "not installed"))[1]) for name, t in tools.items()
        },
        tools=args.tools,
        checkout=checkout,
        elapsed_s=time.monotonic() - started,
        load_end=report.loadavg(),
        sizes=(
            f"{scale.small_files:,} small files in {scale.small_folders} folders, "
            f"{scale.big_bytes / 2**20:,.0f} MiB big file, {scale.chain_stages} stages"
            + (f", {scale.huge_files:,} files for W14" if scale.huge_files else "")
            + (f"; {target_workloads.describe(mode)}" if any(w in target_workloads.WORKLOADS for w in chosen) else "")
            + (f"; {merge_workloads.describe(mode)}" if any(w in merge_workloads.WORKLOADS for w in chosen) else "")
            + (f"; {chunk_workloads.describe(mode)}" if any(w in chunk_workloads.WORKLOADS for w in chosen) else "")
            + (f"; {scale_workloads.describe(s1_sizes)}" if any(w.growth for w in chosen) else "")
        ),
    )
    md = report.write(args.out.resolve(), header, results, help_text, help_samples)
    print()
    print("\n".join(report.table(results)))
    print()
    print(help_text)
    print("\n".join(report.target_lines(results, mode) + report.extra_lines(results, mode)))
    growth = report.growth_table(results)
    if growth:
        print("\n" + "\n".join(growth))
    peer_lines = report.peer_section(results, mode)
    if peer_lines:
        print("\n" + "\n".join(peer_lines))
    print(f"\n[bench] wrote {md} ({header.elapsed_s:.0f} s)")
    failed = [f"{r.workload.id} {s.name}" for r in results for s in r.sides.values() if s.status == ERROR]
    if failed:
        print(f"[bench] failures: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
