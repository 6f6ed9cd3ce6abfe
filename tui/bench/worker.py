"""One benchmark variant on one workload, in its own process; prints one JSON line."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tui.bench.workloads import Workload, run_bare, run_engine


def main(argv: list[str]) -> int:
    variant, workload_json, model_path = argv
    workload = Workload(**json.loads(workload_json))
    path = Path(model_path)
    if variant in ("bare", "tuned"):
        measurement = run_bare(path, workload, tuned=variant == "tuned")
    elif variant == "engine":
        measurement = run_engine(path, workload)
    else:
        from tui.bench.app_variant import run_app

        measurement = run_app(path, workload)
    print(json.dumps(measurement.record()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
