"""How a run hands a stored sample's id around: to the technique through its stream, to the front end
through the observer."""

from dataclasses import dataclass

from tests.scripted_model import ScriptedModel
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
