"""A pipeline: a chain of steps connected with `>>`, checked before anything is generated."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from tui.engine.errors import BadInput
from tui.engine.pipeline import building
from tui.engine.pipeline.executor import PipelineObserver, PipelineSummary, run_pipeline
from tui.engine.pipeline.steps import SourceStep, Step
from tui.engine.store import DEFAULT_STORE, SampleStore


class Pipeline:
    """Steps built inside `with Pipeline() as p:` belong to p; `a >> b >> c` orders them."""

    def __init__(self, name: str = "pipeline", description: str = ""):
        self.name = name
        self.description = description
        self.steps: list[Step] = []
        self._next: dict[str, str] = {}

    # Building -----------------------------------------------------------------------------------

    def __enter__(self) -> "Pipeline":
        building.enter(self)
        return self

    def __exit__(self, *exc: object) -> None:
        building.leave()

    def unique_name(self, base: str) -> str:
        taken = {step.name for step in self.steps}
        index = 0
        while f"{base}_{index}" in taken:
            index += 1
        return f"{base}_{index}"

    def add_step(self, step: Step) -> None:
        if any(other.name == step.name for other in self.steps):
            raise BadInput(f"step name {step.name!r} is used twice in pipeline {self.name!r}")
        self.steps.append(step)

    def connect(self, before: Step, after: Step) -> None:
        if before.name in self._next and self._next[before.name] != after.name:
            raise BadInput(f"step {before.name!r} already feeds {self._next[before.name]!r}; a pipeline is one chain")
        self._next[before.name] = after.name

    # Shape --------------------------------------------------------------------------------------

    def ordered(self) -> list[Step]:
        """The steps from the source to the last one; a pipeline built with no `>>` keeps creation order."""
        if not self._next:
            return list(self.steps)
        by_name = {step.name: step for step in self.steps}
        targets = set(self._next.values())
        heads = [step for step in self.steps if step.name in self._next and step.name not in targets]
        if len(heads) != 1:
            raise BadInput(f"pipeline {self.name!r}: the steps must form one chain joined with >>")
        chain, current = [], heads[0]
        while current is not None:
            if current in chain:
                raise BadInput(f"pipeline {self.name!r}: step {current.name!r} loops back")
            chain.append(current)
            current = by_name.get(self._next.get(current.name, ""))
        loose = [step.name for step in self.steps if step not in chain]
        if loose:
            raise BadInput(f"pipeline {self.name!r}: step {loose[0]!r} is not connected with >>")
        return chain

    def validate(self) -> list[Step]:
        """Check that the first step is a source and that every column a step reads was produced before it."""
        steps = self.ordered()
        if not steps:
            raise BadInput(f"pipeline {self.name!r} has no steps")
        if not isinstance(steps[0], SourceStep):
            raise BadInput(f"pipeline {self.name!r}: the first step {steps[0].name!r} must be a source of rows")
        for index, step in enumerate(steps):
            if index and isinstance(step, SourceStep):
                raise BadInput(f"pipeline {self.name!r}: step {step.name!r} is a source but is not first")
        available = set(steps[0].writes)
        for step in steps[1:]:
            for column in step.reads:
                if column not in available:
                    produced = ", ".join(sorted(available)) or "none"
                    raise BadInput(
                        f"pipeline {self.name!r}: step {step.name!r} needs column {column!r}, which no earlier step "
                        f"produces (available: {produced}); add an input_mappings entry or a step that writes it"
                    )
            available |= set(step.writes)
        return steps

    # Running ------------------------------------------------------------------------------------

    def run(
        self,
        store: Any = None,
        use_cache: bool = True,
        observer: PipelineObserver | None = None,
        cancel: threading.Event | None = None,
        prompts: Any = None,
    ) -> PipelineSummary:
        """Run every row through the chain; `store` is a SampleStore or a path (default ./smolgen.json)."""
        if store is None or isinstance(store, (str, Path)):
            with SampleStore(store or DEFAULT_STORE) as opened:
                return run_pipeline(self, opened, use_cache, observer, cancel, prompts)
        return run_pipeline(self, store, use_cache, observer, cancel, prompts)

    def close_models(self) -> None:
        """Close what the steps' own models opened (a GGUF a step loaded, a server connection), once a run
        is over; a later run opens them again. A model handed in from outside stays open."""
        handles = [llm for step in self.steps for llm in (getattr(step, "llm", None), *getattr(step, "responder_llms", ()))]
        for handle in {id(llm): llm for llm in handles if llm is not None}.values():
            handle.close()

    def config(self) -> dict[str, Any]:
        """The pipeline as TOML-ready tables."""
        return {"name": self.name, "description": self.description, "steps": [step.config() for step in self.ordered()]}
