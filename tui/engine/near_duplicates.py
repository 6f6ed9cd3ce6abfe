"""Near-duplicate instructions by ROUGE-L F-measure, fast enough to check against a whole store.

ROUGE-L's F-measure of two word sequences of lengths m and n is 2·LCS/(m+n), LCS being the length of
their longest common subsequence. Comparing a new instruction with every stored one in full would
cost one LCS per stored instruction, so the index prunes in three steps, each exact (no near-duplicate
is ever missed):

1. Length: LCS <= min(m, n), so only lengths n with 2·min(m, n)/(m+n) > threshold can match.
2. Prefix filter: a match shares more than threshold·(m+n)/2 words with the query, so it must contain
   one of the query's rarest m−k+1 words (k the least overlap any allowed length needs). Only the
   posting lists of those rare words are read; common words ("the", "what") are never scanned.
3. Overlap bound: LCS <= the words two sequences share as multisets, which is at most the distinct
   words they share plus the repeated words of either (a C-level set intersection), and
   2·shared/(m+n) bounds F.

Only candidates that pass all three get an LCS, computed by rapidfuzz's bit-parallel LCSseq in C++.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Iterable

from rapidfuzz.distance import LCSseq

from tui.engine.text_tokens import word_tokens


@dataclass(frozen=True)
class NearDuplicate:
    """The closest stored instruction above the threshold, and its ROUGE-L F-measure."""

    key: Any
    text: str
    score: float


def rouge_l(a: str, b: str) -> float:
    """ROUGE-L F-measure (beta 1) of two texts over their lowercased words."""
    x, y = word_tokens(a), word_tokens(b)
    if not x or not y:
        return 0.0
    return 2 * LCSseq.similarity(x, y) / (len(x) + len(y))


class NearDuplicateIndex:
    """Instructions seen so far, searchable for any whose ROUGE-L F-measure with a new one is above a threshold."""

    def __init__(self, threshold: float = 0.7):
        if not 0 < threshold <= 1:
            raise ValueError(f"threshold {threshold}: must be above 0 and at most 1")
        self.threshold = threshold
        self._word_ids: dict[str, int] = {}
        self._sequences: list[list[int]] = []
        self._word_sets: list[frozenset[int]] = []
        self._texts: list[str] = []
        self._keys: list[Any] = []
        self._postings: defaultdict[int, list[int]] = defaultdict(list)  # word id -> entries containing it

    def __len__(self) -> int:
        return len(self._texts)

    def add(self, text: str, key: Any = None) -> None:
        """Index an instruction; `key` (e.g. a sample id) is what a later match reports."""
        sequence = [self._word_ids.setdefault(word, len(self._word_ids)) for word in word_tokens(text)]
        entry = len(self._texts)
        words = frozenset(sequence)
        self._sequences.append(sequence)
        self._word_sets.append(words)
        self._keys.append(key)
        self._texts.append(text)
        # Postings last: a `closest()` in another thread (a --parallel run) finds only complete entries.
        for word in words:
            self._postings[word].append(entry)

    def add_all(self, items: Iterable[tuple[str, Any]]) -> None:
        """Index many (text, key) pairs."""
        for text, key in items:
            self.add(text, key)

    def closest(self, text: str) -> NearDuplicate | None:
        """The indexed instruction most similar to `text` if its F-measure is above the threshold, else None."""
        # Words never indexed get ids no entry has, so they count in the length but match nothing.
        query = [self._word_ids.get(word, -1 - i) for i, word in enumerate(word_tokens(text))]
        m = len(query)
        if m == 0 or not self._texts:
            return None
        t = self.threshold
        shortest, longest = _length_range(m, t)
        needed = int(t * (m + shortest) / 2) + 1  # the least shared words any allowed length needs
        rare_first = sorted(query, key=lambda word: len(self._postings.get(word, ())))
        candidates: set[int] = set()
        for word in set(rare_first[: m - needed + 1]):
            candidates.update(self._postings.get(word, ()))
        query_words = frozenset(query)
        query_repeats = m - len(query_words)
        best: NearDuplicate | None = None
        for entry in candidates:
            n = len(self._sequences[entry])
            if not shortest <= n <= longest:
                continue
            words = self._word_sets[entry]
            shared = len(query_words & words) + min(query_repeats, n - len(words))
            # F > t (and beating the best so far) needs LCS > t·(m+n)/2, and LCS <= shared.
            lcs_needed = max(t, best.score if best else 0.0) * (m + n) / 2
            if shared <= lcs_needed:
                continue
            lcs = LCSseq.similarity(query, self._sequences[entry], score_cutoff=int(lcs_needed) + 1)
            if lcs > lcs_needed:
                score = 2 * lcs / (m + n)
                if best is None or score > best.score:
                    best = NearDuplicate(self._keys[entry], self._texts[entry], round(score, 4))
        return best


def _length_range(m: int, t: float) -> tuple[int, int]:
    """Lengths n for which 2·min(m, n)/(m+n) can exceed t."""
    shortest = int(t * m / (2 - t)) + 1
    longest = int(m * (2 - t) / t)
    if m * (2 - t) / t == longest:
        longest -= 1  # equality gives F == t, which is not above it
    return max(shortest, 1), max(longest, m)
