"""Near-duplicate clusters across a whole dataset, with MinHash LSH (datasketch).

Texts are shingled into character 5-grams of their normalised form, so the check works in any
language and survives small rewordings; LSH proposes candidates and their estimated Jaccard
similarity confirms them before two samples are joined into one cluster. datasketch (and the scipy
it brings) are slow to import, so callers import this module only when clusters are asked for.
"""

from __future__ import annotations

import re
import zlib
from typing import Callable, Hashable, Iterable

import numpy as np
from datasketch import MinHash, MinHashLSH

NUM_PERM = 128
SHINGLE = 5
_SPACE = re.compile(r"\s+")
_STEP = 1_000  # texts between two looks at `should_stop`


def shingles(text: str) -> set[bytes]:
    """The UTF-8 bytes of every SHINGLE characters of the text, lower-cased with its spaces collapsed."""
    normal = _SPACE.sub(" ", text.lower()).strip()
    if len(normal) <= SHINGLE:
        return {normal.encode("utf-8")}
    if normal.isascii():  # one character is one byte: slice the encoded text once instead of encoding each slice
        data = normal.encode("ascii")
        return {data[i : i + SHINGLE] for i in range(len(data) - SHINGLE + 1)}
    return {normal[i : i + SHINGLE].encode("utf-8") for i in range(len(normal) - SHINGLE + 1)}


def find_clusters(
    items: Iterable[tuple[Hashable, str]], threshold: float = 0.7, should_stop: Callable[[], bool] | None = None
) -> list[list[Hashable]]:
    """Groups of ids whose texts are near-duplicates (estimated Jaccard ≥ threshold), largest first.

    `should_stop` is asked every thousand texts; once it says yes the search ends early with [].
    """
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold={threshold}: must be above 0 and at most 1")
    stop = should_stop or (lambda: False)
    items = [(key, text) for key, text in items if text and text.strip()]
    if len(items) < 2:
        return []
    hashes: list[MinHash] = []
    for start in range(0, len(items), _STEP):
        if stop():
            return []
        # crc32 instead of datasketch's default sha1: stable across runs and several times faster.
        chunk = [list(shingles(text)) for _, text in items[start : start + _STEP]]
        hashes.extend(MinHash.bulk(chunk, num_perm=NUM_PERM, hashfunc=zlib.crc32))
    lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
    with lsh.insertion_session() as session:
        for index, minhash in enumerate(hashes):
            session.insert(index, minhash)
    parent = list(range(len(items)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    signatures = np.stack([minhash.hashvalues for minhash in hashes])
    for index, minhash in enumerate(hashes):
        if index % _STEP == 0 and stop():
            return []
        # Only candidates not yet in this item's cluster need their similarity confirmed.
        others = [o for o in lsh.query(minhash) if root(o) != root(index)]
        if not others:
            continue
        similar = (signatures[others] == signatures[index]).mean(axis=1) >= threshold
        for other, is_similar in zip(others, similar):
            if is_similar:
                parent[root(other)] = root(index)
    groups: dict[int, list[Hashable]] = {}
    for index, (key, _) in enumerate(items):
        groups.setdefault(root(index), []).append(key)
    clusters = [sorted(group, key=str) for group in groups.values() if len(group) > 1]
    return sorted(clusters, key=lambda group: (-len(group), str(group[0])))
