"""A dataset folder that `datasets.load_dataset(DIR)` loads and `huggingface-cli upload` publishes as it is.

    DIR/README.md          the dataset card (tui/engine/dataset_card.py), its `configs` naming the files
    DIR/data/train.jsonl   the rows, split by a seeded shuffle
    DIR/data/test.jsonl

JSON Lines rather than Parquet: `datasets` and the Hub read it as they read Parquet, a person reads it
in any editor, and writing Parquet would take pyarrow (a large native library) for no gain at this size.

The rows stream to a scratch file and only their offsets are kept (8 bytes a row), so memory does not
hold the rows whatever the size of the store; the shuffle then reads them back in its order.
"""

from __future__ import annotations

import math
import os
import random
import shutil
from array import array
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from tui.engine.dataset_card import CardFacts, Provenance, dataset_card, upload_command
from tui.engine.errors import BadInput
from tui.engine.export import (PAIR_FORMAT, ExportResult, PairExportResult, RowOptions, check_min_margin, export_format_named, json_line,
                               pair_rows, training_rows)
from tui.engine.judge import check_min_rating

DATA_FOLDER = "data"
CARD = "README.md"
SPLITS = ("train", "test")


@dataclass
class HubFolderResult:
    """What was written: rows per split, and what was left out (`export`)."""

    folder: Path
    export: ExportResult | PairExportResult
    splits: dict[str, int] = field(default_factory=dict)


def check_test_size(test_size: float) -> None:
    """BadInput unless 0 < test_size < 1."""
    if not 0 < test_size < 1:
        raise BadInput(f"--test-size {test_size:g}: must be between 0 and 1, both left out (0.1 keeps a tenth for testing)")


def check_folder(out: Path, force: bool) -> None:
    """BadInput for a folder that cannot be written into: a file, a missing parent, or one not empty without force."""
    if out.exists() and not out.is_dir():
        raise BadInput(f"{out}: is a file; --format hf writes a folder")
    if not out.exists() and not out.parent.is_dir():
        raise BadInput(f"{out}: folder {out.parent} does not exist")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise BadInput(f"{out}: exists and is not empty; pass --force to write the dataset into it")


def split_sizes(rows: int, test_size: float) -> tuple[int, int]:
    """(train, test) rows: the test share rounded up, as `datasets`' train_test_split does, always leaving a train row."""
    test = min(math.ceil(rows * test_size), rows - 1) if rows > 1 else 0
    return rows - test, test


def export_hub_folder(
    samples: Iterable[dict[str, Any]], out: str | Path, *, runs: dict[int, dict[str, Any]], store_statuses: Counter,
    statuses: Iterable[str], test_size: float = 0.1, license: str = "apache-2.0", seed: int = 0, force: bool = False,
    include_truncated: bool = False, row_format: str = "messages", options: RowOptions = RowOptions(),
    min_rating: float | None = None, min_margin: float | None = None, human_only: bool = False,
) -> HubFolderResult:
    """Write the samples' rows into `out` split into train and test, with the dataset card; nothing is uploaded.
    `row_format` "dpo" writes the preference pairs instead, chosen by `min_margin` and `human_only` as
    `export_pairs` chooses them.

    With no row to write nothing is written (a folder made for it is removed again). With `force` an
    existing folder is written into: the card and the split files are replaced, other files stay.
    """
    out = Path(out)
    check_test_size(test_size)
    pairs = row_format == PAIR_FORMAT
    if min_rating is not None:
        check_min_rating(min_rating)
    if pairs:
        check_min_margin(min_margin)
    else:
        export_format_named(row_format)
    check_folder(out, force)
    made_folder = not out.exists()
    (out / DATA_FOLDER).mkdir(parents=True, exist_ok=True)
    provenance = Provenance(seed)
    if pairs:
        result = HubFolderResult(out, PairExportResult(out))
        rows = pair_rows(samples, result.export, min_margin, human_only, include_truncated, kept=provenance.note)
    else:
        result = HubFolderResult(out, ExportResult(out, min_rating=min_rating))  # `min_rating`: only samples a judge rated that high
        rows = training_rows(samples, row_format, result.export, include_truncated, options, kept=provenance.note)
    scratch = out / DATA_FOLDER / ".rows.tmp"
    offsets = array("q")
    try:
        with open(scratch, "wb") as handle:
            for row in rows:
                offsets.append(handle.tell())
                handle.write(json_line(row).encode("utf-8"))
        result.export.written = len(offsets)
        if offsets:
            result.splits = _write_splits(scratch, offsets, out / DATA_FOLDER, test_size, seed)
    except BaseException:
        if made_folder:  # a store found unreadable part way through leaves no half-made folder behind
            shutil.rmtree(out, ignore_errors=True)
        raise
    finally:
        scratch.unlink(missing_ok=True)
    if not offsets:
        if made_folder:
            (out / DATA_FOLDER).rmdir()
            out.rmdir()
        return result
    facts = CardFacts(
        name=out.resolve().name, license=license,
        splits={split: (f"{DATA_FOLDER}/{split}.jsonl", count) for split, count in result.splits.items()},
        row_format=row_format, test_size=test_size, provenance=provenance, runs=runs, store_statuses=store_statuses,
        exported_statuses=list(statuses),
        left_out=result.export.reasons() if pairs else {
            "cut off by a token cap": result.export.truncated, f"with no {export_format_named(row_format).needs}": result.export.skipped},
        upload_command=upload_command(out),
    )
    _write_atomically(out / CARD, dataset_card(facts))
    return result


def _write_splits(scratch: Path, offsets: array, data: Path, test_size: float, seed: int) -> dict[str, int]:
    """Shuffle the rows' order with `seed`, then write the first share to test and the rest to train."""
    order = array("q", range(len(offsets)))
    random.Random(seed).shuffle(order)
    _, test = split_sizes(len(offsets), test_size)
    chosen = {"train": order[test:], "test": order[:test]}
    written = {}
    with open(scratch, "rb") as rows:
        for split in SPLITS:
            path = data / f"{split}.jsonl"
            if not chosen[split]:
                path.unlink(missing_ok=True)  # a test file from an earlier export would be uploaded with this one
                continue
            tmp = data / f".{split}.jsonl.tmp"
            with open(tmp, "wb") as handle:
                for index in chosen[split]:
                    rows.seek(offsets[index])
                    handle.write(rows.readline())
            os.replace(tmp, path)
            written[split] = len(chosen[split])
    return written


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
