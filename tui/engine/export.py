"""Export curated samples as JSON Lines for fine-tuning, in the formats trainers read.

Each format is one function registered in `FORMATS` (`@export_format`): it turns a sample into one
row, or None when the sample has nothing to train on in that format. `dpo` is apart: preference pairs in
TRL's conversational preference format, written by `export_pairs` with its own reasons to leave a sample
out. All write UTF-8 as written (no
escaping of non-ASCII text) and use the edited text where a person edited a sample. A sample cut off
by a token cap is left out unless asked for: its text stops mid-thought, and a model trained on it
learns to stop mid-thought too. One a person edited since is theirs, and goes out.

Samples are read one at a time and each row is written as it is made, so an export holds one sample
in memory whatever the size of the store.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from tui.engine.chat_template import ChatTemplate
from tui.engine.chat_template_file import load_chat_template
from tui.engine.errors import BadInput
from tui.engine.judge import check_min_rating, sample_rating
from tui.engine.model_file import default_model_path
from tui.engine.preferences import TECHNIQUE as PREFERENCE, dpo_row, is_pair, pair_truncated

Row = dict[str, Any]


@dataclass(frozen=True)
class RowOptions:
    """What a format may need beyond the sample: the chat template `text` renders conversations with."""

    chat_template: ChatTemplate | None = None


@dataclass(frozen=True)
class ExportFormat:
    """One output format: its name, what it is for (help and the app's dialog), and how a row is made."""

    name: str
    summary: str
    needs: str  # what a sample must have to make a row, said when one is skipped
    row: Callable[[dict[str, Any], RowOptions], Row | None]


FORMATS: dict[str, ExportFormat] = {}
PAIR_FORMAT = "dpo"  # preference pairs, written by `export_pairs`
HUB_FOLDER = "hf"  # the --format that writes a dataset folder of rows for the Hub (tui/engine/hub_folder.py)


def export_format(name: str, summary: str, needs: str) -> Callable:
    """Register the decorated `row(sample, options)` function as the format `name`."""

    def register(row: Callable[[dict[str, Any], RowOptions], Row | None]) -> Callable:
        FORMATS[name] = ExportFormat(name, summary, needs, row)
        return row

    return register


def _turns(sample: dict[str, Any]) -> list[dict[str, str]]:
    """The conversation's messages that have text, as role and content only."""
    return [{"role": m["role"], "content": m["content"]} for m in sample.get("conversation") or [] if m.get("content")]


def _answered(sample: dict[str, Any]) -> list[dict[str, str]] | None:
    """The conversation when the assistant speaks in it (something to train on), else None."""
    turns = _turns(sample)
    return turns if any(m["role"] == "assistant" for m in turns) else None


@export_format("messages", "TRL SFT conversations", "answer")
def messages_row(sample: dict[str, Any], options: RowOptions) -> Row | None:
    """`{"messages": [{"role", "content"}, ...]}`, the conversational format TRL's SFTTrainer reads."""
    turns = _answered(sample)
    return {"messages": turns} if turns else None


@export_format("alpaca", "instruction / input / output", "instruction or answer")
def alpaca_row(sample: dict[str, Any], options: RowOptions) -> Row | None:
    """`{"instruction", "input", "output"}`, the first exchange, as Alpaca and LLaMA-Factory's default read it."""
    instruction = sample.get("instruction")
    response = sample.get("response")
    if not instruction or not response:
        return None
    return {"instruction": instruction, "input": sample.get("input") or "", "output": response}


@export_format("instructions", "the instruction alone, no answer", "instruction")
def instructions_row(sample: dict[str, Any], options: RowOptions) -> Row | None:
    """`{"instruction"}`: SelfInstruct or EvolInstruct with `--no-answer`, for answering elsewhere."""
    instruction = sample.get("instruction")
    return {"instruction": instruction} if instruction else None


SHAREGPT_SPEAKERS = {"system": "system", "user": "human", "assistant": "gpt"}


@export_format("sharegpt", "conversations for Axolotl and LLaMA-Factory", "answer")
def sharegpt_row(sample: dict[str, Any], options: RowOptions) -> Row | None:
    """`{"conversations": [{"from": "system"|"human"|"gpt", "value"}, ...]}`, ending on the model's turn.

    A last user turn with no answer is dropped: nothing in it is trained on, and LLaMA-Factory
    rejects a conversation that does not end with "gpt"."""
    turns = _answered(sample)
    if not turns:
        return None
    while turns[-1]["role"] != "assistant":
        turns.pop()
    return {"conversations": [{"from": SHAREGPT_SPEAKERS[m["role"]], "value": m["content"]} for m in turns]}


@export_format("text", "rendered through the model's chat template", "answer")
def text_row(sample: dict[str, Any], options: RowOptions) -> Row | None:
    """`{"text": ...}`: the conversation as the chat template renders it, for trainers that take plain text."""
    turns = _answered(sample)
    if not turns:
        return None
    if options.chat_template is None:
        raise BadInput("--format text: needs a chat template")
    return {"text": options.chat_template.render(turns, add_generation_prompt=False)}


def export_format_named(name: str) -> ExportFormat:
    """The registered format `name`; BadInput naming the known ones otherwise."""
    try:
        return FORMATS[name]
    except KeyError:
        raise BadInput(f"--format {name}: unknown format; use one of {', '.join(FORMATS)}") from None


def text_chat_template(path: str | Path | None) -> ChatTemplate:
    """The template `--format text` renders with: the one in `path` (a .jinja file, a tokenizer_config.json
    or a GGUF), or the embedded model's own."""
    return load_chat_template(Path(path) if path is not None else default_model_path())


@dataclass
class ExportResult:
    path: Path
    written: int = 0
    skipped: int = 0  # nothing to train on in the format
    truncated: int = 0  # cut off by a token cap, left out
    below_rating: int = 0  # rated below the minimum asked for, or not rated, left out
    min_rating: float | None = None

    def left_out(self, fmt: str, keeps_truncated: str) -> str:
        """What was not written and why, e.g. ", 2 truncated left out (--include-truncated keeps them)";
        `keeps_truncated` names the switch that keeps them in the front end's own words."""
        notes = []
        if self.below_rating:
            notes.append(f"{self.below_rating} rated below {self.min_rating:g} or not rated left out")
        if self.truncated:
            notes.append(f"{self.truncated} truncated left out ({keeps_truncated} keeps them)")
        if self.skipped:
            notes.append(f"{self.skipped} skipped (no {FORMATS[fmt].needs})")
        return "".join(f", {note}" for note in notes)


def is_truncated(sample: dict[str, Any]) -> bool:
    """The model hit a token cap in this sample and no person has edited it since."""
    return "truncated" in (sample.get("flags") or []) and not sample.get("edited")


def export_row(sample: dict[str, Any], fmt: str, options: RowOptions = RowOptions()) -> Row | None:
    """One output row for a sample, or None when the sample has nothing to train on in that format."""
    return export_format_named(fmt).row(sample, options)


def training_rows(samples: Iterable[dict[str, Any]], fmt: str, result: ExportResult, include_truncated: bool = False,
                  options: RowOptions = RowOptions(), kept: Callable[[dict[str, Any]], None] | None = None) -> Iterator[Row]:
    """The rows of `samples` in format `fmt`, one at a time; `result` counts what was left out and why, and
    `kept` is told each sample that made a row. With `result.min_rating`, samples a judge rated lower
    (`smolgen judge`) or has not rated are left out."""
    make_row = export_format_named(fmt).row
    if result.min_rating is not None:
        check_min_rating(result.min_rating)
    for sample in samples:
        if sample.get("technique") == PREFERENCE:  # pairs, not conversations: `export_pairs` writes them
            continue
        if not include_truncated and is_truncated(sample):
            result.truncated += 1
            continue
        if result.min_rating is not None and (sample_rating(sample) or 0) < result.min_rating:
            result.below_rating += 1
            continue
        row = make_row(sample, options)
        if row is None:
            result.skipped += 1
            continue
        if kept is not None:
            kept(sample)
        yield row


def json_line(row: Row) -> str:
    """A row as one line of JSON Lines, non-ASCII text kept as written."""
    return json.dumps(row, ensure_ascii=False) + "\n"


def export_samples(
    samples: Iterable[dict[str, Any]], fmt: str, out: str | Path, overwrite: bool = False, include_truncated: bool = False,
    chat_template: ChatTemplate | None = None, min_rating: float | None = None,
) -> ExportResult:
    """Write the samples to `out` atomically; refuse to replace an existing file unless asked. With no row
    to write, `out` is left as it was (an empty file would only block the next export).

    Truncated samples (`is_truncated`) are left out and counted unless `include_truncated`; with
    `min_rating`, so are samples a judge rated lower or has not rated. `text`
    renders with `chat_template`, or the embedded model's when None. Preference samples are pairs, not
    conversations: `export_pairs` writes them.
    """
    export_format_named(fmt)
    if min_rating is not None:
        check_min_rating(min_rating)
    result = ExportResult(_checked_out(out, overwrite), min_rating=min_rating)
    if fmt == "text" and chat_template is None:
        chat_template = text_chat_template(None)
    result.written = _write_rows(result.path, training_rows(samples, fmt, result, include_truncated, RowOptions(chat_template)))
    return result


@dataclass
class PairExportResult:
    """What `export_pairs` wrote, and the preference samples it left out, by why."""

    path: Path
    written: int = 0
    undecided: int = 0  # no pair: a tie, or too few ratings
    below_margin: int = 0
    judge_decided: int = 0  # left out by `human_only`
    truncated: int = 0  # the chosen or the rejected response was cut off by a token cap

    def left_out(self, min_margin: str = "--min-margin", human_only: str = "--human-only",
                 keeps_truncated: str = "--include-truncated") -> str:
        """What was not written and why, e.g. ", 2 without a pair (tie or unrated) left out"; the arguments name
        the choices that left pairs out (the command's flags by default)."""
        notes = [(self.undecided, "without a pair (tie or unrated)"), (self.below_margin, f"below {min_margin}"),
                 (self.judge_decided, f"decided by the judge ({human_only})"),
                 (self.truncated, f"with a truncated response ({keeps_truncated} keeps them)")]
        return "".join(f", {count} {why} left out" for count, why in notes if count)

    def reasons(self) -> dict[str, int]:
        """How many preference samples were left out for each reason, in words (a dataset card's curation)."""
        return {"without a pair (tie or unrated)": self.undecided, "below the least margin": self.below_margin,
                "decided by the judge, not a person": self.judge_decided, "with a truncated response": self.truncated}


def check_min_margin(min_margin: float | None) -> None:
    """BadInput for a negative least margin between a pair's ratings."""
    if min_margin is not None and min_margin < 0:
        raise BadInput(f"--min-margin {min_margin:g}: must be 0 or more (ratings run from 1 to 5)")


def pair_rows(samples: Iterable[dict[str, Any]], result: PairExportResult, min_margin: float | None = None, human_only: bool = False,
              include_truncated: bool = False, kept: Callable[[dict[str, Any]], None] | None = None) -> Iterator[Row]:
    """The preference pairs among `samples` as TRL rows, one at a time; `result` counts the preference samples left
    out and why, and `kept` is told each sample that made a row. The choices are `export_pairs`'."""
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
        elif not include_truncated and pair_truncated(sample):
            result.truncated += 1
        else:
            if kept is not None:
                kept(sample)
            yield dpo_row(sample)


def export_pairs(
    samples: Iterable[dict[str, Any]], out: str | Path, overwrite: bool = False, min_margin: float | None = None,
    human_only: bool = False, include_truncated: bool = False,
) -> PairExportResult:
    """Write the preference pairs among `samples` to `out` in TRL's conversational preference format, atomically,
    as `export_samples` does. `min_margin` keeps the judge's pairs whose ratings differ by at least that much (a
    person's pick has no margin and is kept); `human_only` keeps only the pairs a person picked. A pair whose
    chosen or rejected response hit a token cap is left out unless `include_truncated`, as in `export_samples`."""
    check_min_margin(min_margin)
    result = PairExportResult(_checked_out(out, overwrite))
    result.written = _write_rows(result.path, pair_rows(samples, result, min_margin, human_only, include_truncated))
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
    try:
        with open(tmp, "w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json_line(row))
                written += 1
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if written:
        os.replace(tmp, out)
    else:
        tmp.unlink()
    return written
