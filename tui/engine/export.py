"""Export curated samples as JSON Lines for fine-tuning.

`messages` is the conversational format TRL's SFTTrainer reads; `alpaca` is instruction/input/output.
Both write UTF-8 as written (no escaping of non-ASCII text) and use the edited text where a person
edited a sample.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from tui.engine.errors import BadInput

FORMATS = ("messages", "alpaca")


@dataclass
class ExportResult:
    path: Path
    written: int
    skipped: int


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
    raise BadInput(f"--format {fmt}: unknown format; use one of {', '.join(FORMATS)}")


def export_samples(samples: Iterable[dict[str, Any]], fmt: str, out: str | Path, overwrite: bool = False) -> ExportResult:
    """Write the samples to `out` atomically; refuse to replace an existing file unless asked. With no row
    to write, `out` is left as it was (an empty file would only block the next export)."""
    out = Path(out)
    if fmt not in FORMATS:
        raise BadInput(f"--format {fmt}: unknown format; use one of {', '.join(FORMATS)}")
    if out.is_dir():
        raise BadInput(f"{out}: is a folder; give a file path")
    if out.exists() and not overwrite:
        raise BadInput(f"{out}: already exists; pass --force to overwrite it")
    if not out.parent.is_dir():
        raise BadInput(f"{out}: folder {out.parent} does not exist")
    written = skipped = 0
    tmp = out.with_name(f".{out.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        for sample in samples:
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
    return ExportResult(out, written, skipped)
