"""Quality gates applied as samples are made, each a recorded reason, each on by default and switchable.

- `repetition`: an answer that repeats one of its sentences or lines, or whose distinct word 3-grams
  are too few (a small model looping until its token cap).
- `not_a_request`: an instruction that is neither a question nor a request or an imperative ("Synthetic
  data can be generated from a model." is a statement: nothing to answer). English and Vietnamese are
  judged; a text in another language passes, for want of rules.
- `language_mismatch`: a text confidently in another language than its seed or system prompt (a
  Vietnamese seed answered in English). Languages are identified by py3langid, offline.
- `off_topic` (a flag, not a failure): with Magpie (a custom system prompt, in-process models), the user
  turn the model wrote is less likely after the custom system prompt than after a plain one, so the
  prompt's domain did not steer it (text_likelihood.py); with EvolInstruct, an evolution shares few
  content words with its parent, so it has most likely left its parent's subject.
"""

from __future__ import annotations

import dataclasses
import re
import threading
from dataclasses import dataclass
from typing import Any

from tui.engine.elimination import STOP_WORDS
from tui.engine.errors import BadInput
from tui.engine.instruction_filters import Rejection
from tui.engine.model import TextCheck
from tui.engine.seeds import seed_text
from tui.engine.settings_schema import setting
from tui.engine.text_likelihood import TextScorer, context_gain
from tui.engine.text_tokens import word_tokens

_SWITCH_OFF = "--no-filter"
# A sentence or line repeated word for word counts when it has at least this many words: shorter
# ones ("Step 1:", "Ví dụ:") recur in well-formed answers.
REPEATED_UNIT_WORDS = 5
# Distinct 3-grams over all 3-grams, judged from this many words on (below it a ratio says little).
# The cut lies in the gap between the embedded model's phrase loops and its well-formed answers
# (docs/quality.md, "The repetition gate's 3-gram cut").
DISTINCT_TRIGRAMS_FROM_WORDS = 40
MIN_DISTINCT_TRIGRAMS = 0.6
# A language is named only when py3langid's normalised probability reaches this: short texts
# ("Write a haiku.") get low, scattered probabilities and are never judged; below it, code and
# gibberish get named as other languages (docs/quality.md, "The language gate's confidence").
CONFIDENT_LANGUAGE = 0.9

# off_topic: a user turn whose log-probability per token gains less than this (in nats) from the custom
# system prompt over the plain one is flagged. Magpie's own turns are drawn under the custom prompt, so
# even its off-topic ones gain a little; the threshold comes from such turns read by hand, checked on
# hand-made questions in and out of three English domains (`smolgen bench topic`; docs/quality.md).
# Only languages with a plain prompt here are judged: for Vietnamese the embedded model's gains do not
# tell the two apart.
OFF_TOPIC_BELOW = 0.1
PLAIN_SYSTEM_PROMPTS = {"en": "You are a helpful AI assistant."}

# off_topic for EvolInstruct: an evolution sharing at most this share of content words with its parent (of
# the fewer of the two) is flagged. Read by hand, the embedded model's real evolutions that lost their
# parent's subject mostly share few, while most that kept it share more; its embeddings and likelihoods
# told the two apart worse (`smolgen bench drift`, docs/quality.md).
OFF_TOPIC_EVOLUTION_AT_MOST = 0.5

_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+|\n+")
_QUESTION_MARKS = ("?", "？", "¿")

# English: a question opens with one of these, an imperative with a verb of this list or a polite frame.
EN_QUESTION_WORDS = frozenset(
    "what why how when where which who whom whose is are was were am do does did can could would will "
    "should shall may might must have has had isn't aren't don't doesn't didn't can't couldn't won't "
    "wouldn't shouldn't".split()
)
EN_IMPERATIVE_VERBS = frozenset(
    """add adapt analyse analyze answer apply arrange ask assess build calculate categorize categorise change
    check choose classify clarify come compare compile complete compose compute condense construct continue
    convert correct count create debug decide define demonstrate derive describe design detail determine
    develop devise discuss draft edit elaborate enumerate estimate evaluate examine explain explore express
    extract fill find fix format formulate generate give guess help highlight identify illustrate imagine
    implement improve include infer interpret introduce investigate justify label let list locate make match
    name note offer order outline paraphrase pick plan predict prepare present pretend produce propose prove
    provide rank rate read recommend reflect rephrase replace rewrite review revise say schedule select share
    show simplify sketch solve sort specify state suggest summarise summarize suppose support teach tell think
    trace transform translate turn use verify walk write""".split()
)
# After a noun and a comma these open a relative clause ("Rain, which falls…"), not a question.
EN_RELATIVE_PRONOUNS = frozenset("which who whom whose where when".split())
EN_REQUEST_OPENINGS = ("please", "kindly", "i want", "i need", "i'd like", "i would like", "i'm looking for",
                       "i am looking for", "help me", "let's", "let us", "act as", "you are asked")
