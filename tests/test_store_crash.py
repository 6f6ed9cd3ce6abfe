"""`kill -9` at each step of folding the journal into the snapshot loses nothing.

The child process kills itself at the named step through the store's test-only hook
(SMOLGEN_TEST_CRASH_AT, read in one place: tui/engine/store.py)."""

import os
import signal
import subprocess
import sys

import pytest

from tui.engine.store import SampleStore
from tui.engine.store_repair import inspect

FOLD_STEPS = ("snapshot-half-written", "before-snapshot-fsync", "before-rename", "before-folder-fsync", "before-journal-truncate")

_CHILD = """
import sys
import tui.engine.store as store_module
store = store_module.SampleStore(sys.argv[1])
for i in range(5):
    store.add_sample({"technique": "magpie", "instruction": "after %d" % i, "response": "x" * 300})
    print(i, flush=True)
store.close()  # folds the journal in: the process kills itself at the step named
"""


def _sample(text: str) -> dict:
    return {"technique": "magpie", "instruction": text, "response": "x" * 300}


@pytest.mark.parametrize("step", FOLD_STEPS)
def test_a_kill_at_any_step_of_a_fold_loses_nothing(tmp_path, step, monkeypatch):
    import tui.engine.store as store_module

    monkeypatch.setattr(store_module, "COMPACT_ON_CLOSE_BELOW_BYTES", 0)  # leave a journal for the child to fold
    path = tmp_path / "s.json"
    with SampleStore(path) as store:
        for i in range(20):
            store.add_sample(_sample(f"before {i}"))
    child = subprocess.run([sys.executable, "-c", _CHILD, str(path)], capture_output=True, text=True,
                           env={**os.environ, "SMOLGEN_TEST_CRASH_AT": step})
    assert child.returncode == -signal.SIGKILL, child.stderr  # it died at that step, not after
    confirmed = [int(line) for line in child.stdout.split()]
    assert confirmed == [0, 1, 2, 3, 4]
    assert inspect(path).damage == []
    with SampleStore(path) as store:
        instructions = [s["instruction"] for s in store.list_samples()]
    assert instructions == [f"before {i}" for i in range(20)] + [f"after {i}" for i in range(5)]
    assert not list(tmp_path.glob(".s.json.*.tmp"))  # a half-written snapshot does not stay behind
