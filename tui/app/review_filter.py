"""What the review table shows: one row per sample, its flags, and the filters a person sets."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

ANY = "any"
NO_FLAG = "none"
# Keys EvolInstruct may record its parent instruction under, most specific first.
_PARENT_KEYS = ("parent_instruction", "parent", "evolved_from", "original_instruction")


@dataclass(frozen=True)
class ReviewRow:
    """A sample as one line of the review table."""

    id: int
    technique: str
    status: str
    instruction: str
    tokens: int | None
    flags: tuple[str, ...]
    searchable: str


def first_line(text: str | None, width: int = 200) -> str:
    line = next((part.strip() for part in (text or "").splitlines() if part.strip()), "")
    return line if len(line) <= width else line[: width - 1] + "…"


def _normalised(text: str | None) -> str:
    return " ".join((text or "").lower().split())


def review_rows(samples: list[dict[str, Any]]) -> list[ReviewRow]:
    """Rows for the samples; an instruction seen more than once is flagged `duplicate`."""
    seen = Counter(_normalised(s.get("instruction")) for s in samples if s.get("instruction"))
    rows = []
    for sample in samples:
        flags = list(sample.get("flags") or [])
        if sample.get("instruction") and seen[_normalised(sample.get("instruction"))] > 1:
            flags.append("duplicate")
        if sample.get("edited"):
            flags.append("edited")
        failure = sample.get("failure")
        if failure:
            flags.append(failure.get("reason", "failed"))
        instruction = sample.get("instruction") or (failure or {}).get("message", "")
        conversation = " ".join(m.get("content", "") for m in sample.get("conversation") or [])
        rows.append(
            ReviewRow(
                id=sample["id"],
                technique=sample.get("technique", "?"),
                status=sample.get("status", "new"),
                instruction=first_line(instruction),
                tokens=(sample.get("tokens") or {}).get("completion"),
                flags=tuple(dict.fromkeys(flags)),
                searchable=f"{instruction}\n{conversation}".lower(),
            )
        )
    return rows


def filter_rows(rows: list[ReviewRow], status: str = ANY, technique: str = ANY, flag: str = ANY, query: str = "") -> list[ReviewRow]:
    """The rows matching every filter; `query` is a case-insensitive search of the whole conversation."""
    query = query.strip().lower()
    return [
        row
        for row in rows
        if (status == ANY or row.status == status)
        and (technique == ANY or row.technique == technique)
        and (flag == ANY or (flag == NO_FLAG and not row.flags) or flag in row.flags)
        and (not query or query in row.searchable)
    ]


def parent_of(sample: dict[str, Any]) -> str | None:
    """The instruction an evolved sample was evolved from, if the sample records one."""
    for key in _PARENT_KEYS:
        value = sample.get(key)
        if isinstance(value, str) and value.strip():
            return value
        if isinstance(value, dict) and isinstance(value.get("instruction"), str):
            return value["instruction"]
    return None
