"""`smolgen bench faults`: the fault matrix. Each fault is made for real, as a user would meet it, and the
commands a user would type afterwards are run as processes (`python -m tui`; runs with the paced
stand-in model of tui/bench/paced_cli.py, as the model's text does not matter here):

- a full disk mid-run (a 64 KB tmpfs) and a read-only store (the tmpfs remounted read-only);
- SIGTERM during a run; two processes on one store;
- SIGKILL at each of five steps of folding the journal into the snapshot (the store's test-only hook);
- a damaged journal line first, in the middle and last, and a journal cut off mid-line.

For each: the samples finished before the fault (their write had returned), the samples a reading
command shows after it, the samples `smolgen store repair` brings back on top, and the Python
tracebacks any of the commands printed. The goal, beside each row: every finished sample readable or
repaired, and no traceback. The disk faults need root to mount a tmpfs; without it they are skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from tui.bench.small_disk import CannotMount, remount, small_disk

GOAL = "every finished sample readable or repaired, 0 tracebacks"
FOLD_STEPS = ("snapshot-half-written", "before-snapshot-fsync", "before-rename", "before-folder-fsync", "before-journal-truncate")

# Adds samples, printing each one's number once its write has returned, then closes the store (a fold)
# or, given "kill", dies as `kill -9` would leave it: the journal not yet folded in.
WRITER = """
import os, signal, sys
from tui.engine.store import SampleStore
store = SampleStore(sys.argv[1])
for i in range(int(sys.argv[2])):
    store.add_sample({"technique": "magpie", "instruction": "Question %d?" % i, "response": "Answer %d. " % i * 20,
                      "conversation": [{"role": "user", "content": "Question %d?" % i},
                                       {"role": "assistant", "content": "Answer %d. " % i * 20}]})
    print(i, flush=True)
if sys.argv[3] == "kill":
    os.kill(os.getpid(), signal.SIGKILL)
