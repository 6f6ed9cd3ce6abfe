"""A fast, bounds-checked reader of a GGUF file's header: metadata and tensor table, no tensor data.

The `gguf` package's GGUFReader builds a numpy view of every array element, seconds even on the
135M model's header; opening a model must not wait for that, so the walk is done here with struct
over the header's bytes, keeping only the vocabulary among the large arrays (and not even that when a
listing of many files asks for `vocabulary=False`). Type sizes come from `gguf`.
"""

from __future__ import annotations

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
        self.buffer += self.handle.read(wanted - len(self.buffer))
        if end > len(self.buffer):
            raise GGUFFormatError(f"the header ends early at byte {self.pos}")

    def unpack(self, fmt: str) -> Any:
        size = struct.calcsize(fmt)
        self.need(self.pos + size)
        (value,) = struct.unpack_from(fmt, self.buffer, self.pos)
        self.pos += size
        return value

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
        """Step over `count` strings reading only their lengths: a vocabulary is most of a header."""
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


def read_header(path: Path, vocabulary: bool = True) -> GGUFHeader:
    """Parse the header of the GGUF at `path`; raise GGUFFormatError when it is truncated or corrupt.

    `vocabulary=False` leaves out `tokenizer.ggml.tokens` too: every array is stepped over, not read.
    """
    kept_arrays = _KEPT_ARRAYS if vocabulary else set()
    from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

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
            n_elements = 1
            for _ in range(n_dims):
                n_elements *= cursor.unpack("<Q")
            type_id = cursor.unpack("<I")
            relative = cursor.unpack("<Q")
            try:
                block, type_size = GGML_QUANT_SIZES[GGMLQuantizationType(type_id)]
            except (ValueError, KeyError):
                raise GGUFUnsupported(f"tensor {name} has unknown type {type_id}") from None
            entries.append((name, n_elements, n_elements * type_size // block, relative))
        alignment = int(header.metadata.get("general.alignment", 32)) or 32
        header.data_start = (cursor.pos + alignment - 1) // alignment * alignment
        header.tensors = [TensorEntry(n, e, b, header.data_start + r) for n, e, b, r in entries]
        return header
