"""How a run hands a stored sample's id around: to the technique through its stream, to the front end
through the observer."""

import threading
import time
from dataclasses import dataclass

from tests.scripted_model import ScriptedModel
from tui.engine.run_rows import SampleWriter
from tui.engine.runner import RunObserver, run_generation


@dataclass
class NoSettings:
    """A technique with nothing to set."""


class ParentAndChild:
    """A technique whose second sample links to the first, as EvolInstruct's generations do."""

    name = "parent_and_child"
    needs_seeds = False

    def __init__(self):
        self.made: list[dict] = []
        self.ids_received: list[int] = []

    settings = NoSettings()

    def check(self, prompts, rows) -> None:
        pass

    def generate(self, ctx, index, row):
        parent = {"technique": self.name, "instruction": "Name a fruit."}
        self.made.append(parent)
        parent_id = yield parent
        self.ids_received.append(parent_id)
        child = {"technique": self.name, "instruction": "Name a fruit that is red.", "parent_id": parent_id}
        self.made.append(child)
        self.ids_received.append((yield child))


class Recorder(RunObserver):
    def __init__(self):
        self.samples: list[dict] = []

    def sample_done(self, sample, done, total):
        self.samples.append(sample)


def test_a_stored_samples_id_reaches_the_technique_only_through_its_stream(store, prompts):
    technique, recorder = ParentAndChild(), Recorder()
    summary = run_generation(technique, store, ScriptedModel([]), prompts, 1, 7, observer=recorder)
    stored = store.list_samples()
    assert summary.stored == 2 and technique.ids_received == [s["id"] for s in stored]
    assert stored[1]["parent_id"] == stored[0]["id"] and stored[0]["run_id"] == summary.run_id
    assert all("id" not in made and "run_id" not in made for made in technique.made)  # its dicts stay as it made them
    assert [(s["id"], s["instruction"], s["run_id"]) for s in recorder.samples] == [
        (s["id"], s["instruction"], s["run_id"]) for s in stored
    ]  # the front end opens each sample by the id it is told


def test_a_run_counts_its_truncated_samples_and_its_summary_says_export_leaves_them_out(store, prompts):
    from tui.cli_generate import summary_line
    from tui.engine.techniques.chain import InstructionResponse

    model = ScriptedModel(["Why is the sky blue?", "Light scatters.", "Why is grass green?", ("Chlorophyll absorbs", "length")])
    summary = run_generation(InstructionResponse(), store, model, prompts, 2, 7, rows=[{"text": "Ask about colour."}])
    assert summary.stored == 2 and summary.truncated == 1
    assert summary_line(summary).endswith("; 1 truncated: left out of export unless --include-truncated")
    assert store.list_runs()[-1]["summary"]["truncated"] == 1


def _wait_until(condition, seconds=10.0):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def _write_at_once(writer, count):
    """`count` threads each hand the writer one sample; returns each thread's id (or error) by its number."""
    outcome = {}

    def write(number):
        try:
            outcome[number] = writer.write({"technique": "t", "instruction": f"Question {number}?"}, number)
        except Exception as error:  # noqa: BLE001 - the test reads what each thread got
            outcome[number] = error

    threads = [threading.Thread(target=write, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    return threads, outcome


def test_samples_finished_at_once_share_one_journal_append_and_each_row_gets_its_own_id(store):
    batches, first_write, release = [], threading.Event(), threading.Event()
    add_samples = store.add_samples

    def held_add_samples(samples):
        batches.append(len(samples))
        if len(batches) == 1:  # the first write waits until the seven other rows have handed theirs over
            first_write.set()
            release.wait(10)
        return add_samples(samples)

    store.add_samples = held_add_samples
    writer = SampleWriter(store, Recorder(), 8, 1, {})
    threads, outcome = _write_at_once(writer, 8)
    assert first_write.wait(10)
    _wait_until(lambda: len(writer._handed) == 7)
    release.set()
    for thread in threads:
        thread.join(10)
    assert batches == [1, 7]  # eight samples, two appends (two fsyncs)
    by_id = {s["id"]: s for s in store.list_samples()}
    assert len(by_id) == 8 and {by_id[outcome[n]]["instruction"] for n in range(8)} == {f"Question {n}?" for n in range(8)}
    assert all(by_id[outcome[n]]["instruction"] == f"Question {n}?" for n in range(8))


def test_a_batch_the_disk_refuses_stores_none_of_its_samples_and_each_of_its_rows_learns_why(store):
    from tui.engine.errors import StoreUnwritable

    def refused(samples):
        raise StoreUnwritable(f"{store.path}: cannot write the journal (No space left on device)")

    store.add_samples = refused
    writer = SampleWriter(store, Recorder(), 4, 1, {})
    threads, outcome = _write_at_once(writer, 4)
    for thread in threads:
        thread.join(10)
    assert all(isinstance(outcome[n], StoreUnwritable) for n in range(4))
    assert store.list_samples() == [] and writer.finished == 0
