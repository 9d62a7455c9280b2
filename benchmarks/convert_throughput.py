"""Throughput of ``gazenet_data`` (TAO dataset_convert) on the embedded sample.

Usage: ``python benchmarks/convert_throughput.py [--workers N] [--repeat K] [--frames-per-user F]``.
Renders the sample first if ``data/01_raw/gazenet`` is empty (with ``--frames-per-user``: a sample of
that size in a temporary data root, to show how the fixed start-up cost amortises on larger sets),
converts it into a temporary output root with ``kedro run``,
and prints frames/s end to end (process wall time, including Kedro and library start-up) and
inside the pipeline (the run report's seconds), plus seconds per node. The machine is often
shared: each run also shows the CPU seconds the ``kedro run`` process used (user + system, a
figure other processes barely move) and the 1-minute load average before it started.

Two probes, taken just before each run, tell how fast the (often shared) machine was at the time:
``host ms`` is a fixed piece of the conversion's own work (decode + undistort + face warp of one
rendered frame, single thread, best of 3 x 20), and ``create ms`` is what creating one empty file
costs beside the run's output folder (the converter creates four PNG files per frame).

Every run writes into a fresh folder, and nothing is deleted until all runs are done. On an ext4
file system without a journal (this development VM's root file system) the kernel will not reuse
an inode freed in the last 60 s (360 s while its inode-table block is dirty), and every new file
in that block group first walks past all of them (``recently_deleted`` in ``find_inode_bit``,
seen with ``perf``): for minutes after thousands of files are deleted nearby, creating one costs
0.3-1 ms of kernel CPU instead of ~0.02 ms, and a run that follows the cleanup of the previous
one loses seconds to it. A user's ``kedro run`` does not follow such a cleanup;
``--delete-between`` measures the old way (output removed after each run) to show the effect.
The probe's files are not deleted before the runs either. Leave a few minutes between two
invocations (the first one's cleanup is such a delete), or give each its own ``--output-parent``
(default: the system temp folder).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
KEDRO = Path(sys.executable).parent / "kedro"


def _host_ms(sample_png: Path) -> float:
    """Milliseconds for a fixed slice of the conversion's work on one frame (best of 3 x 20)."""
    import cv2  # noqa: PLC0415
    import numpy as np  # noqa: PLC0415

    from gaze_pipelines.core import geometry, png  # noqa: PLC0415

    cv2.setNumThreads(1)
    data = sample_png.read_bytes()
    K = np.array([[900.0, 0, 320], [0, 900.0, 240], [0, 0, 1]])
    dist = np.array([-0.05, 0.02, 0.0, 0.0, 0.0])
    warp = geometry.normalization(np.array([0.0, 0.0, 600.0]), np.eye(3), K, (224, 224), 960.0)
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(20):
            img = png.decode_grey(data)
            geometry.warp_image(geometry.undistort_image(img, K, dist), warp)
        best = min(best, (time.perf_counter() - t0) / 20 * 1e3)
    return best


def _create_ms(folder: Path, n: int = 200) -> float:
    """Milliseconds to create (and close) one empty file in the new folder ``folder``.

    The files stay until the benchmark ends: deleting them would slow the run that follows (see
    the module docstring).
    """
    folder.mkdir(parents=True)
    t0 = time.perf_counter()
    for i in range(n):
        os.close(os.open(folder / f"f{i}", os.O_WRONLY | os.O_CREAT | os.O_EXCL))
    return (time.perf_counter() - t0) / n * 1e3


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
        "--output-parent",
        type=Path,
        default=None,
        help="folder for the temporary output roots (default: the system temp folder)",
    )
    ap.add_argument(
        "--delete-between",
        action="store_true",
        help="remove each run's output right after it (the next run then pays for the deletes)",
    )
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
    pngs = sorted(raw.glob("*/Data/*/*.png"))
    n_frames = len(pngs)
    rows = []
    with tempfile.TemporaryDirectory(dir=args.output_parent, prefix="convert_bench_") as bench:
        for i in range(args.repeat):
            host = _host_ms(pngs[0])
            out = Path(bench) / f"run{i + 1}"
            create = _create_ms(Path(bench) / f"probe{i + 1}")
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
            if args.delete_between:
                shutil.rmtree(out)
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
                    host,
                    create,
                )
            )
    print(
        f"\ngazenet_data on {n_frames} rendered frames, {os.cpu_count()} CPU cores, workers={args.workers or 'all'}"
    )
    print(
        f"{'run':>3} | {'wall s':>7} | {'frames/s (wall)':>15} | {'pipeline s':>10} | {'frames/s (pipeline)':>19} | {'CPU s':>6} | {'load':>5} | {'host ms':>7} | {'create ms':>9} | {'converted':>9} | rejects"
    )
    print("-" * 140)
    for run, wall, inner, _, converted, rejects, cpu, load, host, create in rows:
        print(
            f"{run:>3} | {wall:7.2f} | {n_frames / wall:15.1f} | {inner:10.2f} | {n_frames / inner:19.1f} | {cpu:6.1f} | {load:5.2f} | {host:7.2f} | {create:9.3f} | {converted:9d} | {rejects or 0}"
        )
    walls = sorted(r[1] for r in rows)
    inners = sorted(r[2] for r in rows)
    print(
        f"median: {n_frames / statistics.median(walls):.1f} frames/s end to end, "
        f"{n_frames / statistics.median(inners):.1f} frames/s inside the pipeline"
    )
    best = min(rows, key=lambda r: r[2])
    print("\nseconds per node (fastest run):")
    for name, sec in sorted(best[3].items(), key=lambda kv: -kv[1]):
        print(f"  {name:32s} {sec:7.2f}  ({n_frames / sec if sec else float('inf'):8.1f} frames/s)")


if __name__ == "__main__":
    main()
