"""Elimination evolving (Evol-Instruct paper, section 3.3): the evolutions that failed.

An evolution fails when it hit the token cap, copies the rewriting prompt's own words (its phrases,
or a line such as its worked example), is a short refusal or apology, holds only punctuation and
stop words, or equals its parent once normalized. The failed evolution is recorded with its reason
and its parent goes on to the next round.
"""

from __future__ import annotations

import re

from tui.engine.instruction_filters import Rejection, borrowed_example_word
from tui.engine.near_duplicates import rouge_l
from tui.engine.text_tokens import word_tokens

# The paper's list, the in-breadth prompt's counterparts, and the labels of smolgen's own templates.
TEMPLATE_PHRASES = (
    "#the given prompt#",
    "#rewritten prompt#",
    "#created prompt#",
    "given prompt",
    "rewritten prompt",
    "created prompt",
    "rewritten instruction",
    "new instruction:",
)
# ROUGE-L above which an evolution copies a line of its prompt, as for SelfInstruct's near-duplicates.
COPY_THRESHOLD = 0.7
REFUSAL_MARKERS = ("sorry", "as an ai", "i cannot", "i can't", "i can’t")
_REFUSAL = re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, REFUSAL_MARKERS)) + r")(?!\w)")
REFUSAL_MAX_WORDS = 80  # the paper: a refusal is short; a long answer that says "sorry" once is not one
# English stop words (NLTK's list, contractions' parts included).
STOP_WORDS = frozenset(
    """a about above after again against ain all am an and any are aren as at be because been before being
    below between both but by can couldn d did didn do does doesn doing don down during each few for from
    further had hadn has hasn have haven having he her here hers herself him himself his how i if in into is
    isn it its itself just ll m ma me mightn more most mustn my myself needn no nor not now o of off on once
    only or other our ours ourselves out over own re s same shan she should shouldn so some such t than that
    the their theirs them themselves then there these they this those through to too under until up ve very
    was wasn we were weren what when where which while who whom why will with won wouldn y you your yours
    yourself yourselves""".split()
)


def eliminate(
    parent: str, evolved: str, finish_reason: str, prompt: str = "", example_words: tuple[str, ...] = ()
) -> Rejection | None:
    """Why the evolution of `parent` into `evolved` failed, or None when it is a real evolution.

    `prompt` is the rewriting prompt: an evolution that copies one of its lines (its worked example,
    its rules) copies the template's words as surely as one that writes "#Rewritten Prompt#".
    `example_words` are the topic words of the prompt's worked example: an evolution that takes them
    up when its parent does not has left its parent's topic for the example's.
    """
    if finish_reason == "length":
        return Rejection("token_cap", "the model hit the token cap before finishing the instruction")
    lowered = evolved.casefold()
    copied = next((phrase for phrase in TEMPLATE_PHRASES if phrase in lowered), None)
    if copied is not None:
        return Rejection("copied_template", f"copies the prompt's own words ({copied!r})")
    words = word_tokens(evolved)
    refusal = _REFUSAL.search(lowered)
    if refusal is not None and len(words) < REFUSAL_MAX_WORDS:
        return Rejection("refusal", f"a refusal or apology ({refusal.group(0)!r}) of {len(words)} words")
    if all(word in STOP_WORDS for word in words):
        return Rejection("only_stopwords", "only punctuation and stop words" if words else "no words at all")
    copied_line = _copied_prompt_line(evolved, parent, prompt)
    if copied_line is not None:
        return Rejection("copied_template", f"copies a line of the prompt: {copied_line!r}")
    if words == word_tokens(parent):
        return Rejection("unchanged", "the same as its parent once case and punctuation are ignored")
    return borrowed_example_word(evolved, parent, example_words)


def _copied_prompt_line(evolved: str, parent: str, prompt: str) -> str | None:
    """A line of the prompt (other than the one holding the parent) that `evolved` nearly copies."""
    for line in prompt.splitlines():
        if line.strip() and parent not in line and rouge_l(evolved, line) > COPY_THRESHOLD:
            return line.strip()
    return None
