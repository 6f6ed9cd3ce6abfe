"""Instructions out of the text a small model writes when asked for a list of them.

Small models number their lines ("1.", "2)", "(3)") or letter them ("B:", "C)", "(a)"), bullet them
("-", "*", "•"), label them ("Query 1:", "**Question:**"), wrap them in quotes, put several on one line ("1. … 2. …"), add
headings and introductions ("# Output", "Here are 5 queries:") and sometimes answer their own
questions ("Answer: …"). The parser keeps the instructions and drops the rest.
"""

from __future__ import annotations

import re

# "1.", "2)", "(3)", "4:", "5 -" at the start of a line, bullets, and letters: "(a)", "C)", "b.", "B:" ("A:" is
# left to _ANSWER: after a question it is the model answering it).
_LIST_MARKER = re.compile(
    r"^(?:\(?\d{1,3}[.):\]](?!\d)|\d{1,3}\s+-\s|[-*•●▪‣+–—]|\([A-Za-z]\)|[A-Za-z][.)](?=\s)|[B-Zb-z]:(?=\s))\s*"
)
# A label before the instruction, with an optional number: "Query 1:", "Instruction #2 -", "Q3."
_LABEL = re.compile(
    r"^(?:user\s+)?(?:query|question|instruction|prompt|task|request|q)\s*#?\s*\d{0,3}\s*(?:[:.)](?=\s|$)|\s[-–]\s)\s*",
    re.IGNORECASE,
)
# Lines that are the model's answers or outputs, not instructions.
_ANSWER = re.compile(r"^(?:answer|output|response|solution|result|a)\s*#?\s*\d{0,3}\s*:", re.IGNORECASE)
_HEADING = re.compile(r"^#{1,6}(?:\s|$)")
# An inline numbered item: "1. ", "2) " preceded by the start of the line or a space.
_INLINE_NUMBER = re.compile(r"(?:^|(?<=\s))(\d{1,2})[.)]\s+")
_QUOTES = ('"', "'", "“", "”", "‘", "’", "`", "«", "»", "„")
_EMPHASIS = ("**", "__")


def parse_instructions(text: str, limit: int | None = None) -> list[str]:
    """The instructions in a model's list, cleaned, in order; at most `limit` of them."""
    found: list[str] = []
    for line in text.splitlines():
        for item in _split_inline_numbering(line.strip()):
            instruction = clean_item(item)
            if instruction:
                found.append(instruction)
                if limit is not None and len(found) >= limit:
                    return found
    return found


def clean_item(item: str) -> str:
    """One list item without its marker, label, emphasis and quotes; "" when it is not an instruction."""
    text = item.strip()
    if not text or _HEADING.match(text):
        return ""
    previous = None
    while text != previous:  # markers, labels, emphasis and quotes nest in any order: "- **Query 1:** "Why?""
        previous = text
        text = _strip_emphasis(text)
        text = _LIST_MARKER.sub("", text, count=1).strip()
        if _ANSWER.match(text):
            return ""
        text = _LABEL.sub("", text, count=1).strip()
        text = _strip_quotes(text.rstrip(",;").strip())
    if text.endswith(":") or not any(ch.isalnum() for ch in text):
        return ""  # an introduction to a list ("Here are five queries:"), or a bare marker
    return text


def _split_inline_numbering(line: str) -> list[str]:
    """Split "1. What is X? 2. Explain Y." into its items; only counting 1, 2, 3… splits a line."""
    matches = list(_INLINE_NUMBER.finditer(line))
    if len(matches) < 2:
        return [line]
    numbers = [int(m.group(1)) for m in matches]
    if any(b != a + 1 for a, b in zip(numbers, numbers[1:])):
        return [line]
    starts = [m.start() for m in matches]
    head = line[: starts[0]].strip()
    items = [line[a:b].strip() for a, b in zip(starts, [*starts[1:], len(line)])]
    return [head, *items] if head else items


def _strip_emphasis(text: str) -> str:
    for mark in _EMPHASIS:
        if text.startswith(mark):
            closing = text.find(mark, len(mark))
            if closing == -1:
                return text[len(mark):].strip()
            # "**Query 1:** text" keeps the text; "**Whole instruction**" keeps the instruction
            inner, rest = text[len(mark):closing], text[closing + len(mark):]
            return (inner + rest).strip()
    return text


def _strip_quotes(text: str) -> str:
    while len(text) > 1 and text[0] in _QUOTES and text[-1] in _QUOTES:
        text = text[1:-1].strip()
    if text[:1] in _QUOTES and text.count(text[0]) == 1:
        text = text[1:].strip()  # an opening quote the model never closed
    elif text[-1:] in _QUOTES and text.count(text[-1]) == 1 and text[-1] != "'":
        text = text[:-1].strip()  # a closing quote without an opening one (an apostrophe is left alone)
    return text