# Vietnamese: question words anywhere, final particles at the end, imperative and polite openings.
VI_QUESTION_WORDS = ("gì", "sao", "nào", "bao nhiêu", "bao giờ", "mấy", "đâu", "thế nào", "ra sao", "có phải",
                     "tại sao", "vì sao", "làm sao")
VI_QUESTION_ENDINGS = ("không", "chưa", "à", "hả", "nhỉ", "chứ", "ai")
VI_REQUEST_OPENINGS = (
    "hãy", "xin", "vui lòng", "làm ơn", "cho tôi", "cho mình", "cho em", "giúp tôi", "giúp mình", "giúp em",
    "bạn hãy", "bạn có thể", "tôi muốn", "tôi cần", "mình muốn", "mình cần", "em muốn", "ai", "viết", "giải thích",
    "mô tả", "liệt kê", "kể", "tạo", "tóm tắt", "so sánh", "phân tích", "dịch", "đề xuất", "gợi ý", "tìm", "tính",
    "trình bày", "nêu", "đưa ra", "chỉ ra", "hướng dẫn", "soạn", "lập", "xây dựng", "thiết kế", "đánh giá",
    "chứng minh", "giải", "định nghĩa", "phân loại", "sắp xếp", "chuyển", "sửa", "kiểm tra", "cung cấp", "nói",
    "chia sẻ", "đặt", "chọn", "lấy", "thử", "tưởng tượng", "giả sử", "đề nghị", "liệu",
)
# Vietnamese function words: with the request and question words above, not what an instruction is about.
VI_FUNCTION_WORDS = frozenset("là của và các những một có không được với trong về này đó để cho thế nào như khi thì mà ở".split())
# A clause before the request ("In two sentences, explain ...", "Dựa vào đoạn văn, hãy ...").
_LEADING_CLAUSE = re.compile(r"^[^,:;]{1,80}[,:;]\s*")


@dataclass
class AnswerGates:
    """The gates an answer passes (every technique that answers)."""

    check_repetition: bool = setting(True, label="Repetition gate", switched_off_by=(_SWITCH_OFF, "repetition"),
                                     help="fail answers that repeat a sentence or a line, or loop on the same words")
    check_language: bool = setting(True, label="Language gate", switched_off_by=(_SWITCH_OFF, "language-mismatch"),
                                   help="fail samples in another language than their seed or system prompt")

    @classmethod
    def all_off(cls) -> "AnswerGates":
        """Every gate switched off (a benchmark measures the same work whatever the model writes)."""
        return cls(**{spec.name: False for spec in dataclasses.fields(cls)})

    def answer_stop(self) -> TextCheck | None:
        """The check that ends an answer's generation early (at a repeat), when the repetition gate is on."""
        return LoopStop() if self.check_repetition else None

    def answer_rejection(self, answer: str, expected_language: str | None) -> Rejection | None:
        """Why an answer fails a gate that is on, or None."""
        if self.check_repetition:
            rejection = repetition(answer)
            if rejection is not None:
                return rejection
        if self.check_language:
            return language_mismatch(answer, expected_language, "answer")
        return None


@dataclass
class QualityGates(AnswerGates):
    """The answer gates, and `not_a_request` for the instructions a technique writes itself."""

    check_request: bool = setting(True, label="Not-a-request gate", switched_off_by=(_SWITCH_OFF, "not-a-request"),
                                  help="fail instructions that are neither a question nor a request (English, Vietnamese)")

    def instruction_rejection(self, instruction: str, expected_language: str | None) -> Rejection | None:
        """Why an instruction the model wrote fails a gate that is on, or None."""
        if self.check_language:
            rejection = language_mismatch(instruction, expected_language, "instruction")
            if rejection is not None:
                return rejection
        if self.check_request:
            return not_a_request(instruction)
        return None


