"""Running a pipeline: one in-process loop that owns the model and takes each row through every step.

Rows go depth first, so a finished sample is stored before the next row starts. On servers
(`OpenAICompatibleLLM`), that many source rows are in flight at once, each in a worker thread that
takes it through every step; the bookkeeping (cache, counts, store) is done under one lock. Every step output is
cached under a signature of what decides it (model fingerprint, template text, step settings, input
row) and written at once, so a re-run, or a run resumed after Escape, Ctrl-C or `kill -9`, generates
nothing twice. A generation that fails is retried, then recorded with its reason; the run goes on.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tui.engine.errors import BadInput, GenerationFailed, RunHalted, StoreUnwritable
from tui.engine.llm import LlamaCppLLM, OpenAICompatibleLLM
from tui.engine.model import Cancelled, new_run_seed
from tui.engine.parallel_run import OldestRowWatch, run_in_threads
from tui.engine.pipeline.draw import draw_text
from tui.engine.pipeline.steps import GenerationStep, LoadSeedsFromStore, Row, Step, named_by
from tui.engine.prompts import PromptLibrary
from tui.engine.runner import RunObserver, run_stopped
from tui.engine.store import REVIEW_STATUSES, SampleStore
from tui.engine.preferences import PAIR_COLUMNS, TECHNIQUE as PREFERENCE
from tui.engine.techniques.base import GenerationContext, ReadsStoredSamples

if TYPE_CHECKING:  # only for annotations: a Pipeline's run() is what calls run_pipeline
    from tui.engine.pipeline.graph import Pipeline

log = logging.getLogger("smolgen.pipeline")


class PipelineObserver(RunObserver):
    """RunObserver hooks plus per-step progress; called from the running thread."""

    def step_progress(self, step: str, counts: "StepCounts") -> None:
        """A step generated, reused or failed one more row."""


@dataclass
class StepCounts:
    generated: int = 0
    cached: int = 0
    failed: int = 0
    rows: int = 0
    failures: Counter = field(default_factory=Counter)
    rejected: Counter = field(default_factory=Counter)  # candidates a filter dropped (SelfInstruct, EvolInstruct)

    def record(self) -> dict[str, Any]:
        return {
            "generated": self.generated,
            "cached": self.cached,
            "failed": self.failed,
            "rows": self.rows,
            "failures": dict(self.failures),
            "rejected": dict(self.rejected),
        }


@dataclass
class PipelineSummary:
    pipeline: str
    run_id: int
    steps: dict[str, StepCounts]
    stored: int = 0
    already_stored: int = 0
    status: str = "running"
    wall_seconds: float = 0.0
    halt_reason: str | None = None
    models: dict[str, Any] = field(default_factory=dict)  # step name -> its model as recorded

    def record(self) -> dict[str, Any]:
        """The summary `smolgen run --json` prints."""
        return {
            "pipeline": self.pipeline,
            "run_id": self.run_id,
            "status": self.status,
            **({"halt_reason": self.halt_reason} if self.halt_reason else {}),
            "steps": {name: counts.record() for name, counts in self.steps.items()},
            "stored": self.stored,
            "already_stored": self.already_stored,
            "wall_seconds": round(self.wall_seconds, 3),
            "models": self.models,
        }


def signature(*parts: Any) -> str:
    """A stable hash of JSON-able parts."""
    payload = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.blake2b(payload.encode("utf-8"), digest_size=16).hexdigest()


def run_pipeline(
    pipeline: Pipeline,
    store: SampleStore,
    use_cache: bool = True,
    observer: PipelineObserver | None = None,
    cancel: threading.Event | None = None,
    prompts: PromptLibrary | None = None,
    llm: LlamaCppLLM | OpenAICompatibleLLM | None = None,
) -> PipelineSummary:
    """Run `pipeline`, storing its finished rows as samples in `store`."""
    steps = pipeline.validate()
    run = _PipelineRun(pipeline, steps, store, use_cache, observer or PipelineObserver(), cancel, prompts or PromptLibrary(), llm)
    return run.execute()


class _PipelineRun:
    def __init__(self, pipeline: Pipeline, steps: list[Step], store: SampleStore, use_cache: bool,
                 observer: PipelineObserver, cancel: threading.Event | None, prompts: PromptLibrary,
                 llm: LlamaCppLLM | OpenAICompatibleLLM | None):
        self.pipeline, self.steps, self.store = pipeline, steps, store
        self.observer, self.prompts = observer, prompts
        self.user_cancel = cancel
        self.cancel = threading.Event()  # the user's cancel, or a worker's error: every row in flight stops
        self._lock = threading.RLock()  # the cache, counts, store and observer, when rows run at once
        self._worker = threading.local()
        self._watch: OldestRowWatch | None = None
        self.default_llm = llm or LlamaCppLLM()
        self.cache = store.cached_outputs() if use_cache else {}
        # A fresh salt makes --no-cache draw new samples instead of replaying the cached ones.
        self.salt = 0 if use_cache else new_run_seed()
        self.stored_rows = {s.get("row_signature") for s in store.list_samples() if s.get("row_signature")}
        self.counts = {step.name: StepCounts() for step in steps}
        self.summary = PipelineSummary(pipeline.name, 0, self.counts)
        self._templates: dict[str, str] = {}
        self._techniques: dict[str, Any] = {}
        self._models_checked: set[str] = set()  # the steps whose model was checked for what the step needs of it

    def execute(self) -> PipelineSummary:
        source = self.steps[0]
        if isinstance(source, LoadSeedsFromStore):
            source.store_rows = [seed["row"] for seed in self.store.list_seeds(selected_only=True)]
        for step in self.steps:  # bad input is reported before the run is recorded, where it can be found
            if isinstance(step, GenerationStep):
                with named_by(step):
                    self._template_text(step)
                self._check_before_run(step)
        rows = source.rows()
        if not rows:
            raise BadInput(f"{source.label}: the source step gives no rows")
        if not isinstance(source, GenerationStep):
            self.counts[source.name].rows = len(rows)
            self.observer.step_progress(source.name, self.counts[source.name])
        self.summary.run_id = self.store.start_run(
            technique="pipeline", pipeline=self.pipeline.name, settings=self.pipeline.config(), use_cache=self.salt == 0,
            drawing=draw_text(self.pipeline),  # what a dataset card shows of how its rows were made
        )
        started = time.perf_counter()
        failure: StoreUnwritable | None = None
        if isinstance(source, GenerationStep):  # a generating source (Magpie) makes its own rows
            def take(row: Row) -> None:
                self._generate_then_flow(source, row, self.steps[1:])
        else:
            def take(row: Row) -> None:
                self._flow(row, self.steps[1:])
        try:
            # Also one row at a time in a worker thread: the user's cancel then reaches the model mid-row.
            self._run_at_once(rows, take, self._workers())
            self.summary.status = "finished"
        except Cancelled:
            self.summary.status = "cancelled"
        except RunHalted as halted:  # every server down: what was stored and cached stays
            self.summary.status, self.summary.halt_reason = "halted", str(halted)
        except StoreUnwritable as error:  # a full disk: stop at once, every cached output and sample stays
            self.summary.status, failure = "stopped", error
        except BaseException:
            self.summary.status = "interrupted"
            raise
        finally:
            self.summary.wall_seconds = time.perf_counter() - started
            self.summary.models = self._models_used()
            try:
                self.store.finish_run(self.summary.run_id, self.summary.status, self.summary.record())
            except StoreUnwritable as error:
                failure = failure or error
        if failure is not None:
            raise run_stopped(failure, self.store, self.summary.run_id, self.summary.stored) from None
        return self.summary

    def _check_before_run(self, step: GenerationStep) -> None:
        llm = step.llm or self.default_llm
        # Servers are connected now (their fingerprint needs them anyway); a GGUF is loaded only once a row needs it.
        model = llm.load() if isinstance(llm, OpenAICompatibleLLM) or llm.loaded else None
        with named_by(step):
            step.check_before_run(model)
        if model is not None:
            self._models_checked.add(step.name)

    def _model_checked(self, step: GenerationStep, model: Any) -> None:
        """What the step needs of its model, checked once it loaded if it could not be before the run."""
        with self._lock:
            if step.name not in self._models_checked:
                with named_by(step):
                    step.check_model(model)
                self._models_checked.add(step.name)

    def _models_used(self) -> dict[str, Any]:
        """Each generation step's model as a run records it, for the steps whose model was loaded (not all cached)."""
        return {step.name: (step.llm or self.default_llm).load().describe() for step in self.steps
                if isinstance(step, GenerationStep) and (step.llm or self.default_llm).loaded}

    def _workers(self) -> int:
        """Source rows in flight: the largest concurrency of the pipeline's models (1 in-process)."""
        llms = [step.llm or self.default_llm for step in self.steps if isinstance(step, GenerationStep)]
        return max([llm.concurrency for llm in llms] or [1])

    def _check_cancel(self) -> None:
        if self.user_cancel is not None and self.user_cancel.is_set():
            self.cancel.set()
        if self.cancel.is_set():
            raise Cancelled()

    def _run_at_once(self, rows: list[Row], take: Any, workers: int) -> None:
        """Take `rows` with `workers` threads; the oldest row in flight is the one whose text is shown."""
        pending = iter(enumerate(rows))
        handing_out = threading.Lock()
        errors: list[BaseException] = []
        watch = self._watch = OldestRowWatch(workers)

        def work(number: int) -> None:
            self._worker.number = number
            try:
                while not self.cancel.is_set():
                    with handing_out:
                        index, row = next(pending, (None, None))
                    if index is None:
                        return
                    watch.started(number, index)
                    take(row)
                    watch.finished(number)
            except Cancelled:
                pass
            except BaseException as error:  # a store that cannot be written, a template error: the run stops
                errors.append(error)
                self.cancel.set()

        run_in_threads([lambda n=n: work(n) for n in range(workers)], "smolgen-pipeline", self.user_cancel, self.cancel)
        if errors:
            raise errors[0]
        if self.cancel.is_set():
            raise Cancelled()

    def _watched(self) -> Any:
        """Whether this thread's row is the one shown; None when rows run one by one (always shown)."""
        if self._watch is None:
            return None
        watch, number = self._watch, self._worker.number
        return lambda: watch.is_watched(number)

    def _flow(self, row: Row, remaining: list[Step]) -> None:
        self._check_cancel()
        if not remaining:
            with self._lock:
                self._store(row)
            return
        step, rest = remaining[0], remaining[1:]
        if isinstance(step, GenerationStep):
            self._generate_then_flow(step, row, rest)
            return
        counts = self.counts[step.name]
        with self._lock:
            following_rows = list(step.process(row))
        for following in following_rows:
            with self._lock:
                counts.rows += 1
                self.observer.step_progress(step.name, counts)
            self._flow(following, rest)

    def _generate_then_flow(self, step: GenerationStep, row: Row, rest: list[Step]) -> None:
        produced = self._generate(step, row)
        if produced is not None:
            self._flow(produced, rest)

    def _generate(self, step: GenerationStep, row: Row) -> Row | None:
        """The row after `step`, from the cache or the model; None when the row failed for good."""
        counts = self.counts[step.name]
        llm = step.llm or self.default_llm
        key = signature(llm.fingerprint(), self._template_text(step), step.kind, step.cache_settings(), row)
        with self._lock:
            entry = self.cache.get(key)
            if entry is not None:
                counts.rejected.update(entry.get("rejected", {}))
                counts.cached += 1
                counts.rows += 1
                self.observer.step_progress(step.name, counts)
                return self._merge(step, row, entry)
            with named_by(step):
                technique = step.technique_for(step.view(row)) if hasattr(step, "technique_for") else self._technique(step)
        model = llm.load()
        self._model_checked(step, model)
        reason, message = "error", ""
        watched = self._watched()
        for attempt in range(step.max_retries + 1):
            text = self.observer.text if self.observer.shows_text else None
            ctx = GenerationContext(model, self.prompts, _seed(key, self.salt), self.cancel, text,
                                    self._stage_shown_if(watched), watched=watched)
            try:
                with named_by(step):
                    samples = _all_samples(technique.generate(ctx, attempt, step.technique_row(row)))
                    produced = step.collect(samples)
            except (Cancelled, BadInput, RunHalted):
                raise
            except GenerationFailed as error:
                reason, message = error.reason, str(error)
            except Exception as error:  # one bad generation must not end the run
                log.exception("step %s failed on a row", step.name)
                reason, message = "error", f"{type(error).__name__}: {error}"
            else:
                return self._keep(step, row, key, samples, produced)
        with self._lock:
            return self._record_failure(step, row, reason, message)

    def _stage_shown_if(self, watched: Any) -> Any:
        if watched is None:
            return self.observer.stage
        return lambda text: self.observer.stage(text) if watched() else None

    def _keep(self, step: GenerationStep, row: Row, key: str, samples: list[Row], produced: Any) -> Row:
        """Cache a step's output for a row, count it, and give the row it makes."""
        counts = self.counts[step.name]
        kept = [s for s in samples if s.get("status") != "failed"]
        rejected = Counter(s["failure"]["reason"] for s in samples if s.get("status") == "failed" and s.get("failure"))
        entry = {
            "step": step.name,
            "outputs": produced,
            "flags": list(dict.fromkeys(flag for s in kept for flag in s.get("flags", []))),
            "rejected": dict(rejected),
            "tokens": {  # a count a server did not give adds nothing
                "prompt": sum((s.get("tokens") or {}).get("prompt") or 0 for s in samples),
                "completion": sum((s.get("tokens") or {}).get("completion") or 0 for s in samples),
            },
            "calls": [call for s in samples for call in s.get("calls") or []],
            "raw": [text for s in samples for text in s.get("raw") or []],
        }
        with self._lock:
            counts.rejected.update(rejected)
            self.store.put_cached_output(key, entry)
            self.cache[key] = entry
            counts.generated += 1
            counts.rows += 1
            self.observer.step_progress(step.name, counts)
            return self._merge(step, row, entry)

    def _record_failure(self, step: GenerationStep, row: Row, reason: str, message: str) -> None:
        """A row that failed for good: stored as a failed sample with its reason; the run goes on."""
        counts = self.counts[step.name]
        counts.failed += 1
        counts.failures[reason] += 1
        failed = {
            "technique": f"pipeline:{self.pipeline.name}",
            "status": "failed",
            "failure": {"reason": reason, "message": message, "step": step.name, "attempts": step.max_retries + 1},
            "seed_row": _visible(row),
            "run_id": self.summary.run_id,
        }
        failed["id"] = self.store.add_sample(failed)  # the id lets a front end open the sample it is shown
        self.observer.step_progress(step.name, counts)
        self.observer.sample_done(failed, self.summary.stored, 0)
        return None

    def _merge(self, step: GenerationStep, row: Row, entry: dict[str, Any]) -> Row:
        merged = step.merge(row, entry["outputs"])
        flags = list(dict.fromkeys([*(row.get("flags") or []), *entry.get("flags", [])]))
        if flags:
            merged["flags"] = flags
        return merged

    def _technique(self, step: GenerationStep) -> Any:
        """One technique per step and run, so state such as SelfInstruct's duplicate index spans rows."""
        if step.name not in self._techniques:
            technique = step.technique()
            if isinstance(technique, ReadsStoredSamples):
                technique.prepare_run(self.store.list_samples(statuses=REVIEW_STATUSES))
            self._techniques[step.name] = technique
        return self._techniques[step.name]

    def _template_text(self, step: GenerationStep) -> str:
        if step.name not in self._templates:
            self._templates[step.name] = step.template_text(self.prompts)
        return self._templates[step.name]

    def _store(self, row: Row) -> None:
        row_signature = signature(self.pipeline.name, _visible(row))
        if row_signature in self.stored_rows:
            self.summary.already_stored += 1
            return
        sample = sample_from_row(row, self.pipeline.name)
        sample.update(run_id=self.summary.run_id, row_signature=row_signature)
        sample["id"] = self.store.add_sample(sample)
        self.stored_rows.add(row_signature)
        self.summary.stored += 1
        self.observer.sample_done(sample, self.summary.stored, 0)


