"""The Self-Instruct paper's filters for generated instructions, each switchable, each a named reason.

An instruction is dropped when it has fewer than 3 or more than 150 words, names something a text
model cannot serve (an image, a graph, a file, a map, "go to"...), or starts with punctuation. The
fourth filter, near-duplicates by ROUGE-L, lives in `near_duplicates.py` because it needs an index.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from tui.engine.errors import BadInput
from tui.engine.text_tokens import word_tokens

# The paper's list: things a text-only model cannot look at, produce or visit.
UNSERVABLE_KEYWORDS = ("image", "images", "graph", "graphs", "picture", "pictures", "file", "files",
                       "map", "maps", "draw", "plot", "go to")
# Spanish opens questions and exclamations with punctuation; that is well formed, not an artefact.
_OPENING_PUNCTUATION_ALLOWED = "¿¡"
FILTER_NAMES = ("length", "keywords", "punctuation", "near-duplicates", "example-topic")


@dataclass(frozen=True)
class Rejection:
    """Why a candidate was dropped: a reason name for counting and a message for a person."""

    reason: str
    message: str


@dataclass
class InstructionFilters:
    """Which of the paper's filters run, and their limits."""

    min_words: int = 3
    max_words: int = 150
    keywords: tuple[str, ...] = UNSERVABLE_KEYWORDS
    check_length: bool = True
    check_keywords: bool = True
    check_punctuation: bool = True
    check_near_duplicates: bool = True
    check_example_topic: bool = True  # ours, not the paper's: see `borrowed_example_word`
    rouge_threshold: float = 0.7
    _keyword_pattern: re.Pattern | None = field(default=None, init=False, repr=False, compare=False)

    def validate(self) -> "InstructionFilters":
        if self.min_words < 0 or self.max_words < self.min_words:
            raise BadInput(f"word limits {self.min_words}..{self.max_words}: need 0 <= min <= max")
        if not 0 < self.rouge_threshold <= 1:
            raise BadInput(f"--rouge-threshold {self.rouge_threshold}: must be above 0 and at most 1")
        return self

    def without(self, names: list[str]) -> "InstructionFilters":
        """These settings with the named filters switched off (names from FILTER_NAMES)."""
        for name in names:
            if name not in FILTER_NAMES:
                raise BadInput(f"--no-filter {name}: unknown filter; use one of {', '.join(FILTER_NAMES)}")
        self.check_length &= "length" not in names
        self.check_keywords &= "keywords" not in names
        self.check_punctuation &= "punctuation" not in names
        self.check_near_duplicates &= "near-duplicates" not in names
        self.check_example_topic &= "example-topic" not in names
        return self

    def record(self) -> dict:
        return {
            "length": [self.min_words, self.max_words] if self.check_length else None,
            "keywords": list(self.keywords) if self.check_keywords else None,
            "punctuation": self.check_punctuation,
            "near_duplicates": self.rouge_threshold if self.check_near_duplicates else None,
            "example_topic": self.check_example_topic,
        }

    def check(self, instruction: str) -> Rejection | None:
        """The first filter the instruction fails (the near-duplicate check excepted), or None."""
        if self.check_length:
            words = len(word_tokens(instruction))
            if words < self.min_words:
                return Rejection("too_short", f"{words} words, fewer than {self.min_words}")
            if words > self.max_words:
                return Rejection("too_long", f"{words} words, more than {self.max_words}")
        if self.check_keywords and self.keywords:
            found = self._keywords().search(instruction)
            if found:
                return Rejection("unservable_keyword", f"mentions {found.group(0)!r}, which a text model cannot serve")
        if self.check_punctuation and starts_with_punctuation(instruction):
            return Rejection("starts_with_punctuation", f"starts with {instruction[0]!r}")
        return None

    def _keywords(self) -> re.Pattern:
        if self._keyword_pattern is None:
            words = sorted(self.keywords, key=len, reverse=True)
            phrases = "|".join(r"\s+".join(map(re.escape, w.split())) for w in words)
            self._keyword_pattern = re.compile(rf"(?<!\w)(?:{phrases})(?!\w)", re.IGNORECASE)
        return self._keyword_pattern


def starts_with_punctuation(text: str) -> bool:
    """True when the first character is punctuation (Unicode category P*), Spanish ¿ and ¡ excepted."""
    first = text.lstrip()[:1]
    return bool(first) and unicodedata.category(first).startswith("P") and first not in _OPENING_PUNCTUATION_ALLOWED


def borrowed_example_word(text: str, source: str, example_words: tuple[str, ...]) -> Rejection | None:
    """`text` talks about the prompt's worked example rather than its source (the seed, or the parent
    instruction): it names one of the example's topic words that the source does not.

    SmolLM2-135M turns a passage about synthetic data into questions about honey bees, the topic of
    the SelfInstruct template's example; the paper's filters cannot see that.
    """
    if not example_words:
        return None
    words = set(word_tokens(text))
    source_words = set(word_tokens(source))
    borrowed = next((word for word in example_words if word in words and word not in source_words), None)
    if borrowed is None:
        return None
    return Rejection("example_topic", f"mentions {borrowed!r} from the prompt's worked example, which its source does not")
