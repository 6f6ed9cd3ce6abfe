"""What the review table shows: one row per sample, its flags, and the filters a person sets.

Built for 100,000 samples: a row is made without copying the sample's text, and the text a search
looks through is put together only when a search first needs it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from tui.engine.store import paused_gc

ANY = "any"
NO_FLAG = "none"


@dataclass
class ReviewRow:
    """A sample as one line of the review table; the screen changes `status` in place when a person curates."""

    id: int
    technique: str
    status: str
    instruction: str
    tokens: int | None
    flags: tuple[str, ...]
    sample: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @cached_property
    def searchable(self) -> str:
        """The instruction and the whole conversation, lower-cased, for the search box."""
        sample = self.sample
        instruction = sample.get("instruction") or (sample.get("failure") or {}).get("message", "")
        conversation = " ".join(m.get("content", "") for m in sample.get("conversation") or [])
        return f"{instruction}\n{conversation}".lower()


def first_line(text: str | None, width: int = 200) -> str:
    text = text or ""
    if text.isprintable():  # no line breaks: the common case, kept off the slow path below
        line = text.strip()
    else:
        line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    return line if len(line) <= width else line[: width - 1] + "…"


def _normalised(text: str | None) -> str:
    return " ".join((text or "").lower().split())


def review_rows(samples: list[dict[str, Any]], seen: Counter | None = None) -> list[ReviewRow]:
    """Rows for the samples; an instruction seen more than once is flagged `duplicate`.

    `seen` counts the instructions of rows made earlier (it is updated), so rows can be added one at a time.
    """
    seen = Counter() if seen is None else seen
    with paused_gc():
        keys = [_normalised(s.get("instruction")) for s in samples]
        seen.update(keys)
        rows = []
        for sample, key in zip(samples, keys):
            flags = list(sample.get("flags") or ())
            if key and seen[key] > 1:
                flags.append("duplicate")
            if sample.get("edited"):
                flags.append("edited")
            failure = sample.get("failure")
            if failure:
                flags.append(failure.get("reason", "failed"))
            instruction = sample.get("instruction") or (failure or {}).get("message", "")
            rows.append(
                ReviewRow(
                    sample["id"],
                    sample.get("technique", "?"),
                    sample.get("status", "new"),
                    first_line(instruction),
                    (sample.get("tokens") or {}).get("completion"),
                    tuple(dict.fromkeys(flags)) if flags else (),
                    sample,
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
    """The instruction an EvolInstruct sample was evolved from (its `parent_instruction`), if any."""
    value = sample.get("parent_instruction")
    return value if isinstance(value, str) and value.strip() else None


def parent_id_of(sample: dict[str, Any]) -> int | None:
    """The stored sample an evolved one came from (its `parent_id`); None when the parent was not stored."""
    value = sample.get("parent_id")
    return value if isinstance(value, int) and not isinstance(value, bool) else None
