"""Throughput of ``gazenet_data`` (TAO dataset_convert) on the embedded sample.

Usage: ``python benchmarks/convert_throughput.py [--workers N] [--repeat K] [--frames-per-user F]``.
Renders the sample first if ``data/01_raw/gazenet`` is empty (with ``--frames-per-user``: a sample of
that size in a temporary data root, to show how the fixed start-up cost amortises on larger sets),
converts it into a temporary output root with ``kedro run``,
and prints frames/s end to end (process wall time, including Kedro and library start-up) and
inside the pipeline (the run report's seconds), plus seconds per node. The machine is often
shared: each run also shows the CPU seconds the ``kedro run`` process used (user + system, a
figure other processes barely move) and the 1-minute load average before it started.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
KEDRO = Path(sys.executable).parent / "kedro"


def _kedro(*args: str) -> None:
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "true", "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run([str(KEDRO), *args], cwd=REPO, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit(f"kedro {' '.join(args)} failed")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument(
        "--workers", type=int, default=0, help="gazenet.dataset_convert.workers (0 = cores)"
    )
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument(
        "--frames-per-user",
        type=int,
        default=0,
        help="render a sample with this many frames per user (8 users) in a temporary data root",
    )
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as data_root:
        _run(args, Path(data_root) if args.frames_per_user else None)


def _run(args: argparse.Namespace, data_root: Path | None) -> None:
    raw = data_root or REPO / "data" / "01_raw" / "gazenet"
    extra = f",gazenet.dataset_convert.data_root_path={data_root}" if data_root else ""
    if data_root is not None:
        print(f"rendering 8 users x {args.frames_per_user} frames into {data_root} ...", flush=True)
        _kedro(
            "run",
            "--pipeline",
            "gazenet_sample",
            "--params",
            f"gazenet.sample.frames_per_user={args.frames_per_user}{extra}",
        )
    elif not any(raw.glob("*/Data")):
        print("rendering the embedded sample (kedro run --pipeline gazenet_sample) ...", flush=True)
        _kedro("run", "--pipeline", "gazenet_sample")
    n_frames = sum(1 for _ in raw.glob("*/Data/*/*.png"))
    rows = []
    for i in range(args.repeat):
        with tempfile.TemporaryDirectory() as out:
            load = os.getloadavg()[0]
            cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            _kedro(
                "run",
                "--pipeline",
                "gazenet_data",
                "--params",
                f"gazenet.dataset_convert.output_root={out},gazenet.dataset_convert.workers={args.workers}"
                f"{extra}",
            )
            wall = time.perf_counter() - t0
            cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
        report = json.loads((REPO / "data" / "08_reporting" / "run_report.json").read_text())
        rows.append(
            (
                i + 1,
                wall,
                report["seconds"],
                report["nodes"],
                report["tables"].get("gazenet_frames", 0),
                report["rejects"].get("gazenet_rejects", {}),
                cpu,
                load,
            )
        )
    print(
        f"\ngazenet_data on {n_frames} rendered frames, {os.cpu_count()} CPU cores, workers={args.workers or 'all'}"
    )
    print(
        f"{'run':>3} | {'wall s':>7} | {'frames/s (wall)':>15} | {'pipeline s':>10} | {'frames/s (pipeline)':>19} | {'CPU s':>6} | {'load':>5} | {'converted':>9} | rejects"
    )
    print("-" * 118)
    for run, wall, inner, _, converted, rejects, cpu, load in rows:
        print(
            f"{run:>3} | {wall:7.2f} | {n_frames / wall:15.1f} | {inner:10.2f} | {n_frames / inner:19.1f} | {cpu:6.1f} | {load:5.2f} | {converted:9d} | {rejects or 0}"
        )
    best = min(rows, key=lambda r: r[2])
    print("\nseconds per node (fastest run):")
    for name, sec in sorted(best[3].items(), key=lambda kv: -kv[1]):
        print(f"  {name:32s} {sec:7.2f}  ({n_frames / sec if sec else float('inf'):8.1f} frames/s)")


if __name__ == "__main__":
    main()
