"""The figures of a run with rows in flight, and which row a person watches."""

from __future__ import annotations

from tui.engine.parallel_run import ChosenRowWatch
from tui.engine.run_progress import RunProgress, duration_text


def test_the_progress_line_counts_rates_and_time_left():
    progress = RunProgress(total=10, started=100.0)
    progress.sample_done({"status": "new", "tokens": {"completion": 30}}, row=1)
    progress.sample_done({"status": "new", "tokens": {"completion": None}}, row=2)  # a count the server did not give
    progress.sample_done({"status": "failed", "failure": {"reason": "timeout"}}, row=3)
    progress.sample_done({"status": "new", "tokens": {"completion": 30}}, row=3)  # a row can give several samples
    line = progress.line(in_flight=4, now=112.0)
    assert line == "in flight 4 · stored 3 · failed 1 · 5.0 tok/s · 20 samples/min · ETA 0:28"


def test_durations_read_as_a_clock():
    assert [duration_text(s) for s in (0, 59.6, 61, 3600, 3725)] == ["0:00", "1:00", "1:01", "1:00:00", "1:02:05"]


def test_the_oldest_row_is_watched_until_a_person_steps_to_another():
    watch = ChosenRowWatch(3)
    for worker, row in enumerate((4, 2, 7)):
        watch.started(worker, row)
    assert watch.watched_row == 2 and watch.is_watched(1)
    assert watch.step(1) == 4 and watch.is_watched(0)
    assert watch.step(1) == 7
    assert watch.step(1) == 2  # round the end
    assert watch.step(-1) == 7
    watch.started(1, 9)  # row 2 finished, its worker took row 9: the choice stays on row 7
    assert watch.watched_row == 7
    watch.finished(2)  # the chosen row is done: back to the oldest in flight
    assert watch.watched_row == 4
    watch.finished(0)
    watch.finished(1)
    assert watch.watched_row is None and watch.step(1) is None
