"""The Judge tab: ctrl+g rates the stored samples its filters choose, each verdict on disk before the next,
with the live progress line, cancellable by escape, by the model in use or another."""

from __future__ import annotations

import dataclasses
import threading

from tests.app.conftest import make_app, notifications, show_form, shown_text, wait_for
from tests.app.fake_backend import FakeBackend, FakeModel
from tests.app.test_app_review import add_samples, on_disk
from tui.engine.model import Cancelled


class HeldFakeModel(FakeModel):
    """The paced stand-in judge (it answers each schema with a valid verdict), except that its call number
    `held_call` waits for the run to be cancelled: a test cancels a judgement surely in progress."""

    def __init__(self, held_call: int):
        super().__init__()
        self.held_call, self.calls = held_call, 0
        self.waiting = threading.Event()

    def complete(self, prompt, sampling, seed, stop=(), cancel=None, on_text=None, until=None):
        self.calls += 1
        if self.calls == self.held_call and cancel is not None:
            self.waiting.set()
            cancel.wait(30)
            raise Cancelled()
        return super().complete(prompt, sampling, seed, stop, cancel, on_text, until)


async def show_judge_tab(pilot) -> None:
    app = pilot.app
    await wait_for(pilot, lambda: app.model is not None, what="the model")
    await show_form(pilot, "judge")


def judged(store) -> dict[str, dict | None]:
    return {sample_id: sample.get("judgement") for sample_id, sample in on_disk(store).items()}


async def test_the_judge_tab_rates_the_new_samples_with_a_progress_line_and_records_the_run(app_store, prompts):
    first, second, third = add_samples(app_store, "What is SmolLM2?", "Explain Magpie.", "Name a river.")
    app_store.set_status([third], "accepted")
    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=(120, 36)) as pilot:
        await show_judge_tab(pilot)
        form = app.main_screen.query_one("#form-judge")
        # The form is the settings dataclass's: which samples, the aspects and tags, the judge model.
        for field in ("status", "runs", "judging--aspects", "judging--tag", "again", "judge_model"):
            assert form.query(f"#judge--{field}"), field
        assert app.main_screen.query_one("#run-num").placeholder == "every one chosen"
        form.query_one("#judge--judging--aspects").load_text("helpfulness\nhonesty")
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: "Finished" in shown_text(app, "#stage"), what="the judging run to finish")
        assert "2/2 samples judged" in shown_text(app, "#run-stats")
        assert "Judging finished: 2 rated" in notifications(app)[-1]
    verdicts = judged(app_store)
    assert verdicts[str(third)] is None  # accepted: not chosen by "new"
    for sample_id in (first, second):
        verdict = verdicts[str(sample_id)]
        assert verdict["failure"] is None and set(verdict["ratings"]) == {"helpfulness", "honesty"} and verdict["tags"]
    [run] = app_store.list_runs()
    assert (run["technique"], run["status"], run["settings"]["aspects"]) == ("judge", "finished", ["helpfulness", "honesty"])
    assert (run["summary"]["judged"], run["summary"]["failed"], run["summary"]["cancelled"]) == (2, 0, 0)
    assert verdicts[str(first)]["run_id"] == run["id"]


async def test_escape_cancels_judging_and_keeps_each_verdict_stored_before_it(app_store, prompts):
    ids = add_samples(app_store, "One?", "Two?", "Three?")
    model = HeldFakeModel(held_call=3)  # the second sample's rating (each sample: a rating, then the tags)
    app = make_app(app_store, prompts, FakeBackend(model))
    async with app.run_test(size=(120, 36)) as pilot:
        await show_judge_tab(pilot)
        await pilot.press("ctrl+g")
        await wait_for(pilot, model.waiting.is_set, what="the second judgement to start")
        first_verdict = judged(app_store)[str(ids[0])]
        assert first_verdict is not None and first_verdict["failure"] is None  # on disk before the next began
        assert "1/3 samples judged" in shown_text(app, "#run-stats")
        await pilot.press("escape")
        await wait_for(pilot, lambda: not app.running, timeout=10, what="the run to stop")
        await wait_for(pilot, lambda: "Cancelled" in shown_text(app, "#stage"))
    verdicts = judged(app_store)
    assert [verdicts[str(i)] is not None for i in ids] == [True, False, False]
    [run] = app_store.list_runs()
    assert run["status"] == "cancelled" and (run["summary"]["judged"], run["summary"]["cancelled"]) == (1, 2)


async def test_another_judge_model_judges_in_place_of_the_model_in_use(app_store, prompts):
    add_samples(app_store, "What is SmolLM2?")
    other = FakeModel()
    other.info = dataclasses.replace(other.info, name="Bigger judge", fingerprint="bigger")
    backend = FakeBackend(aside={"http://judge.example:8080/v1": other})
    app = make_app(app_store, prompts, backend)
    async with app.run_test(size=(120, 36)) as pilot:
        await show_judge_tab(pilot)
        form = app.main_screen.query_one("#form-judge")
        form.query_one("#judge--judge_model").value = "missing.gguf"
        await pilot.pause()
        assert "missing.gguf: no such GGUF file" in str(form.query_one(".field-problem").render())
        form.query_one("#judge--judge_model").value = "http://judge.example:8080/v1"
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: "Finished" in shown_text(app, "#stage"), what="the judging run to finish")
    [verdict] = judged(app_store).values()
    assert verdict["judge"] == "Bigger judge" and verdict["judge_fingerprint"] == "bigger"
    assert backend.opened_aside == ["http://judge.example:8080/v1"]


