"""Other programs' share of the CPU, read from /proc/stat: what the app shows beside its tok/s, and the
threads the model decodes on."""

from __future__ import annotations

import os
import sys

import pytest

from tui.engine import cpu_load
from tui.engine.cpu_load import CpuReading, OtherProgramsLoad, cores_busy_elsewhere, read_cpu
from tui.engine.model import Model
from tui.engine.model_file import default_model_path, inspect_model


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


class _Llama:
    """Stands in for llama-cpp-python's Llama: only its context pointer is read."""

    ctx = object()


@pytest.mark.parametrize("busy, threads", [(0.2, 2), (0.8, 1), (1.7, 1), (3.0, 1)])
def test_a_model_decodes_on_the_cores_other_programs_leave_free_and_back_on_all_when_they_stop(monkeypatch, busy, threads):
    import llama_cpp

    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    set_to: list[tuple[int, int]] = []
    monkeypatch.setattr(llama_cpp, "llama_set_n_threads", lambda ctx, n, n_batch: set_to.append((n, n_batch)))
    seconds = iter(range(0, 1000, 10))
    # Each window: `busy` cores of other programs' CPU seconds, then none.
    busy_seconds = iter([0.0, busy * 10, busy * 10])
    monkeypatch.setattr(cpu_load, "read_cpu", lambda: CpuReading(next(busy_seconds), 0.0, next(seconds)))
    model = Model(inspect_model(default_model_path()), _Llama(), 2048, 2, threads_follow_free_cores=True)
    model.fit_threads_to_free_cores()
    assert model.threads_in_use == threads and set_to == ([] if threads == 2 else [(threads, threads)])
    model.fit_threads_to_free_cores()  # the other programs stopped
    assert model.threads_in_use == 2


def test_threads_asked_for_are_kept_whatever_else_runs(monkeypatch):
    ticks = iter(range(1000))
    monkeypatch.setattr(cpu_load, "read_cpu", lambda: (lambda n: CpuReading(20.0 * n, 0.0, 10.0 * n))(next(ticks)))
    model = Model(inspect_model(default_model_path()), _Llama(), 2048, 2)
    model.fit_threads_to_free_cores()
    assert model.threads_in_use == 2
