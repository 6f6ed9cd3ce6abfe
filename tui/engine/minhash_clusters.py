"""Near-duplicate clusters across a whole dataset, with MinHash LSH.

Texts are shingled into character 5-grams of their normalised form, so the check works in any
language and survives small rewordings; LSH proposes candidates and their estimated Jaccard
similarity confirms them before two samples are joined into one cluster. The MinHash signatures and
the LSH bands are computed here with numpy (datasketch's "affine32" scheme and its choice of bands):
datasketch's package brings scipy, which took longer to import than the clusters take to find.
Callers import this module only when clusters are asked for, as numpy loads with it.
"""

from __future__ import annotations

import functools
import re
import zlib
from typing import Callable, Hashable, Iterable

import numpy as np

NUM_PERM = 128
SHINGLE = 5
_SPACE = re.compile(r"\s+")
_STEP = 1_000  # texts between two looks at `should_stop`
_SEED = 1


def shingles(text: str) -> set[bytes]:
    """The UTF-8 bytes of every SHINGLE characters of the text, lower-cased with its spaces collapsed."""
    normal = _SPACE.sub(" ", text.lower()).strip()
    if len(normal) <= SHINGLE:
        return {normal.encode("utf-8")}
    if normal.isascii():  # one character is one byte: slice the encoded text once instead of encoding each slice
        data = normal.encode("ascii")
        return {data[i : i + SHINGLE] for i in range(len(data) - SHINGLE + 1)}
    return {normal[i : i + SHINGLE].encode("utf-8") for i in range(len(normal) - SHINGLE + 1)}


@functools.cache
def _permutations() -> tuple[np.ndarray, np.ndarray]:
    """NUM_PERM affine maps h -> a*h + b mod 2^32, `a` odd so that each is a bijection (no added collisions)."""
    generator = np.random.RandomState(_SEED)
    a = generator.randint(0, 1 << 31, NUM_PERM, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = generator.randint(0, 1 << 32, NUM_PERM, dtype=np.uint32)
    return a, b


def _mix(hashes: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer, a bijection that spreads crc32's structured values before the affine maps."""
    hashes = hashes ^ (hashes >> np.uint32(16))
    hashes = hashes * np.uint32(0x85EBCA6B)
    hashes = hashes ^ (hashes >> np.uint32(13))
    hashes = hashes * np.uint32(0xC2B2AE35)
    return hashes ^ (hashes >> np.uint32(16))


def signatures(texts: list[str]) -> np.ndarray:
    """One MinHash signature (NUM_PERM values) a row, of each text's shingles hashed with crc32 (stable across runs)."""
    a, b = _permutations()
    sets = [shingles(text) for text in texts]
    hashes = _mix(np.fromiter((zlib.crc32(shingle) for each in sets for shingle in each), dtype=np.uint32))
    starts = np.cumsum([0, *(len(each) for each in sets[:-1])])
    with np.errstate(over="ignore"):  # the arithmetic is modulo 2^32 on purpose
        return np.minimum.reduceat(hashes[:, None] * a + b, starts, axis=0)


@functools.cache
def bands(threshold: float, num_perm: int = NUM_PERM) -> tuple[int, int]:
    """(bands, rows a band) with the least false positives plus false negatives around `threshold`, each
    probability integrated exactly (Gauss-Legendre on a polynomial of degree at most num_perm)."""
    nodes, weights = np.polynomial.legendre.leggauss(num_perm // 2 + 2)

    def integral(f: Callable[[np.ndarray], np.ndarray], low: float, high: float) -> np.ndarray:
        s = (high - low) / 2 * nodes + (high + low) / 2
        return (high - low) / 2 * (f(s[:, None]) * weights[:, None]).sum(axis=0)

    pairs = np.array([(b, r) for b in range(1, num_perm + 1) for r in range(1, num_perm // b + 1)], dtype=float)
    b, r = pairs[:, 0], pairs[:, 1]
    false_positive = integral(lambda s: 1 - (1 - s**r) ** b, 0.0, threshold)
    false_negative = integral(lambda s: (1 - s**r) ** b, threshold, 1.0)
    best = int(np.argmin(0.5 * false_positive + 0.5 * false_negative))
    return int(b[best]), int(r[best])


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
    chunks = []
    for start in range(0, len(items), _STEP):
        if stop():
            return []
        chunks.append(signatures([text for _, text in items[start : start + _STEP]]))
    signature = np.concatenate(chunks)
    count, rows = bands(threshold)
    # LSH: texts whose signatures agree on all the rows of any one band are candidates of each other.
    buckets: list[dict[bytes, list[int]]] = [{} for _ in range(count)]
    for index in range(len(items)):
        for band, bucket in enumerate(buckets):
            bucket.setdefault(signature[index, band * rows : (band + 1) * rows].tobytes(), []).append(index)
    parent = list(range(len(items)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for index in range(len(items)):
        if index % _STEP == 0 and stop():
            return []
        candidates = {other for band, bucket in enumerate(buckets)
                      for other in bucket[signature[index, band * rows : (band + 1) * rows].tobytes()]}
        # Only candidates not yet in this item's cluster need their similarity confirmed.
        others = [other for other in candidates if root(other) != root(index)]
        if not others:
            continue
        similar = (signature[others] == signature[index]).mean(axis=1) >= threshold
        for other, is_similar in zip(others, similar):
            if is_similar:
                parent[root(other)] = root(index)
    groups: dict[int, list[Hashable]] = {}
    for index, (key, _) in enumerate(items):
        groups.setdefault(root(index), []).append(key)
    clusters = [sorted(group, key=str) for group in groups.values() if len(group) > 1]
    return sorted(clusters, key=lambda group: (-len(group), str(group[0])))
