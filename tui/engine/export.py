"""Export curated samples as JSON Lines for fine-tuning.

`messages` is the conversational format TRL's SFTTrainer reads; `alpaca` is instruction/input/output;
`instructions` is the instruction alone (SelfInstruct or EvolInstruct with `--no-answer`); `dpo` is the
preference pairs in TRL's conversational preference format (`export_pairs`). All write UTF-8 as written
(no escaping of non-ASCII text) and use the edited text where a person edited a sample. A sample cut off by a token cap is left out unless asked for: its text stops
mid-thought, and a model trained on it learns to stop mid-thought too. One a person edited since is
theirs, and goes out.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

from tui.engine.errors import BadInput
from tui.engine.preferences import TECHNIQUE as PREFERENCE, dpo_row, is_pair

FORMATS = ("messages", "alpaca", "instructions")
PAIR_FORMAT = "dpo"  # preference pairs, written by `export_pairs`
# What a sample needs to make a row of each format: said when one is skipped.
NEEDED_FOR_A_ROW = {"messages": "answer", "alpaca": "instruction or answer", "instructions": "instruction"}


@dataclass
class ExportResult:
    path: Path
    written: int
    skipped: int  # nothing to train on in the format
    truncated: int = 0  # cut off by a token cap, left out

    def left_out(self, fmt: str, keeps_truncated: str) -> str:
        """What was not written and why, e.g. ", 2 truncated left out (--include-truncated keeps them)";
        `keeps_truncated` names the switch that keeps them in the front end's own words."""
        notes = []
        if self.truncated:
            notes.append(f"{self.truncated} truncated left out ({keeps_truncated} keeps them)")
        if self.skipped:
            notes.append(f"{self.skipped} skipped (no {NEEDED_FOR_A_ROW[fmt]})")
        return "".join(f", {note}" for note in notes)


def is_truncated(sample: dict[str, Any]) -> bool:
    """The model hit a token cap in this sample and no person has edited it since."""
    return "truncated" in (sample.get("flags") or []) and not sample.get("edited")


def export_row(sample: dict[str, Any], fmt: str) -> dict[str, Any] | None:
    """One output row for a sample, or None when the sample has nothing to train on in that format."""
    conversation = [m for m in sample.get("conversation") or [] if m.get("content")]
    if fmt == "messages":
        if not any(m["role"] == "assistant" for m in conversation):
            return None
        return {"messages": [{"role": m["role"], "content": m["content"]} for m in conversation]}
    if fmt == "alpaca":
        instruction = sample.get("instruction")
        response = sample.get("response")
        if not instruction or not response:
            return None
        return {"instruction": instruction, "input": sample.get("input") or "", "output": response}
    if fmt == "instructions":
        instruction = sample.get("instruction")
        return {"instruction": instruction} if instruction else None
    raise BadInput(f"--format {fmt}: unknown format; use one of {', '.join(FORMATS)}")


def export_samples(
    samples: Iterable[dict[str, Any]], fmt: str, out: str | Path, overwrite: bool = False, include_truncated: bool = False
) -> ExportResult:
    """Write the samples to `out` atomically; refuse to replace an existing file unless asked. With no row
    to write, `out` is left as it was (an empty file would only block the next export).

    Truncated samples (`is_truncated`) are left out and counted unless `include_truncated`. Preference
    samples are pairs, not conversations: `export_pairs` writes them.
    """
    if fmt not in FORMATS:
        raise BadInput(f"--format {fmt}: unknown format; use one of {', '.join(FORMATS)}")
    result = ExportResult(_checked_out(out, overwrite), 0, 0)

    def rows() -> Iterator[dict[str, Any]]:
        for sample in samples:
            if sample.get("technique") == PREFERENCE:
                continue
            if not include_truncated and is_truncated(sample):
                result.truncated += 1
                continue
            row = export_row(sample, fmt)
            if row is None:
                result.skipped += 1
                continue
            yield row

    result.written = _write_rows(result.path, rows())
    return result


@dataclass
class PairExportResult:
    """What `export_pairs` wrote, and the preference samples it left out, by why."""

    path: Path
    written: int = 0
    undecided: int = 0  # no pair: a tie, or too few ratings
    below_margin: int = 0
    judge_decided: int = 0  # left out by `human_only`

    def left_out(self) -> str:
        """What was not written and why, e.g. ", 2 ties or unrated left out"."""
        notes = [(self.undecided, "without a pair (tie or unrated)"), (self.below_margin, "below --min-margin"),
                 (self.judge_decided, "decided by the judge (--human-only)")]
        return "".join(f", {count} {why} left out" for count, why in notes if count)


def export_pairs(
    samples: Iterable[dict[str, Any]], out: str | Path, overwrite: bool = False, min_margin: float | None = None,
    human_only: bool = False,
) -> PairExportResult:
    """Write the preference pairs among `samples` to `out` in TRL's conversational preference format, atomically,
    as `export_samples` does. `min_margin` keeps the judge's pairs whose ratings differ by at least that much (a
    person's pick has no margin and is kept); `human_only` keeps only the pairs a person picked."""
    if min_margin is not None and min_margin < 0:
        raise BadInput(f"--min-margin {min_margin:g}: must be 0 or more (ratings run from 1 to 5)")
    result = PairExportResult(_checked_out(out, overwrite))

    def rows() -> Iterator[dict[str, Any]]:
        for sample in samples:
            if sample.get("technique") != PREFERENCE:
                continue
            human = sample.get("decided_by") == "human"
            if not is_pair(sample):
                result.undecided += 1
            elif human_only and not human:
                result.judge_decided += 1
            elif min_margin is not None and not human and (sample.get("margin") or 0) < min_margin:
                result.below_margin += 1
            else:
                yield dpo_row(sample)

    result.written = _write_rows(result.path, rows())
    return result


def _checked_out(out: str | Path, overwrite: bool) -> Path:
    out = Path(out)
    if out.is_dir():
        raise BadInput(f"{out}: is a folder; give a file path")
    if out.exists() and not overwrite:
        raise BadInput(f"{out}: already exists; pass --force to overwrite it")
    if not out.parent.is_dir():
        raise BadInput(f"{out}: folder {out.parent} does not exist")
    return out


def _write_rows(out: Path, rows: Iterable[dict[str, Any]]) -> int:
    """Write rows as JSON Lines through a temporary file renamed over `out`; with no row, `out` is left as it was."""
    written = 0
    tmp = out.with_name(f".{out.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            written += 1
    if written:
        os.replace(tmp, out)
    else:
        tmp.unlink()
    return written
