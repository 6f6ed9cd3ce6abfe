"""Other programs' share of the CPU, read from /proc/stat: what the app shows beside its tok/s."""

from __future__ import annotations

import os
import sys

import pytest

from tui.engine import cpu_load
from tui.engine.cpu_load import CpuReading, OtherProgramsLoad, cores_busy_elsewhere, read_cpu


def test_the_cores_others_kept_busy_are_the_machines_busy_seconds_less_our_own_over_the_time_between():
    before, after = CpuReading(100.0, 10.0, 50.0), CpuReading(106.0, 12.0, 52.0)
    assert cores_busy_elsewhere(before, after) == pytest.approx(2.0)  # 6 s busy in 2 s, 2 of them ours
    assert cores_busy_elsewhere(before, CpuReading(101.0, 12.0, 52.0)) == 0.0  # never below nothing
    assert cores_busy_elsewhere(before, before) == 0.0


def test_a_stat_file_is_read_as_the_kernel_writes_it_and_none_where_there_is_none(tmp_path):
    stat = tmp_path / "stat"
    hz = os.sysconf("SC_CLK_TCK")
    stat.write_text(f"cpu  {hz} 0 {hz} 9999 7 {hz} 0 {hz} 0 0\ncpu0 1 2 3\n", encoding="ascii")  # user nice system idle iowait irq softirq steal
    assert read_cpu(stat).busy_seconds == pytest.approx(4.0)  # idle and iowait are not busy
    assert read_cpu(tmp_path / "missing") is None
    stat.write_text("cpu garbage\n", encoding="ascii")
    assert read_cpu(stat) is None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/stat is Linux's")
def test_this_machine_reads_and_its_busy_time_includes_ours():
    reading = read_cpu()
    assert reading is not None and reading.busy_seconds >= reading.own_seconds > 0


def test_the_note_shows_only_once_a_window_has_passed_with_half_a_core_or_more_busy_elsewhere(monkeypatch):
    readings = iter([CpuReading(0, 0, 0), CpuReading(1, 0, 1), CpuReading(4, 0, 2), CpuReading(4.4, 0, 4)])
    monkeypatch.setattr(cpu_load, "read_cpu", lambda: next(readings))
    load = OtherProgramsLoad(window=2.0)
    assert load.update() is None and load.note() == ""  # 1 s: no window yet
    assert load.update() == pytest.approx(2.0)
    assert load.note() == f" (2.0 of {os.cpu_count()} cores busy elsewhere)"
    assert load.update() == pytest.approx(0.2) and load.note() == ""  # too little to slow generation
