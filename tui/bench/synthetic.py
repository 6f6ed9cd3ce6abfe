"""Large stores for benchmarks, written straight to disk in the store's own format.

Adding 100,000 samples one by one through `SampleStore.add_sample` would fsync 100,000 times; a
benchmark of opening or reviewing a big store only needs the file, so it is written in one go. The
samples look like real ones (instructions from the near-duplicate benchmark's word lists, so some
share most of their words), spread over a few runs, techniques and statuses.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from tui.bench.near_duplicate_benchmark import stored_instructions
from tui.engine.store import snapshot_bytes

TECHNIQUES = ("magpie", "chain", "self_instruct", "evol_instruct", "text")
STATUS_WEIGHTS = (("new", 6), ("accepted", 3), ("rejected", 1))
RUNS = 5


def synthetic_samples(count: int, seed: int = 0) -> list[dict[str, Any]]:
    """`count` sample records as the runner stores them, the same ones every time for the same seed."""
    rng = random.Random(seed)
    instructions = stored_instructions(count, seed)
    statuses = [s for s, weight in STATUS_WEIGHTS for _ in range(weight)]
    samples = []
    for index, instruction in enumerate(instructions):
        response = f"{instruction[:-1]} is a broad subject. " * rng.randint(1, 6)
        samples.append({
            "technique": TECHNIQUES[index % len(TECHNIQUES)],
            "status": rng.choice(statuses),
            "run_id": 1 + index % RUNS,
            "sample_index": index // RUNS,
            "instruction": instruction,
            "response": response,
            "conversation": [{"role": "user", "content": instruction}, {"role": "assistant", "content": response}],
            "lengths": {"instruction": len(instruction.split()) + 2, "response": len(response.split()) + 5},
            "flags": ["truncated"] if index % 17 == 0 else [],
            "tokens": {"prompt": 40, "completion": 60},
            "seconds": 1.0,
            "created": "2026-11-24T00:00:00+00:00",
        })
    return samples


def write_synthetic_store(path: Path, count: int, seed: int = 0) -> Path:
    """A store file holding `count` synthetic samples and their runs (replacing any file at `path`)."""
    samples = synthetic_samples(count, seed)
    runs = {str(r): {"technique": "mixed", "status": "finished", "started": "2026-11-24T00:00:00+00:00"} for r in range(1, RUNS + 1)}
    data = {
        "seeds": {},
        "samples": {str(i): sample for i, sample in enumerate(samples, start=1)},
        "runs": runs,
        "cache": {},
    }
    path.write_bytes(snapshot_bytes(data))
    Path(f"{path}.journal").unlink(missing_ok=True)
    return path
