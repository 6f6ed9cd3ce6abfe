"""A fast, bounds-checked reader of a GGUF file's header: metadata and tensor table, no tensor data.

The `gguf` package's GGUFReader builds a numpy view of every array element, seconds even on the
135M model's header; opening a model must not wait for that, so the walk is done here with struct
over the header's bytes, keeping only the vocabulary among the large arrays (and not even that when a
listing of many files asks for `vocabulary=False`: then numpy finds where each array of strings ends,
not a Python loop). Type sizes come from `gguf`.
"""

from __future__ import annotations

import math
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9
_LENGTH = struct.Struct("<Q")
_FIRST_READ = 1 << 20
_KEPT_ARRAYS = {"tokenizer.ggml.tokens"}
_STRINGS_WINDOW = 1 << 18  # bytes numpy looks at in one go when stepping over strings
_STRING_BYTES = 64  # more than a vocabulary's string takes on average, its length included
_STRINGS_MISSES = 16  # strings numpy could not step over before the rest of an array is walked


class GGUFFormatError(ValueError):
    """The bytes do not follow the GGUF format (truncated or corrupt)."""


class GGUFUnsupported(GGUFFormatError):
    """A well-formed GGUF this reader (and the llama.cpp it goes with) does not know: a newer version, a new tensor type."""


@dataclass
class TensorEntry:
    name: str
    n_elements: int
    n_bytes: int
    offset: int  # from the start of the file


@dataclass
class GGUFHeader:
    version: int
    metadata: dict[str, Any] = field(default_factory=dict)
    tensors: list[TensorEntry] = field(default_factory=list)
    data_start: int = 0


class _Cursor:
    """Reads the file from its start into bytes as far as the walk needs (struct reads bytes several
    times faster than a memory map), never past the file's end."""

    def __init__(self, handle: BinaryIO, file_size: int):
        self.handle = handle
        self.file_size = file_size
        self.buffer = b""
        self.pos = 0

    def need(self, end: int) -> None:
        """Have the bytes up to `end` read; raise GGUFFormatError when the file is shorter."""
        if end <= len(self.buffer):
            return
        if end > self.file_size:
            raise GGUFFormatError(f"the header ends early at byte {self.pos}")
        wanted = min(self.file_size, max(end, 2 * len(self.buffer), _FIRST_READ))
        # Read again from the start into a fresh buffer, the old one let go first: growing bytes by
        # concatenation costs more in fresh pages than reading from the page cache costs.
        self.buffer = b""
        self.handle.seek(0)
        self.buffer = self.handle.read(wanted)
        if end > len(self.buffer):
            raise GGUFFormatError(f"the header ends early at byte {self.pos}")

    def unpack(self, fmt: str) -> Any:
        (value,) = self.unpack_all(fmt)
        return value

    def unpack_all(self, fmt: str) -> tuple:
        """The values `fmt` reads at the cursor, which moves past them."""
        end = self.pos + struct.calcsize(fmt)
        if end > len(self.buffer):
            self.need(end)
        values = struct.unpack_from(fmt, self.buffer, self.pos)
        self.pos = end
        return values

    def skip(self, size: int) -> None:
        if size < 0 or self.pos + size > self.file_size:
            raise GGUFFormatError(f"the header ends early at byte {self.pos}")
        self.pos += size

    def string(self) -> str:
        length = self.unpack("<Q")
        start = self.pos
        self.skip(length)
        self.need(self.pos)
        return self.buffer[start : self.pos].decode("utf-8", errors="replace")

    def skip_strings(self, count: int) -> None:
        """Step over `count` strings reading only their lengths: a vocabulary is most of a header, so
        numpy finds the lengths a window at a time; a string it cannot place is walked instead."""
        misses = 0
        while count and misses < _STRINGS_MISSES:
            window = min(_STRINGS_WINDOW, _STRING_BYTES * count)
            self.need(min(self.file_size, self.pos + window))
            window_end = min(len(self.buffer), self.pos + window)
            stepped, self.pos = _step_strings(self.buffer, self.pos, window_end, count)
            if not stepped:
                misses += 1
                self.walk_strings(1)
                stepped = 1
            count -= stepped
        self.walk_strings(count)

    def walk_strings(self, count: int) -> None:
        """Step over `count` strings one by one, each by its length."""
        length = _LENGTH.unpack_from
        buffer, pos = self.buffer, self.pos
        readable = len(buffer) - 8
        for _ in range(count):
            if pos > readable:
                self.pos = pos
                self.need(pos + 8)
                buffer = self.buffer
                readable = len(buffer) - 8
            pos += 8 + length(buffer, pos)[0]
        self.pos = pos
        self.need(pos)

    def value(self, kind: int, keep: bool = True) -> Any:
        if kind in _SCALARS:
            return self.unpack(_SCALARS[kind])
        if kind == _STRING:
            return self.string()
        if kind == _ARRAY:
            item_kind, count = self.unpack("<I"), self.unpack("<Q")
            if item_kind in _SCALARS and not keep:
                self.skip(struct.calcsize(_SCALARS[item_kind]) * count)
                return None
            if count > self.file_size:
                raise GGUFFormatError(f"an array claims {count} items, more than the file's bytes")
            if item_kind == _STRING and not keep:
                self.skip_strings(count)
                return None
            items = [self.value(item_kind, keep) for _ in range(count)]
            return items if keep else None
        raise GGUFFormatError(f"unknown metadata value type {kind} at byte {self.pos}")


