"""Export curated samples as JSON Lines for fine-tuning.

`messages` is the conversational format TRL's SFTTrainer reads; `alpaca` is instruction/input/output;
`instructions` is the instruction alone (SelfInstruct or EvolInstruct with `--no-answer`). All write UTF-8 as written (no escaping of non-ASCII text) and use the edited text where a person
edited a sample. A sample cut off by a token cap is left out unless asked for: its text stops
mid-thought, and a model trained on it learns to stop mid-thought too. One a person edited since is
theirs, and goes out.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from tui.engine.errors import BadInput

FORMATS = ("messages", "alpaca", "instructions")
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

    Truncated samples (`is_truncated`) are left out and counted unless `include_truncated`.
    """
    out = Path(out)
    if fmt not in FORMATS:
        raise BadInput(f"--format {fmt}: unknown format; use one of {', '.join(FORMATS)}")
    if out.is_dir():
        raise BadInput(f"{out}: is a folder; give a file path")
    if out.exists() and not overwrite:
        raise BadInput(f"{out}: already exists; pass --force to overwrite it")
    if not out.parent.is_dir():
        raise BadInput(f"{out}: folder {out.parent} does not exist")
    written = skipped = truncated = 0
    tmp = out.with_name(f".{out.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        for sample in samples:
            if not include_truncated and is_truncated(sample):
                truncated += 1
                continue
            row = export_row(sample, fmt)
            if row is None:
                skipped += 1
                continue
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            written += 1
    if written:
        os.replace(tmp, out)
    else:
        tmp.unlink()
    return ExportResult(out, written, skipped, truncated)