async def test_a_judge_server_is_asked_for_the_model_named_with_the_key_from_the_variable_named(app_store, prompts, monkeypatch):
    add_samples(app_store, "What is SmolLM2?")
    url = "http://judge.example:8080/v1"
    backend = FakeBackend(aside={url: FakeModel()})
    app = make_app(app_store, prompts, backend)
    async with app.run_test(size=(120, 36)) as pilot:
        await show_judge_tab(pilot)
        form = app.main_screen.query_one("#form-judge")

        def problem() -> str:
            return " ".join(str(shown.render()) for shown in form.query(".field-problem"))

        form.query_one("#judge--judge_server_model").value = "big-judge"
        form.query_one("#judge--judge_model").value = url
        form.query_one("#judge--judge_api_key_env").value = "SMOLGEN_TEST_JUDGE_KEY"
        await wait_for(pilot, lambda: "judge key variable SMOLGEN_TEST_JUDGE_KEY: that environment variable is not set" in problem())
        monkeypatch.setenv("SMOLGEN_TEST_JUDGE_KEY", "not-shown")
        form.query_one("#judge--judge_api_key_env").value = "SMOLGEN_TEST_JUDGE_KEY "
        await pilot.pause()
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: "Finished" in shown_text(app, "#stage"), what="the judging run to finish")
    assert backend.aside_servers == [("big-judge", "SMOLGEN_TEST_JUDGE_KEY")]


def test_the_real_backend_connects_to_a_judge_server_with_the_model_and_key_variable_named(monkeypatch):
    from tui.app.backend import LlamaBackend
    from tui.engine.server import connect as connect_module

    asked = []
    monkeypatch.setattr(connect_module, "connect", lambda settings: asked.append(settings) or FakeModel())
    monkeypatch.setenv("SMOLGEN_TEST_JUDGE_KEY", "not-shown")
    LlamaBackend().open_aside(" http://judge.example:8080/v1 ", None, "big-judge", "SMOLGEN_TEST_JUDGE_KEY")
    [settings] = asked
    assert (settings.urls, settings.model, settings.api_key_env) == (["http://judge.example:8080/v1"], "big-judge", "SMOLGEN_TEST_JUDGE_KEY")


async def test_nothing_to_judge_is_said_and_nothing_runs(app_store, prompts):
    add_samples(app_store, "What is SmolLM2?")
    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=(120, 36)) as pilot:
        await show_judge_tab(pilot)
        app.main_screen.query_one("#form-judge").query_one("#judge--status").value = "accepted"
        await pilot.pause()
        await pilot.press("ctrl+g")
        await pilot.pause()
        assert "nothing to judge: 0 accepted samples" in notifications(app)[-1]
        assert not app.running and app_store.list_runs() == []


async def test_the_runs_field_chooses_the_samples_of_those_runs_and_an_unknown_run_is_named(app_store, prompts):
    first_run, second_run = app_store.start_run(technique="magpie"), app_store.start_run(technique="chain")
    [of_first] = add_samples(app_store, "From the first run?")
    [of_second] = add_samples(app_store, "From the second run?")
    for sample_id, run_id in ((of_first, first_run), (of_second, second_run)):
        app_store.restore_sample({**app_store.get_sample(sample_id), "run_id": run_id})
    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=(120, 36)) as pilot:
        await show_judge_tab(pilot)
        runs = app.main_screen.query_one("#form-judge").query_one("#judge--runs")
        runs.value = "9"
        await pilot.press("ctrl+g")
        await pilot.pause()
        assert notifications(app)[-1].startswith("runs 9: ") and "has no run with that id" in notifications(app)[-1]
        runs.value = str(second_run)
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: "Finished" in shown_text(app, "#stage"), what="the judging run to finish")
    verdicts = judged(app_store)
    assert verdicts[str(of_first)] is None and verdicts[str(of_second)]["failure"] is None
    assert app_store.list_runs()[-1]["settings"]["runs"] == [second_run]


async def test_a_judge_server_without_the_model_asked_for_is_one_line_naming_the_tabs_field(app_store, prompts):
    from tui.app.backend import LlamaBackend
    from tui.bench.stub_server import STUB_MODEL, ServerThread, StubServer

    class ServerAsideBackend(FakeBackend):
        """The fake model in use; a judge opened aside on a real server, as the real backend opens it."""

        def open_aside(self, *args, **kwargs):
            return LlamaBackend().open_aside(*args, **kwargs)

    add_samples(app_store, "What is SmolLM2?")
    app = make_app(app_store, prompts, ServerAsideBackend())
    with ServerThread(StubServer().handle) as server:
        async with app.run_test(size=(120, 36)) as pilot:
            await show_judge_tab(pilot)
            form = app.main_screen.query_one("#form-judge")
            form.query_one("#judge--judge_model").value = server.url
            form.query_one("#judge--judge_server_model").value = "gpt-9"
            await pilot.pause()
            await pilot.press("ctrl+g")
            expected = f"The run stopped: judge server model gpt-9: {server.url} does not have it; it has {STUB_MODEL}"
            await wait_for(pilot, lambda: expected in notifications(app), what="the judge's problem")  # the field, not --server-model
    assert not any(sample.get("judgement") for sample in on_disk(app_store).values())
