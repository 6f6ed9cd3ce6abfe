"""Words of an instruction in any language, for counting them and for ROUGE-L.

A word is a run of letters, digits or marks (so Vietnamese "học" stays one word). Chinese and
Japanese are written without spaces, so each of their characters counts as a word, as ROUGE tools
for those languages do; a Chinese instruction is then not "one word long".
"""

from __future__ import annotations

import re

_UNSPACED = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # kana and CJK ideographs
_WORD = re.compile(rf"[{_UNSPACED}]|[^\W{_UNSPACED}]+")


def word_tokens(text: str) -> list[str]:
    """The lowercased words of `text`, in order; punctuation is not a word."""
    return _WORD.findall(text.casefold())