def _step_strings(buffer: bytes, start: int, end: int, count: int) -> tuple[int, int]:
    """How many of `count` strings from `start` numpy steps over within buffer[start:end], and where they end.

    A vocabulary's strings are short, never empty and hold no zero byte, so a run of zeros ends only at
    the top of a length field. The fields found so are trusted only as far as each leads to the next by
    its own length, as a walk would go: a string that breaks the rule stops the step there.
    """
    import numpy as np

    span = end - start
    if span < 16:
        return 0, start
    zero = np.frombuffer(buffer, np.uint8, count=span, offset=start) == 0
    fields = np.flatnonzero(zero[:-1] & ~zero[1:])[:count]
    fields -= 7  # from the last zero of a length field to its first byte
    if not len(fields) or fields[0] != 0:
        return 0, start
    lengths = np.ndarray((span - 7,), "<u8", buffer, start, (1,))[fields]
    ends = fields + 8 + np.minimum(lengths, span).astype(np.int64)
    broken = np.flatnonzero(fields[1:] != ends[:-1])
    stepped = int(broken[0]) + 1 if len(broken) else len(fields)
    if ends[stepped - 1] > span:  # the last string runs past the window
        stepped -= 1
    return stepped, start + (int(ends[stepped - 1]) if stepped else 0)


def read_header(path: Path, vocabulary: bool = True) -> GGUFHeader:
    """Parse the header of the GGUF at `path`; raise GGUFFormatError when it is truncated or corrupt.

    `vocabulary=False` leaves out `tokenizer.ggml.tokens` too: every array is stepped over, not read.
    """
    kept_arrays = _KEPT_ARRAYS if vocabulary else set()
    from gguf.constants import GGML_QUANT_SIZES

    type_sizes = {int(kind): sizes for kind, sizes in GGML_QUANT_SIZES.items()}

    with open(path, "rb") as handle:
        cursor = _Cursor(handle, os.fstat(handle.fileno()).st_size)
        if cursor.unpack("<4s") != b"GGUF":
            raise GGUFFormatError("missing the GGUF signature")
        version = cursor.unpack("<I")
        if version not in (2, 3):
            raise GGUFUnsupported(f"GGUF version {version} is not supported (2 or 3 are)")
        header = GGUFHeader(version=version)
        n_tensors, n_kv = cursor.unpack("<Q"), cursor.unpack("<Q")
        for _ in range(n_kv):
            key = cursor.string()
            kind = cursor.unpack("<I")
            keep = kind != _ARRAY or key in kept_arrays
            value = cursor.value(kind, keep)
            if keep:
                header.metadata[key] = value
        entries = []
        for _ in range(n_tensors):
            name = cursor.string()
            n_dims = cursor.unpack("<I")
            if n_dims > 8:
                raise GGUFFormatError(f"tensor {name} claims {n_dims} dimensions")
            *dims, type_id, relative = cursor.unpack_all(f"<{n_dims}QIQ")
            n_elements = math.prod(dims)
            if type_id not in type_sizes:
                raise GGUFUnsupported(f"tensor {name} has unknown type {type_id}")
            block, type_size = type_sizes[type_id]
            entries.append((name, n_elements, n_elements * type_size // block, relative))
        alignment = int(header.metadata.get("general.alignment", 32)) or 32
        header.data_start = (cursor.pos + alignment - 1) // alignment * alignment
        header.tensors = [TensorEntry(n, e, b, header.data_start + r) for n, e, b, r in entries]
        return header
