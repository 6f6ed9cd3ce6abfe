"""Judging stored samples, each verdict written to the store before its slot asks for the next one.

The in-process model judges one sample at a time; on servers, `parallel` samples are judged at once
(one slot each). A judging run is recorded in the store's runs like a generation run (technique
"judge"). A cancel (Ctrl-C, escape) drops the judgements in progress and keeps every finished one;
samples already judged by the same judge for the same aspects are skipped, so running again carries on.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from tui.engine.errors import BadInput, RunHalted, SmolgenError, StoreUnwritable
from tui.engine.judge import Judgement, JudgeSettings, judge
from tui.engine.language_model import LanguageModel
from tui.engine.model import Cancelled, derive_seed
from tui.engine.model_spec import check_key_variable, check_model_spec, is_server_url
from tui.engine.parallel_run import run_in_threads
from tui.engine.prompts import PromptLibrary
from tui.engine.run_names import JUDGING_TECHNIQUE
from tui.engine.server.settings import SettingNames
from tui.engine.settings_schema import record, setting, validate
from tui.engine.store import REVIEW_STATUSES, SampleStore
from tui.engine.techniques.base import can_chat

JudgedCallback = Callable[[dict[str, Any], Judgement, int, int], None]


def parse_run_ids(text: str) -> tuple[int, ...]:
    """Run ids written as "3, 5" (blank: none); BadInput names what is not a run id."""
    ids = []
    for part in text.replace(",", " ").split():
        if not part.isdigit() or int(part) < 1:
            raise BadInput(f"runs {part}: not a run id; write them as 3, 5")
        ids.append(int(part))
    return tuple(dict.fromkeys(ids))


# A judge server's URL, model and key variable as the Judge tab's fields name them in a bad-input line.
JUDGE_SERVER_FIELDS = SettingNames(server="judge model", model="judge server model", key="judge key variable")


@dataclass
class JudgeRunSettings:
    """A judging run as the app's Judge tab sets it: which stored samples, how they are judged, and by which model."""

    status: Literal["new", "accepted", "rejected", "all"] = setting("new", label="Samples",
                                                                    help="which stored samples to judge, by their review status")
    runs: str = setting("", label="Runs", help="only samples of these runs, e.g. 3, 5 (blank: every run)")
    judging: JudgeSettings = setting(default_factory=JudgeSettings, label="Judging")
    again: bool = setting(False, label="Judge again", help="also judge samples this judge has already rated for these aspects")
    judge_model: str = setting("", label="Judge model",
                               help="blank: the model in use; or another GGUF file's path, or an OpenAI-compatible server's URL")
    judge_server_model: str = setting("", label="Judge server model",
                                      help="with a server URL: the model to ask for (blank: the server's only model)")
    judge_api_key_env: str = setting("", label="Judge key variable",
                                     help="with a server URL: the environment variable that holds its API key")

    def check_together(self) -> None:
        parse_run_ids(self.runs)
        spec = self.judge_model.strip()
        if spec:
            check_model_spec(spec, JUDGE_SERVER_FIELDS.server)
        if is_server_url(spec):
            check_key_variable(self.judge_api_key_env, JUDGE_SERVER_FIELDS.key)


class JudgeRun:
    """Judging stored samples as the app offers it beside the techniques: a settings tab, ctrl+g runs it."""

    name = JUDGING_TECHNIQUE
    summary = "Rates stored samples 1 to 5 with a judge model and tags their instructions"
    settings_class = JudgeRunSettings
    needs_seeds = False
    chats = True  # the judge answers in chat: a base model cannot judge

    def __init__(self, settings: JudgeRunSettings | None = None):
        self.settings = validate(settings or JudgeRunSettings())

    def samples(self, store: SampleStore) -> list[dict[str, Any]]:
        """The stored samples the settings choose (SmolgenError when none; BadInput for an unknown run)."""
        return select_samples(store, self.settings.status, parse_run_ids(self.settings.runs), runs_label="runs")


def select_samples(store: SampleStore, status: str, runs: Sequence[int] = (), runs_label: str = "--run") -> list[dict[str, Any]]:
    """The samples with this review status ("all": any but failed) of these runs (none: every run); an unknown
    run is bad input (named by `runs_label`), no sample at all an error."""
    statuses = REVIEW_STATUSES if status == "all" else (status,)
    samples = store.list_samples(statuses=statuses)
    if runs:
        known = {run["id"] for run in store.list_runs()} | {s.get("run_id") for s in samples}
        for run_id in runs:
            if run_id not in known:
                raise BadInput(f"{runs_label} {run_id}: {store.path} has no run with that id (runs: {', '.join(map(str, sorted(i for i in known if i is not None))) or 'none'})")
        samples = [s for s in samples if s.get("run_id") in set(runs)]
    if not samples:
        chosen = "samples" if status == "all" else f"{status} samples"
        raise SmolgenError(f"{store.path}: nothing to judge: 0 {chosen}" + (" in those runs" if runs else ""))
    return samples


