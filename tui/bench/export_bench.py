"""`smolgen bench export`: how long an export takes and what memory it needs as the store grows.

For each size a synthetic store (tui/bench/synthetic.py) is exported whole (every status, truncated
samples included) in a fresh process, so each size's peak memory is its own, read as `smolgen export`
reads it (tui/engine/store_reader.py: a record at a time). Figures: seconds to open the store, seconds
to export, the process's peak resident memory, and the peak the export itself allocated, traced by
tracemalloc in a second export (untimed: tracing slows Python down).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from tui.bench.store_bench import parse_sizes
from tui.engine.errors import BadInput
from tui.engine.export import FORMATS

DEFAULT_SIZES = (10_000, 100_000)


def add_arguments(bench: argparse.ArgumentParser) -> None:
    """The flags of `smolgen bench export`."""
    bench.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)), metavar="N,N,...",
                       help="samples in the store, one store per size (default 10000,100000)")
    bench.add_argument("--format", choices=FORMATS, default="messages", help="the export format (default messages)")
    bench.add_argument("--json", action="store_true", help="print one JSON object")


def cmd_bench_export(args: argparse.Namespace) -> int:
    """Export a synthetic store of each of --sizes in its own process and print the figures."""
    sizes = parse_sizes(args.sizes)
    figures = []
    with tempfile.TemporaryDirectory(prefix="smolgen-bench-export-") as folder:
        for size in sizes:
            figures.append(measure_size(Path(folder), size, args.format))
    if args.json:
        print(json.dumps({"format": args.format, "sizes": figures}))
        return 0
    print(f"{'samples':>9}  {'open s':>7}  {'export s':>8}  {'peak RSS MB':>11}  {'export peak KB':>14}")
    for f in figures:
        print(f"{f['size']:>9,}  {f['open_seconds']:>7.2f}  {f['export_seconds']:>8.2f}  {f['peak_rss_mb']:>11.1f}  "
              f"{f['export_peak_kb']:>14.1f}")
    if len(figures) > 1:
        first, last = figures[0], figures[-1]
        print(f"{last['size'] / first['size']:.0f}× the samples: export peak ×{last['export_peak_kb'] / first['export_peak_kb']:.2f}, "
              f"process peak ×{last['peak_rss_mb'] / first['peak_rss_mb']:.2f}")
    return 0


def measure_size(folder: Path, size: int, fmt: str) -> dict:
    """Write a store of `size` samples and measure its export in a fresh process."""
    from tui.bench.synthetic import write_synthetic_store

    store = write_synthetic_store(folder / f"store-{size}.json", size)
    child = subprocess.run([sys.executable, "-m", "tui.bench.export_bench", str(store), fmt, str(folder)],
                           capture_output=True, text=True, check=False)
    if child.returncode != 0:
        raise BadInput(f"bench export: the export of {size} samples failed: {child.stderr.strip().splitlines()[-1:]}")
    for leftover in folder.iterdir():
        leftover.unlink()
    return {"size": size, **json.loads(child.stdout)}


def measure_here(store_path: Path, fmt: str, folder: Path) -> dict:
    """Open the store and export all of it twice (timed, then traced); the figures as a dict."""
    import time
    import tracemalloc

    from tui.engine.export import export_samples
    from tui.engine.store_reader import StoreReader

    started = time.perf_counter()
    with StoreReader(store_path) as store:
        opened = time.perf_counter()
        result = export_samples(store.iter_samples(), fmt, folder / "timed.jsonl", include_truncated=True)
        exported = time.perf_counter()
        tracemalloc.start()
        export_samples(store.iter_samples(), fmt, folder / "traced.jsonl", include_truncated=True)
        _, export_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return {
        "rows": result.written,
        "open_seconds": round(opened - started, 3),
        "export_seconds": round(exported - opened, 3),
        "peak_rss_mb": round(peak_rss_kib() / 1024, 1),
        "export_peak_kb": round(export_peak / 1024, 1),
    }


def peak_rss_kib() -> int:
    """This process's own peak resident memory. Linux's ru_maxrss keeps, across exec, the peak of the
    process that forked it (the bench, which wrote the store), so VmHWM is read where there is one."""
    import resource

    try:
        status = Path("/proc/self/status").read_text(encoding="ascii")
        return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")))
    except (OSError, StopIteration, ValueError, IndexError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak // 1024 if sys.platform == "darwin" else peak  # bytes on macOS, KiB elsewhere


if __name__ == "__main__":
    print(json.dumps(measure_here(Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]))))