def repetition(text: str) -> Rejection | None:
    """The answer repeats one of its sentences or lines word for word, or its distinct 3-grams are too few."""
    unit = repeated_unit(text)
    if unit is not None:
        return Rejection("repetition", f"repeats {_quoted(unit)}")
    ratio = distinct_trigram_share(text)
    if ratio is not None and ratio < MIN_DISTINCT_TRIGRAMS:
        return Rejection("repetition", f"only {ratio:.0%} of its word 3-grams are distinct (at least {MIN_DISTINCT_TRIGRAMS:.0%} needed)")
    return None


def repeated_unit(text: str, finished: bool = True) -> str | None:
    """The first sentence or line of `text` that repeats an earlier one word for word, or None.

    Unfinished (`finished=False`, a text still being generated), its last sentence or line is left
    out: it may still grow into another one.
    """
    units = _SENTENCE_END.split(text)
    return _first_repeat(units if finished else units[:-1], set())


def _first_repeat(units: list[str], seen: set[tuple[str, ...]]) -> str | None:
    """The first of `units` whose words are already in `seen` (each unit's words are added to it)."""
    for unit in units:
        words = tuple(word_tokens(unit))
        if len(words) < REPEATED_UNIT_WORDS:
            continue
        if words in seen:
            return unit
        seen.add(words)
    return None


class LoopStop:
    """"repetition" once an answer being generated has repeated a whole sentence or line: whatever
    follows, the finished answer fails the `repetition` gate, so generating on would only waste time.
    (A low share of distinct 3-grams can still recover, so it is judged on the finished answer only.)

    One per answer: it remembers the sentences already read, so a check costs what the new text adds
    rather than the whole answer again at every token."""

    def __init__(self) -> None:
        self._seen: set[tuple[str, ...]] = set()
        self._read = 0
        self._length = 0

    def __call__(self, text_so_far: str) -> str | None:
        if len(text_so_far) < self._length:  # a retried request writes its text again from the start
            self._seen.clear()
            self._read = 0
        self._length = len(text_so_far)
        finished = _SENTENCE_END.split(text_so_far)[:-1]
        repeat = _first_repeat(finished[self._read:], self._seen)
        self._read = len(finished)
        return "repetition" if repeat is not None else None


def distinct_trigram_share(text: str) -> float | None:
    """Distinct word 3-grams over all of them; None for a text too short to judge."""
    words = word_tokens(text)
    if len(words) < DISTINCT_TRIGRAMS_FROM_WORDS:
        return None
    trigrams = list(zip(words, words[1:], words[2:]))
    return len(set(trigrams)) / len(trigrams)


def not_a_request(instruction: str) -> Rejection | None:
    """None when the instruction asks something (a question, a request, an imperative) in English or
    Vietnamese, or is in another language; otherwise the rejection."""
    text = instruction.strip()
    if any(mark in text for mark in _QUESTION_MARKS):
        return None
    language = identified_language(text)
    if language not in (None, "en", "vi"):
        return None  # no rules for it: let it through
    sentences = [s for s in _SENTENCE_END.split(text) if s.strip()]
    if any(_asks(sentence) for sentence in sentences):
        return None
    return Rejection("not_a_request", f"neither a question nor a request: {_quoted(text)}")


def _asks(sentence: str) -> bool:
    """The sentence is a question or a request by its opening (or its opening after a leading clause),
    or by a Vietnamese question word or final particle."""
    plain = _plain(sentence)
    openings = [(plain, False)]
    after_clause = _LEADING_CLAUSE.sub("", plain, count=1)
    if after_clause != plain:
        openings.append((after_clause, True))
    for opening, follows_clause in openings:
        if _starts_with(opening, "what a") or _starts_with(opening, "what an"):
            continue  # "What a fascinating topic": an exclamation (a question would carry its question mark)
        first = opening.split(" ", 1)[0].rstrip(",:;")  # "Explain, in three steps, …" opens with its verb
        if follows_clause and first in EN_RELATIVE_PRONOUNS:
            continue  # "Synthetic data, which is made by models, …": a relative clause, not a question
        if first in EN_QUESTION_WORDS or first in EN_IMPERATIVE_VERBS:
            return True
        if any(_starts_with(opening, phrase) for phrase in (*EN_REQUEST_OPENINGS, *VI_REQUEST_OPENINGS)):
            return True
    padded = f" {plain} "
    if any(f" {word} " in padded for word in VI_QUESTION_WORDS):
        return True
    # "ai" (who) only as Vietnamese: "AI" the abbreviation is written in capitals.
    last = sentence.strip().rstrip(".!…").split()[-1:] or [""]
    return plain.rsplit(" ", 1)[-1] in VI_QUESTION_ENDINGS and last[0] != "AI"


