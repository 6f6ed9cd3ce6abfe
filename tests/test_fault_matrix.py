"""The fault matrix of `smolgen bench faults` (tui/bench/faults.py): every finished sample readable or
repaired after each fault, and not one traceback. Run with `-s` to see the table."""

from tui.bench.faults import run_fault_matrix, render_table


def test_every_fault_keeps_every_finished_sample_and_prints_no_traceback(tmp_path, capsys):
    rows = run_fault_matrix(tmp_path)
    with capsys.disabled():
        print("\n" + render_table(rows))
    assert [row.fault for row in rows if not (row.met or row.skipped)] == []
    assert all(row.finished > 0 for row in rows if not row.skipped)  # each fault struck after samples were finished
