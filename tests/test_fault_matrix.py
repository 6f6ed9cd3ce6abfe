"""The fault matrix of `smolgen bench faults` (tui/bench/faults.py): every finished sample readable or
repaired after each fault, and not one traceback. One test per fault, so that they spread over the
cores; run with `-n 0 -s` to see each one's row."""

import pytest

from tui.bench.faults import faults, render_table, run_fault

FAULTS = faults()


@pytest.mark.parametrize("name, fault", FAULTS, ids=[name for name, _ in FAULTS])
def test_every_fault_keeps_every_finished_sample_and_prints_no_traceback(tmp_path, capsys, name, fault):
    row = run_fault(name, fault, tmp_path)
    with capsys.disabled():
        print("\n" + render_table([row]))
    if row.skipped:
        pytest.skip(row.seen)
    assert row.met, render_table([row])
    assert row.finished > 0  # the fault struck after samples were finished