store.close()
"""


@dataclass
class FaultRow:
    """What one fault did to the samples, and whether the goal was met."""

    fault: str
    finished: int = 0
    readable: int = 0
    repaired: int = 0
    tracebacks: int = 0
    seen: str = ""  # the line the user was shown, or why the fault was not made
    skipped: bool = False

    @property
    def met(self) -> bool:
        return not self.skipped and self.readable + self.repaired >= self.finished and self.tracebacks == 0


class Session:
    """The processes one fault runs, in one folder, each one's tracebacks counted."""

    def __init__(self, row: FaultRow, folder: Path):
        self.row, self.folder = row, folder

    def _count(self, stderr: str) -> None:
        self.row.tracebacks += stderr.count("Traceback (most recent call last)")

    def run(self, *command: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
        done = subprocess.run(list(command), cwd=cwd or self.folder, capture_output=True, text=True, env=_env(), timeout=600)
        self._count(done.stderr)
        return done

    def smolgen(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
        return self.run(sys.executable, "-m", "tui", *args, cwd=cwd)

    def paced(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
        """`smolgen ARGS` with the stand-in model writing as fast as it can."""
        return self.run(sys.executable, "-m", "tui.bench.paced_cli", "0", *args, cwd=cwd)

    def run_until(self, stored: int) -> tuple[subprocess.Popen, list[str]]:
        """A 50-sample run in the background, once `stored` samples are; the lines it printed so far."""
        process = subprocess.Popen([sys.executable, "-m", "tui.bench.paced_cli", "0.01", "generate", "magpie", "--num", "50"],
                                   cwd=self.folder, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=_env())
        seen = []
        for line in process.stderr:
            seen.append(line)
            if line.startswith(f"[{stored}/50] stored"):
                break
        return process, seen

    def terminate(self, process: subprocess.Popen, seen: list[str]) -> str:
        """SIGTERM to a run; everything it printed."""
        process.send_signal(signal.SIGTERM)
        stderr = "".join(seen) + process.stderr.read()
        process.wait(timeout=600)
        self._count(stderr)
        return stderr

    def writer(self, store: Path, count: int, end: str, crash_at: str | None = None) -> int:
        """Run WRITER; the samples whose write returned."""
        env = {**_env(), **({"SMOLGEN_TEST_CRASH_AT": crash_at} if crash_at else {})}
        command = [sys.executable, "-c", WRITER, str(store), str(count), end]
        done = subprocess.run(command, capture_output=True, text=True, env=env)
        self._count(done.stderr)
        return len(done.stdout.split())

    def readable(self, store: Path, out: Path) -> int:
        """The samples `smolgen export --status all` writes (or counts as skipped); 0 when it cannot read the store."""
        out.unlink(missing_ok=True)
        done = self.smolgen("export", "--status", "all", "--out", str(out), "--store", os.path.relpath(store, self.folder))
        match = re.search(r"wrote (\d+) rows(?:.*, (\d+) skipped)?", done.stdout)
        if done.returncode or match is None:
            self.row.seen = self.row.seen or _last_line(done.stderr)
            return 0
        return int(match.group(1)) + int(match.group(2) or 0)

    def repair(self, store: Path, out: Path) -> None:
        """`smolgen store repair`, then the samples readable beyond those readable before count as repaired."""
        done = self.smolgen("store", "repair", "--store", os.path.relpath(store, self.folder))
        lost = re.search(r"^not recovered: (.*)$", done.stdout, re.M)
        if lost and lost.group(1) != "nothing":
            self.row.seen = " · ".join(filter(None, [self.row.seen, f"repair: not recovered: {lost.group(1)}"]))
        self.row.repaired = max(0, self.readable(store, out) - self.row.readable)


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1"}


def _last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1] if lines else ""


def _stored_lines(stderr: str) -> int:
    return len(re.findall(r"^\[\d+/\d+\] stored", stderr, re.M))


def full_disk(session: Session) -> None:
    with small_disk(session.folder / "disk", "64k") as disk:
        done = session.paced("generate", "magpie", "--num", "2000", "--quiet", cwd=disk)
        session.row.finished = _stored_lines(done.stderr)
        session.row.seen = _last_line(done.stderr)
        session.row.readable = session.readable(disk / "smolgen.json", session.folder / "out.jsonl")


def read_only_store(session: Session) -> None:
    with small_disk(session.folder / "disk", "1m") as disk:
        done = session.paced("generate", "magpie", "--num", "20", "--quiet", cwd=disk)
        session.row.finished = _stored_lines(done.stderr)
        remount(disk, "ro")
        refused = session.paced("generate", "magpie", "--num", "1", "--quiet", cwd=disk)
        session.row.seen = _last_line(refused.stderr)
        for reading in (("stats", "--format", "json"), ("seeds", "list"), ("store", "check")):
            session.smolgen(*reading, cwd=disk)
        session.row.readable = session.readable(disk / "smolgen.json", session.folder / "out.jsonl")


def sigterm(session: Session) -> None:
    stderr = session.terminate(*session.run_until(3))
    session.row.finished = _stored_lines(stderr)
    session.row.seen = next((line for line in stderr.splitlines() if line.startswith("run 1 ")), _last_line(stderr))
    session.row.readable = session.readable(session.folder / "smolgen.json", session.folder / "out.jsonl")


def two_processes(session: Session) -> None:
    first = session.run_until(2)
    second = session.paced("generate", "magpie", "--num", "5", "--quiet")
    session.smolgen("stats")
    session.row.seen = _last_line(second.stderr)
    stderr = session.terminate(*first)
    session.row.finished = _stored_lines(stderr) + _stored_lines(second.stderr)
    session.row.readable = session.readable(session.folder / "smolgen.json", session.folder / "out.jsonl")


def kill_during_fold(step: str) -> Callable[[Session], None]:
    def fault(session: Session) -> None:
        store = session.folder / "s.json"
        before = session.writer(store, 5, "close")
        after = session.writer(store, 5, "close", crash_at=step)
        session.row.finished = before + after
        session.row.readable = session.readable(store, session.folder / "out.jsonl")
        session.row.seen = "store check: " + _last_line(session.smolgen("store", "check", "--store", store.name).stdout).strip()

    return fault


def damaged_line(where: str) -> Callable[[Session], None]:
    def fault(session: Session) -> None:
        store = session.folder / "s.json"
        session.row.finished = session.writer(store, 9, "kill")
        journal = store.with_name("s.json.journal")
        lines = journal.read_bytes().split(b"\n")
        number = {"first": 0, "middle": len(lines) // 2, "last": len(lines) - 2}[where]
        line = lines[number]
        at = len(line) * 2 // 3  # in the middle of the answer
        lines[number] = line[:at] + b'\x00\xff"#' + line[at + 4:]
        journal.write_bytes(b"\n".join(lines))
        out = session.folder / "out.jsonl"
        session.row.readable = session.readable(store, out)
        session.repair(store, out)

    return fault


def journal_cut_mid_line(session: Session) -> None:
    store = session.folder / "s.json"
    session.row.finished = session.writer(store, 9, "kill")
    journal = store.with_name("s.json.journal")
    raw = journal.read_bytes()
    last_start = raw.rstrip(b"\n").rfind(b"\n") + 1
    journal.write_bytes(raw[: last_start + (len(raw) - last_start) * 3 // 4])  # the last sample's conversation cut
    out = session.folder / "out.jsonl"
    session.row.readable = session.readable(store, out)
    session.repair(store, out)


def faults() -> list[tuple[str, Callable[[Session], None]]]:
    """Every fault of the matrix, by the name its row shows."""
    return [
        ("full disk mid-run", full_disk),
        ("read-only store", read_only_store),
        ("SIGTERM during a run", sigterm),
        *((f"SIGKILL folding: {step}", kill_during_fold(step)) for step in FOLD_STEPS),
        *((f"damaged journal line: {where}", damaged_line(where)) for where in ("first", "middle", "last")),
        ("journal cut mid-line", journal_cut_mid_line),
        ("two processes", two_processes),
    ]


def run_fault(name: str, fault: Callable[[Session], None], place: Path) -> FaultRow:
    """Make one fault in the empty folder `place`; its row."""
    row = FaultRow(name)
    try:
        fault(Session(row, place))
    except CannotMount as error:
        row.skipped, row.seen = True, f"skipped: cannot mount a tmpfs ({error})"
    return row


def run_fault_matrix(folder: Path) -> list[FaultRow]:
    """Make every fault in its own subfolder of `folder`; one row each."""
    rows = []
    for number, (name, fault) in enumerate(faults(), start=1):
        place = folder / f"fault-{number}"
        place.mkdir()
        rows.append(run_fault(name, fault, place))
    return rows


def render_table(rows: list[FaultRow]) -> str:
    """The matrix as a text table, the goal beside each row."""
    lines = [f"{'fault':<40}{'finished':>9}{'readable':>9}{'repaired':>9}{'tracebacks':>11}  goal: {GOAL}"]
    for row in rows:
        verdict = "skipped" if row.skipped else ("met" if row.met else "NOT MET")
        lines.append(f"{row.fault:<40}{row.finished:>9}{row.readable:>9}{row.repaired:>9}{row.tracebacks:>11}  {verdict}")
    lines.append("")
    lines.extend(f"{row.fault}: {row.seen}" for row in rows if row.seen)
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of `smolgen bench faults`."""
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def cmd_bench_faults(args: argparse.Namespace) -> int:
    """Make every fault in a temporary folder and print the matrix; exit 1 when a goal is not met."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="smolgen-bench-faults-") as folder:
        rows = run_fault_matrix(Path(folder))
    if args.json:
        print(json.dumps({"goal": GOAL, "rows": [{**asdict(row), "met": row.met} for row in rows]}, ensure_ascii=False))
    else:
        print(render_table(rows))
        print(f"\n{sum(row.met for row in rows)} of {len(rows)} faults met the goal in {time.perf_counter() - started:.0f} s")
    return 0 if all(row.met or row.skipped for row in rows) else 1