@dataclass
class JudgeRunSummary:
    """What a judging run did: samples rated, failed (by reason), skipped as already judged, and how it ended."""

    total: int
    already_judged: int = 0
    rated: int = 0
    failed: int = 0
    failures: Counter = field(default_factory=Counter)
    ratings: list[float] = field(default_factory=list)
    seconds: float = 0.0
    status: str = "running"  # finished, cancelled, halted or stopped
    halt_reason: str | None = None
    run_id: int | None = None

    @property
    def mean_rating(self) -> float | None:
        return round(sum(self.ratings) / len(self.ratings), 2) if self.ratings else None

    @property
    def per_minute(self) -> float:
        judged = self.rated + self.failed
        return judged * 60 / self.seconds if self.seconds > 0 else 0.0

    @property
    def not_judged(self) -> int:
        """Samples the run meant to judge but did not reach (a cancel or a halt came first)."""
        return self.total - self.rated - self.failed

    def record(self) -> dict[str, Any]:
        """The summary as the run's record keeps it: judged, failed and not judged add up to the samples it took."""
        return {
            "judged": self.rated, "failed": self.failed, "cancelled": self.not_judged, "total": self.total,
            "already_judged": self.already_judged, "failures": dict(self.failures), "mean_rating": self.mean_rating,
            "wall_seconds": round(self.seconds, 3), "per_minute": round(self.per_minute, 2), "halt_reason": self.halt_reason,
        }


def check_judge_model(model: LanguageModel) -> None:
    """A judge must chat: a GGUF without a chat template cannot (BadInput says so)."""
    if not can_chat(model):
        try:
            model.chat_template  # noqa: B018 - raises BadInput naming what is missing
        except BadInput as error:
            raise BadInput(f"the judge needs a chat template: {error}") from None


def already_judged(sample: dict[str, Any], model: LanguageModel, aspects: Sequence[str]) -> bool:
    """Whether this judge has rated the sample for these aspects before (a failed verdict does not count)."""
    verdict = sample.get("judgement")
    return bool(verdict) and verdict.get("failure") is None and verdict.get("judge_fingerprint") == model.fingerprint() \
        and verdict.get("aspects") == list(aspects)


def judge_samples(
    store: SampleStore,
    model: LanguageModel,
    samples: list[dict[str, Any]],
    aspects: Sequence[str],
    run_seed: int,
    *,
    tag: bool = True,
    again: bool = False,
    prompts: PromptLibrary | None = None,
    cancel: threading.Event | None = None,
    on_judged: JudgedCallback | None = None,
    parallel: int = 1,
    chosen_by: dict[str, Any] | None = None,
    limit: int | None = None,
) -> JudgeRunSummary:
    """Judge `samples`, storing each verdict at once, and record the run; `tag=False` leaves the instructions
    untagged, `again` judges those already judged too, `limit` caps how many are judged, `chosen_by` (status,
    runs) goes into the run's record.

    With `parallel` > 1 (servers only: the in-process model serves one call at a time) that many samples are
    judged at once, each slot storing its verdict before it takes the next sample. `on_judged(sample,
    judgement, done, total)` follows each stored verdict, from the slot's thread. Every server down ends the
    run early (status "halted"); a cancel ends it with status "cancelled".
    """
    check_judge_model(model)
    prompts = prompts or PromptLibrary()
    unjudged = samples if again else [s for s in samples if not already_judged(s, model, aspects)]
    todo = unjudged[:limit] if limit is not None else unjudged
    summary = JudgeRunSummary(total=len(todo), already_judged=len(samples) - len(unjudged))
    settings = record(JudgeSettings(list(aspects), tag))
    summary.run_id = store.start_run(technique=JUDGING_TECHNIQUE, settings={**settings, "again": again, **(chosen_by or {})}, seed=run_seed,
                                     model=model.describe(), num=len(todo), threads=getattr(model, "n_threads", None))
    pending = iter(todo)
    lock = threading.Lock()  # the next sample, the counts and the callback, when slots judge at once
    halt = threading.Event()  # the user's cancel, or a slot's error: every slot stops
    errors: list[BaseException] = []

    def judge_in_turn() -> None:
        while not halt.is_set() and not (cancel is not None and cancel.is_set()):
            with lock:
                sample = next(pending, None)
            if sample is None:
                return
            verdict = judge(model, sample.get("conversation") or [], aspects, tag=tag, seed=derive_seed(run_seed, sample["id"]),
                            prompts=prompts, cancel=halt if parallel > 1 else cancel)
            with lock:
                store.set_judgement(sample["id"], {**verdict.record(), "run_id": summary.run_id})
                if verdict.ok:
                    summary.rated += 1
                    if verdict.rating is not None:
                        summary.ratings.append(verdict.rating)
                else:
                    summary.failed += 1
                    summary.failures[verdict.failure_reason] += 1
                if on_judged is not None:
                    on_judged(sample, verdict, summary.rated + summary.failed, len(todo))

    def slot() -> None:
        try:
            judge_in_turn()
        except Cancelled:
            pass
        except BaseException as error:  # a server pool down, a full disk: every slot stops
            errors.append(error)
            halt.set()

    started = time.perf_counter()
    failure: StoreUnwritable | None = None
    try:
        if parallel > 1:
            run_in_threads([slot] * parallel, "smolgen-judge", cancel, halt)
            if errors:
                raise errors[0]
        else:
            judge_in_turn()
        summary.status = "cancelled" if cancel is not None and cancel.is_set() and summary.not_judged else "finished"
    except Cancelled:
        summary.status = "cancelled"
    except RunHalted as halted:
        summary.status, summary.halt_reason = "halted", str(halted)
    except StoreUnwritable as error:  # a full disk: every verdict stored so far stays
        summary.status, failure = "stopped", error
    except BaseException:
        summary.status = "interrupted"
        raise
    finally:
        summary.seconds = time.perf_counter() - started
        try:
            store.finish_run(summary.run_id, summary.status, summary.record())
        except StoreUnwritable as error:
            failure = failure or error
    if failure is not None:
        raise failure
    return summary
