"""Every review change since the app opened (accept, reject, edit, a bulk decision, keeping one of a
cluster), so that `u` takes them back one after another, last first, wherever the cursor is."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from tui.engine.store import SampleStore


@dataclass(frozen=True)
class ReviewChange:
    """One change as it was made: what to call it, and what the samples it touched were before it."""

    description: str  # "accept of sample #4", "reject of 6 samples", "edit of sample #3"
    statuses: dict[int, str]  # status before the change, by sample id (empty for an edit)
    edited: dict[str, Any] | None = None  # the whole sample before an edit

    @property
    def sample_ids(self) -> list[int]:
        return [self.edited["id"]] if self.edited is not None else list(self.statuses)

    def undone(self) -> str:
        """What undoing it did, in a sentence."""
        if self.edited is not None:
            return f"Undid the {self.description}: its text is as it was."
        befores = set(self.statuses.values())
        back = f"back to {befores.pop()}" if len(befores) == 1 else "back to what each was"
        count = len(self.statuses)
        return f"Undid the {self.description}: {'it is' if count == 1 else f'the {count} samples are'} {back}."


class ReviewHistory:
    """The changes made since the app opened, last on top."""

    def __init__(self) -> None:
        self._changes: list[ReviewChange] = []

    def __len__(self) -> int:
        return len(self._changes)

    def statuses_set(self, description: str, before: dict[int, str]) -> None:
        """Remember a change of statuses; `before` holds each changed sample's status before it."""
        if before:
            self._changes.append(ReviewChange(description, dict(before)))

    def edited(self, sample_before: dict[str, Any]) -> None:
        """Remember an edit; `sample_before` is the sample as it was (a copy)."""
        self._changes.append(ReviewChange(f"edit of sample #{sample_before['id']}", {}, sample_before))

    def undo(self, store: SampleStore) -> ReviewChange | None:
        """Put the samples of the last change back as they were; None when nothing is left to undo. A write
        that fails (a full disk) raises and keeps the change to undo later."""
        if not self._changes:
            return None
        change = self._changes[-1]
        if change.edited is not None:
            store.restore_sample(change.edited)
        else:
            by_status: dict[str, list[int]] = defaultdict(list)
            for sample_id, status in change.statuses.items():
                by_status[status].append(sample_id)
            for status, ids in by_status.items():
                store.set_status(ids, status)
        self._changes.pop()
        return change
