"""Runs named the way a person recognises them where one is chosen: "run 8 · magpie · 12:04 · 40 samples"."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

# How a judging run is named in the store's runs: it judges samples and stores none of its own.
JUDGING_TECHNIQUE = "judge"


@dataclass(frozen=True)
class RunChoice:
    """One run as a choice: its id, the name shown, and the samples it stored (failed ones left out)."""

    id: int
    name: str
    samples: int


def run_name(run: dict[str, Any], samples: int, today: date | None = None) -> str:
    """Number, technique (a pipeline's name), local start time (with the day when not today), samples."""
    parts = [f"run {run['id']}"]
    technique = run.get("technique")
    if technique == "pipeline" and run.get("pipeline"):
        technique = f"pipeline {run['pipeline']}"
    if technique:
        parts.append(str(technique))
    if run.get("started"):
        started = datetime.fromisoformat(run["started"]).astimezone()
        parts.append(started.strftime("%H:%M" if started.date() == (today or date.today()) else "%Y-%m-%d %H:%M"))
    parts.append(f"{samples} sample{'' if samples == 1 else 's'}")
    return " · ".join(parts)


def run_choices(runs: list[dict[str, Any]], samples_by_run: Counter) -> list[RunChoice]:
    """Every run recorded or named by a sample, oldest first; judging runs, which store no samples, left out."""
    recorded = {run["id"]: run for run in runs if run.get("technique") != JUDGING_TECHNIQUE}
    ids = sorted(set(recorded) | {run_id for run_id in samples_by_run if run_id is not None})
    return [RunChoice(run_id, run_name(recorded.get(run_id, {"id": run_id}), samples_by_run[run_id]), samples_by_run[run_id])
            for run_id in ids]


def latest_two_with_samples(choices: list[RunChoice]) -> tuple[int, int] | None:
    """The runs to compare first ("did my last prompt edit help?"): the two latest that stored samples."""
    with_samples = [choice.id for choice in choices if choice.samples]
    return (with_samples[-2], with_samples[-1]) if len(with_samples) >= 2 else None
