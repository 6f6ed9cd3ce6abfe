"""The `smolgen` command under faults of the process and the disk, as a user meets them: SIGTERM and SIGHUP
during a run, a disk that fills up, a read-only store. The runs use the paced stand-in model
(tui/bench/paced_cli.py): what is tested is the command around the model."""

import os
import signal
import subprocess
import sys

import pytest

from tests.conftest import run_cli
from tui.bench.small_disk import CannotMount, remount, small_disk
from tui.engine.store import SampleStore

PACED = [sys.executable, "-m", "tui.bench.paced_cli"]


def _paced(cwd, *args, word_delay="0.01"):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([*PACED, word_delay, *args], cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)


def _wait_for_line(process, needle):
    """Read the process's stderr until a line holds `needle`; the lines read so far."""
    lines = []
    for line in process.stderr:
        lines.append(line)
        if needle in line:
            return lines
    raise AssertionError(f"the process ended without printing {needle!r}: {''.join(lines)}")


@pytest.fixture
def disk(tmp_path):
    try:
        with small_disk(tmp_path / "disk", "64k") as folder:
            yield folder
    except CannotMount as error:
        pytest.skip(f"cannot mount a tmpfs here: {error}")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_stop_signal_during_a_run_cancels_it_like_ctrl_c(tmp_path, signum):
    process = _paced(tmp_path, "generate", "magpie", "--num", "50", "--seed", "1")
    _wait_for_line(process, "[2/50] stored")
    process.send_signal(signum)
    rest = process.stderr.read()
    assert process.wait(timeout=60) == 128 + signum
    assert "Traceback" not in rest
    summary = next(line for line in rest.splitlines() if line.startswith("run 1 cancelled:"))
    stored = int(summary.split(": ")[1].split(" stored")[0])
    assert f"smolgen: stopped by {signal.Signals(signum).name}; the sample in progress was dropped" in rest
    with SampleStore(tmp_path / "smolgen.json") as store:  # the lock was released
        samples = store.list_samples()
        [run] = store.list_runs()
    assert 2 <= stored < 50 and len(samples) == stored
    assert run["status"] == "cancelled" and run["summary"]["stored"] == stored


def test_a_second_signal_stops_a_run_that_does_not_end(tmp_path):
    process = _paced(tmp_path, "generate", "magpie", "--num", "5", word_delay="30")  # each word takes 30 s
    _wait_for_line(process, "magpie: 5 samples")
    process.send_signal(signal.SIGTERM)
    process.send_signal(signal.SIGTERM)
    rest = process.stderr.read()
    assert process.wait(timeout=60) == 128 + signal.SIGTERM and "Traceback" not in rest


def test_a_full_disk_stops_the_run_with_one_line_and_the_next_run_goes_on(disk):
    process = _paced(disk, "generate", "magpie", "--num", "1000", "--quiet", word_delay="0")
    err = process.stderr.read()
    assert process.wait(timeout=120) == 1
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    finished = sum(1 for line in err.splitlines() if "] stored" in line)
    assert last.startswith("smolgen: ") and "No space left on device" in last
    assert f"run 1 stopped: the {finished} samples it finished are safe in smolgen.json ({finished} in all)" in last
    with SampleStore(disk / "smolgen.json", read_only=True) as store:
        assert len(store.list_samples()) == finished
    remount(disk, "size=4m")
    again = subprocess.run([*PACED, "0", "generate", "magpie", "--num", "3", "--quiet"], cwd=disk, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    with SampleStore(disk / "smolgen.json") as store:
        assert len(store.list_samples()) == finished + 3


@pytest.mark.parametrize("fault", ["full", "read-only"])
def test_reading_commands_work_on_a_full_disk_and_a_read_only_store(disk, tmp_path, fault):
    filled = subprocess.run([*PACED, "0", "generate", "magpie", "--num", "1000", "--quiet"], cwd=disk, capture_output=True, text=True)
    assert filled.returncode == 1 and "No space left on device" in filled.stderr
    stored = filled.stderr.count("] stored")
    if fault == "read-only":
        remount(disk, "ro")
    out = tmp_path / "out"
    out.mkdir()
    for args, expected in (
        (["stats", "--format", "json"], f'"samples": {stored}'),
        (["export", "--status", "all", "--out", str(out / "all.jsonl")], f"wrote {stored} rows"),
        (["seeds", "list"], "0 seeds"),
        (["models"], "SmolLM2"),
        (["draw", "chapter"], "load_seeds"),
        (["store", "check"], f"holds {stored} samples"),
    ):
        result = run_cli(*args, cwd=disk)
        assert result.returncode == 0 and expected in result.stdout and "Traceback" not in result.stderr, (args, result.stderr)
    if fault == "read-only":
        result = run_cli("seeds", "import", str(out / "all.jsonl"), cwd=disk)
        assert result.returncode == 1 and result.stderr.count("\n") == 1
        assert "Read-only file system" in result.stderr and "stats, export and seeds list can still read it" in result.stderr
