"""A fast, bounds-checked reader of a GGUF file's header: metadata and tensor table, no tensor data.

The `gguf` package's GGUFReader builds a numpy view of every array element, seconds even on the
135M model's header; opening a model must not wait for that, so the walk is done here with struct
over a memory map, keeping only the vocabulary among the large arrays. Type sizes come from `gguf`.
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9
_KEPT_ARRAYS = {"tokenizer.ggml.tokens"}


class GGUFFormatError(ValueError):
    """The bytes do not follow the GGUF format (truncated or corrupt)."""


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
    def __init__(self, buffer: mmap.mmap):
        self.buffer = buffer
        self.pos = 0

    def unpack(self, fmt: str) -> Any:
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.buffer):
            raise GGUFFormatError(f"the header ends early at byte {self.pos}")
        (value,) = struct.unpack_from(fmt, self.buffer, self.pos)
        self.pos += size
        return value

    def skip(self, size: int) -> None:
        if size < 0 or self.pos + size > len(self.buffer):
            raise GGUFFormatError(f"the header ends early at byte {self.pos}")
        self.pos += size

    def string(self) -> str:
        length = self.unpack("<Q")
        start = self.pos
        self.skip(length)
        return bytes(self.buffer[start : self.pos]).decode("utf-8", errors="replace")

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
            if count > len(self.buffer):
                raise GGUFFormatError(f"an array claims {count} items, more than the file's bytes")
            items = [self.value(item_kind, keep) for _ in range(count)]
            return items if keep else None
        raise GGUFFormatError(f"unknown metadata value type {kind} at byte {self.pos}")


def read_header(path: Path) -> GGUFHeader:
    """Parse the header of the GGUF at `path`; raise GGUFFormatError when it is truncated or corrupt."""
    from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as buffer:
        cursor = _Cursor(buffer)
        if cursor.unpack("<4s") != b"GGUF":
            raise GGUFFormatError("missing the GGUF signature")
        version = cursor.unpack("<I")
        if version not in (2, 3):
            raise GGUFFormatError(f"GGUF version {version} is not supported (2 or 3 are)")
        header = GGUFHeader(version=version)
        n_tensors, n_kv = cursor.unpack("<Q"), cursor.unpack("<Q")
        for _ in range(n_kv):
            key = cursor.string()
            kind = cursor.unpack("<I")
            keep = kind != _ARRAY or key in _KEPT_ARRAYS
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
                raise GGUFFormatError(f"tensor {name} has unknown type {type_id}") from None
            entries.append((name, n_elements, n_elements * type_size // block, relative))
        alignment = int(header.metadata.get("general.alignment", 32)) or 32
        header.data_start = (cursor.pos + alignment - 1) // alignment * alignment
        header.tensors = [TensorEntry(n, e, b, header.data_start + r) for n, e, b, r in entries]
        return header
