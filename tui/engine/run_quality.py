"""The quality of a run so far, as the CLI's and the app's live line show it: samples kept, failed by
reason, and the share of kept samples that are near-duplicates of earlier ones; and whether the run
has saturated (`--stop-when-saturated`): most of its last samples were near-duplicates of earlier ones.
"""

from __future__ import annotations

from collections import Counter, deque
from typing import Any

from tui.engine.errors import SmolgenError
from tui.engine.near_duplicates import NearDuplicateIndex

# ROUGE-L above which a sample's instruction repeats an earlier one: SelfInstruct's own threshold.
NEAR_DUPLICATE_ROUGE = 0.7
# `--stop-when-saturated` with no number looks at this many of the latest samples.
DEFAULT_SATURATION_WINDOW = 20
# A SelfInstruct candidate dropped as a near-duplicate repeats an earlier sample too.
_NEAR_DUPLICATE_REASON = "near_duplicate"


class RunSaturated(SmolgenError):
    """Most of the run's latest samples were near-duplicates of earlier ones: the run ends, as asked."""


class RunQuality:
    """Counts a run's samples as they are stored; `saturation_window` K > 0 makes `saturated` true once
    more than half of the latest K samples with an instruction repeated an earlier one."""

    def __init__(self, saturation_window: int = 0):
        self.kept = 0
        self.near_duplicates = 0  # kept samples whose instruction nearly repeats an earlier kept one
        self.off_topic = 0  # kept samples flagged off_topic (Magpie with a custom system prompt, EvolInstruct)
        self.failures: Counter = Counter()
        self.saturation_window = saturation_window
        self._latest: deque[bool] = deque(maxlen=saturation_window or 1)
        self._index = NearDuplicateIndex(NEAR_DUPLICATE_ROUGE)

    def add(self, sample: dict[str, Any]) -> None:
        """Count one stored sample (failed or kept)."""
        text = sample.get("instruction") or sample.get("response") or ""
        if sample.get("status") == "failed":
            reason = (sample.get("failure") or {}).get("reason", "error")
            self.failures[reason] += 1
            if reason == _NEAR_DUPLICATE_REASON:
                self._latest.append(True)
            return
        self.kept += 1
        self.off_topic += "off_topic" in sample.get("flags", ())
        if not text.strip():
            return
        repeats = self._index.closest(text) is not None
        self.near_duplicates += repeats
        self._latest.append(repeats)
        if not repeats:
            self._index.add(text)

    @property
    def failed(self) -> int:
        return sum(self.failures.values())

    @property
    def near_duplicate_share(self) -> float:
        return self.near_duplicates / self.kept if self.kept else 0.0

    @property
    def saturated(self) -> bool:
        """More than half of the latest `saturation_window` samples repeated earlier ones."""
        window = self.saturation_window
        return window > 0 and len(self._latest) == window and sum(self._latest) * 2 > window

    def saturation_message(self) -> str:
        return (f"stopped when saturated: {sum(self._latest)} of the last {self.saturation_window} samples "
                f"were near-duplicates of earlier ones")

    def line(self) -> str:
        """"kept 12 · off-topic 2 · near-duplicates 8% · failed 3 (repetition 2, not_a_request 1)": the shortest
        figures first, so a narrow line cuts the list of reasons only; off-topic only once a sample was flagged."""
        failed = f"failed {self.failed}"
        if self.failures:
            failed += " (" + ", ".join(f"{reason} {n}" for reason, n in self.failures.most_common()) + ")"
        off_topic = f" · off-topic {self.off_topic}" if self.off_topic else ""
        return f"kept {self.kept}{off_topic} · near-duplicates {self.near_duplicate_share:.0%} · {failed}"