def _plain(text: str) -> str:
    """Lowercased, markdown and list markers off, punctuation but the clause marks (, : ;) spaced out."""
    text = re.sub(r"^\s*(?:[-*•#>]+|\d+[.)])\s*", "", text.strip())
    text = re.sub(r"[^\w\s,:;']", " ", text.casefold())
    return " ".join(text.split())


def _starts_with(text: str, phrase: str) -> bool:
    return text == phrase or text.startswith(phrase + " ") or text.startswith(phrase + ",")


def language_mismatch(text: str, expected: str | None, what: str) -> Rejection | None:
    """The text is confidently in another language than `expected` (None: nothing to compare with)."""
    if expected is None:
        return None
    found = identified_language(text)
    if found is None or found == expected:
        return None
    return Rejection("language_mismatch", f"the {what} is in {found}, its seed or system prompt in {expected}")


def expected_language(row: dict[str, Any] | None, system_prompt: str | None = None) -> str | None:
    """The language a sample should be in: its seed's, else its system prompt's; None when neither says confidently."""
    if row:
        try:
            return identified_language(seed_text(row))
        except BadInput:  # a row without text (a pipeline row of numbers) says nothing
            return None
    return identified_language(system_prompt) if system_prompt else None


_identifier: Any = None
_identifier_lock = threading.Lock()


def identified_language(text: str) -> str | None:
    """The ISO 639-1 code of the text's language when py3langid is confident, else None."""
    global _identifier
    with _identifier_lock:
        if _identifier is None:  # loading the model takes a moment: only when a gate first needs it
            from py3langid.langid import MODEL_FILE, LanguageIdentifier

            _identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        language, probability = _identifier.classify(text)
    return language if probability >= CONFIDENT_LANGUAGE else None


def _quoted(text: str, width: int = 60) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= width else flat[: width - 1] + "…")


def topic_gain(scorer: TextScorer, template: Any, system_prompt: str | None, user_turn: str) -> float | None:
    """How much more likely `user_turn` is after the custom `system_prompt` than after the plain one of its
    language, per token; None where that cannot be judged (no custom prompt, a language without a plain one)."""
    if not system_prompt:
        return None
    plain = PLAIN_SYSTEM_PROMPTS.get(identified_language(system_prompt) or "")
    if plain is None or system_prompt.strip() == plain:
        return None
    def opening(system: str) -> str:
        return template.pre_query([{"role": "system", "content": system}])

    return context_gain(scorer, opening(system_prompt), opening(plain), user_turn + template.end_of_turn())


# Words that say how to ask, not what about: an evolution may change them freely without leaving its subject.
_NOT_CONTENT_WORDS = STOP_WORDS | EN_QUESTION_WORDS | EN_IMPERATIVE_VERBS | VI_FUNCTION_WORDS | frozenset(
    syllable for phrase in (*VI_QUESTION_WORDS, *VI_REQUEST_OPENINGS) for syllable in phrase.split()
)


def content_words(text: str) -> set[str]:
    """The words of `text` that say what it is about: no stop words, request or question words, or numbers."""
    return {word for word in word_tokens(text) if word not in _NOT_CONTENT_WORDS and not word.isdigit()}


def topic_overlap(parent: str, evolution: str) -> float | None:
    """The share of content words an evolution and its parent have in common, of the fewer of the two
    (a shortened evolution keeps its subject too); None when the parent has none to keep."""
    kept, new = content_words(parent), content_words(evolution)
    if not kept:
        return None
    return len(kept & new) / min(len(kept), len(new)) if new else 0.0
