"""Seed files: one seed per line (.txt), JSON Lines (.jsonl) or CSV with a header (.csv).

A seed is a row of columns. A plain line becomes ``{"text": line}``; a JSON string likewise; a JSON
object or a CSV row keeps its columns. Bad lines are skipped with a reason and the good ones import.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tui.engine.errors import BadInput

SEED_SUFFIXES = (".txt", ".jsonl", ".csv")


@dataclass
class SeedFile:
    """The rows read from a seed file and the problems found on the lines that were skipped."""

    path: Path
    rows: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def read_seed_file(path: str | Path) -> SeedFile:
    """Read seeds; raise BadInput when the file gives no seed at all, naming the file and why."""
    path = Path(path)
    if not path.exists():
        raise BadInput(f"{path}: seed file not found")
    if path.is_dir():
        raise BadInput(f"{path}: is a folder, not a seed file")
    suffix = path.suffix.lower()
    if suffix not in SEED_SUFFIXES:
        raise BadInput(f"{path}: unknown seed file type {suffix or '(none)'}; use {', '.join(SEED_SUFFIXES)}")
    result = SeedFile(path)
    lines = _decoded_lines(path, result)
    if suffix == ".txt":
        result.rows = [{"text": line.strip()} for _, line in lines if line.strip()]
    elif suffix == ".jsonl":
        _read_jsonl(lines, result)
    else:
        _read_csv(lines, result)
    if not result.rows:
        why = "; ".join(result.problems[:3]) if result.problems else "it has no seeds"
        raise BadInput(f"{path}: no seeds imported ({why})")
    return result


def _decoded_lines(path: Path, result: SeedFile) -> list[tuple[int, str]]:
    """Lines as (number, text); a line that is not UTF-8 is reported and skipped."""
    lines = []
    raw = path.read_bytes()
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    for number, chunk in enumerate(raw.splitlines(), start=1):
        try:
            lines.append((number, chunk.decode("utf-8")))
        except UnicodeDecodeError:
            result.problems.append(f"{path}:{number}: not UTF-8 text, skipped")
    return lines


def _read_jsonl(lines: list[tuple[int, str]], result: SeedFile) -> None:
    for number, line in lines:
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as error:
            result.problems.append(f"{result.path}:{number}: not valid JSON ({error.msg}), skipped")
            continue
        if isinstance(value, str) and value.strip():
            result.rows.append({"text": value.strip()})
        elif isinstance(value, dict) and value:
            result.rows.append(value)
        else:
            result.problems.append(f"{result.path}:{number}: expected an object or a string, skipped")


def _read_csv(lines: list[tuple[int, str]], result: SeedFile) -> None:
    numbers = [number for number, _ in lines]
    reader = csv.DictReader(io.StringIO("\n".join(text for _, text in lines)))
    if not reader.fieldnames or any(not name.strip() for name in reader.fieldnames):
        result.problems.append(f"{result.path}:1: the header row must name every column")
        return
    for index, row in enumerate(reader):
        number = numbers[min(reader.line_num - 1, len(numbers) - 1)] if numbers else index + 2
        if None in row or any(value is None for value in row.values()):
            result.problems.append(f"{result.path}:{number}: has a different number of fields than the header, skipped")
            continue
        cleaned = {key.strip(): value.strip() for key, value in row.items()}
        if any(cleaned.values()):
            result.rows.append(cleaned)


def seed_text(row: dict[str, Any]) -> str:
    """The main text of a seed row: its `text`, `instruction` or `input` column, else its first text."""
    for key in ("text", "instruction", "input", "prompt"):
        value = row.get(key)
        if isinstance(value, str) and value.strip():
            return value
    for value in row.values():
        if isinstance(value, str) and value.strip():
            return value
    raise BadInput(f"seed {json.dumps(row, ensure_ascii=False)[:60]}: has no text column")