def _all_samples(result: Any) -> list[Row]:
    """Every sample a technique made for a row: one dict, or a stream that is sent no store ids
    (a pipeline stores rows, not each intermediate sample)."""
    return [result] if isinstance(result, dict) else list(result)


def _seed(key: str, salt: int) -> int:
    return (int(key[:8], 16) ^ salt) % (2**31 - 2) + 1


def _visible(row: Row) -> Row:
    """The row's columns without the internal ones (names starting with "_")."""
    return {k: v for k, v in row.items() if not k.startswith("_")}


def sample_from_row(row: Row, pipeline: str) -> dict[str, Any]:
    """A stored sample from a finished pipeline row: its instruction, response and conversation; a row with a
    preference pair (a `preference_pairs` step) is stored as a preference sample."""
    if all(column in row for column in PAIR_COLUMNS):
        pair = {column: row[column] for column in PAIR_COLUMNS}
        return {"technique": PREFERENCE, "pipeline": pipeline, "instruction": row.get("instruction"), **pair,
                "columns": _visible(row), "flags": row.get("flags", [])}
    instruction = row.get("instruction")
    response = row.get("response", row.get("generation"))
    system_prompt = row.get("system_prompt")
    conversation = row.get("conversation")
    if not conversation:
        conversation = [{"role": "system", "content": system_prompt}] if system_prompt else []
        if instruction:
            conversation.append({"role": "user", "content": str(instruction)})
        if response:
            conversation.append({"role": "assistant", "content": str(response)})
    return {
        "technique": f"pipeline:{pipeline}",
        "pipeline": pipeline,
        "instruction": instruction,
        "response": response,
        "conversation": conversation,
        "system_prompt": system_prompt,
        "columns": _visible(row),
        "flags": row.get("flags", []),
        **({"judgement": row["judgement"]} if row.get("judgement") else {}),  # a `judge` step's verdict, where ratings are read
    }
