"""One benchmark variant on a list of workloads, in its own process; prints one JSON line.

The model loads once, outside every timed window; the workloads then run one after another.
Errors are one line on stderr (the parent shows the last line), exit status 1.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tui.bench.workloads import Measurement, Workload, run_bare, run_engine
from tui.engine.errors import SmolgenError


def measure(variant: str, workloads: list[Workload], model_path: Path, threads: int | None, parallel: int = 1) -> list[Measurement]:
    if variant in ("bare", "tuned"):
        return run_bare(model_path, workloads, variant == "tuned", threads)
    if variant in ("engine", "parallel"):
        return run_engine(model_path, workloads, threads, parallel if variant == "parallel" else 1)
    from tui.bench.app_variant import run_app

    return run_app(model_path, workloads, threads)


def main(argv: list[str]) -> int:
    variant, workloads_json, model_path, threads, *parallel = argv
    workloads = [Workload(**fields) for fields in json.loads(workloads_json)]
    try:
        measurements = measure(variant, workloads, Path(model_path), int(threads) or None, int(parallel[0]) if parallel else 1)
    except Exception as error:  # the parent reports it as one line, never a traceback
        print(str(error) if isinstance(error, SmolgenError) else f"{type(error).__name__}: {error}", file=sys.stderr)
        return 1
    print(json.dumps([m.record() for m in measurements]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
