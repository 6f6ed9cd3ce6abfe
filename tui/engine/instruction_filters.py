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
from tui.engine.settings_schema import setting
from tui.engine.text_tokens import word_tokens

# The paper's list: things a text-only model cannot look at, produce or visit.
UNSERVABLE_KEYWORDS = ("image", "images", "graph", "graphs", "picture", "pictures", "file", "files",
                       "map", "maps", "draw", "plot", "go to")
# Spanish opens questions and exclamations with punctuation; that is well formed, not an artefact.
_OPENING_PUNCTUATION_ALLOWED = "¿¡"
# `smolgen generate --no-filter NAME` switches one filter off.
_SWITCH_OFF = "--no-filter"


@dataclass(frozen=True)
class Rejection:
    """Why a candidate was dropped: a reason name for counting and a message for a person."""

    reason: str
    message: str


@dataclass
class InstructionFilters:
    """Which of the paper's filters run, and their limits."""

    min_words: int = setting(3, label="Fewest words", at_least=0, help="an instruction with fewer words is too short")
    max_words: int = setting(150, label="Most words", at_least=0, help="an instruction with more words is too long")
    keywords: tuple[str, ...] = setting(UNSERVABLE_KEYWORDS, label="Unservable keywords",
                                        help="words naming what a text model cannot serve")
    check_length: bool = setting(True, label="Length filter", switched_off_by=(_SWITCH_OFF, "length"),
                                 help="drop instructions too short or too long")
    check_keywords: bool = setting(True, label="Keyword filter", switched_off_by=(_SWITCH_OFF, "keywords"),
                                   help="drop instructions that name an unservable keyword")
    check_punctuation: bool = setting(True, label="Punctuation filter", switched_off_by=(_SWITCH_OFF, "punctuation"),
                                      help="drop instructions that start with punctuation")
    check_near_duplicates: bool = setting(True, label="Near-duplicate filter", switched_off_by=(_SWITCH_OFF, "near-duplicates"),
                                          help="drop instructions too close to a stored one or to their own prompt")
    # Ours, not the paper's: see `borrowed_example_word`.
    check_example_topic: bool = setting(True, label="Example topic filter", switched_off_by=(_SWITCH_OFF, "example-topic"),
                                        help="drop instructions about the prompt's worked example instead of their seed")
    rouge_threshold: float = setting(0.7, label="Near-duplicate ROUGE-L", flag="--rouge-threshold", metavar="X", above=0, at_most=1,
                                     help="ROUGE-L above X is a near-duplicate")
    _keyword_pattern: re.Pattern | None = field(default=None, init=False, repr=False, compare=False)

    def check_together(self) -> None:
        """The word limits must make a range."""
        if self.max_words < self.min_words:
            raise BadInput(f"word limits {self.min_words}..{self.max_words}: the fewest words must not be above the most")

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
