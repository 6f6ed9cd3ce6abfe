"""GGUF models found where people keep them: the Hugging Face cache, LM Studio's folders, llama.cpp's
cache, Ollama's store and the folders a person names; each with what its header says, or why it
cannot be used.

A listing reads headers, never whole files, and steps over their vocabularies; what it read is kept
in a cache keyed by path, size and modification time, so listing again reads only what changed.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from tui.engine.errors import ModelFileError
from tui.engine.model_file import quantization_name, read_model_header
from tui.engine.user_folders import cache_dir, replace_file

OLLAMA_MODEL_LAYER = "application/vnd.ollama.image.model"
OLLAMA_LIBRARY = ("registry.ollama.ai", "library")
_CACHE_FORMAT = 1


@dataclass(frozen=True)
class ModelFolder:
    """A folder models are kept in, and how: `layout` is "hf" (the Hub cache), "ollama" or "tree" (.gguf files)."""

    source: str
    path: Path
    layout: str = "tree"


@dataclass(frozen=True)
class HeaderSurvey:
    """What a listing needs from a file's header, or the reason it cannot be used."""

    parameters: int = 0
    quantization: str = ""
    chat_template: bool = False
    problem: str | None = None


@dataclass(frozen=True)
class FoundModel:
    """One model file found: `path` is the file llama.cpp would open, `name` how its source calls it."""

    name: str
    path: Path
    source: str
    size_bytes: int
    survey: HeaderSurvey

    @property
    def usable(self) -> bool:
        return self.survey.problem is None

    def record(self) -> dict[str, Any]:
        """The entry as plain JSON-ready values."""
        return {"name": self.name, "path": str(self.path), "source": self.source, "size_bytes": self.size_bytes,
                **asdict(self.survey), "usable": self.usable}


def model_folders(extra: Iterable[Path] = (), environ: Mapping[str, str] | None = None, home: Path | None = None) -> list[ModelFolder]:
    """Every place models are looked for, the tools' own variables first, then their defaults, then `extra`."""
    env = os.environ if environ is None else environ
    home = Path.home() if home is None else home
    cache = home / ".cache"
    hub = env.get("HF_HUB_CACHE") or (str(Path(env["HF_HOME"]) / "hub") if env.get("HF_HOME") else str(cache / "huggingface" / "hub"))
    folders = [
        ModelFolder("Hugging Face", Path(hub), "hf"),
        ModelFolder("LM Studio", home / ".lmstudio" / "models"),
        ModelFolder("LM Studio", cache / "lm-studio" / "models"),
        ModelFolder("llama.cpp", Path(env.get("LLAMA_CACHE") or cache / "llama.cpp")),
        ModelFolder("Ollama", Path(env.get("OLLAMA_MODELS") or home / ".ollama" / "models"), "ollama"),
        *(ModelFolder("config", Path(folder).expanduser()) for folder in extra),
    ]
    seen: set[Path] = set()
    unique = []
    for folder in folders:
        if folder.path not in seen:
            seen.add(folder.path)
            unique.append(folder)
    return unique


def find_models(folders: Iterable[ModelFolder], header_cache: Path | None = None) -> list[FoundModel]:
    """Every GGUF file in `folders` (a file reached twice is listed once), each surveyed from its header;
    `header_cache`: the file keeping earlier surveys (None reads every header)."""
    cache = HeaderCache(header_cache)
    found: list[FoundModel] = []
    seen: set[Path] = set()
    for folder in folders:
        for name, path, problem in _candidates(folder):
            target = path.resolve()
            if target in seen:
                continue
            seen.add(target)
            size = target.stat().st_size if target.is_file() else 0
            survey = HeaderSurvey(problem=problem) if problem else cache.survey(target)
            found.append(FoundModel(name, path, folder.source, size, survey))
    cache.save()
    return found


def survey_header(path: Path) -> HeaderSurvey:
    """Read the header of `path` (not its vocabulary) and say what a listing shows, or why it cannot be used."""
    try:
        header = read_model_header(path, vocabulary=False)
    except ModelFileError as error:
        return HeaderSurvey(problem=str(error).removeprefix(f"{path}: "))
    meta = header.metadata
    if meta.get("general.type") == "mmproj" or meta.get("general.architecture") == "clip":
        return HeaderSurvey(problem="a vision projector (mmproj), not a language model")
    part, parts = int(meta.get("split.no") or 0), int(meta.get("split.count") or 1)
    if part:
        return HeaderSurvey(problem=f"part {part + 1} of {parts} of a split model: open part 1")
    return HeaderSurvey(
        parameters=sum(t.n_elements for t in header.tensors),
        quantization=quantization_name(meta.get("general.file_type")),
        chat_template=bool(meta.get("tokenizer.chat_template")),
    )


class HeaderCache:
    """Surveys kept by path, size and modification time; a cache that cannot be read or written is
    only slower, never an error."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.entries: dict[str, dict[str, Any]] = {}
        self.used: dict[str, dict[str, Any]] = {}
        if path is not None:
            try:
                kept = json.loads(path.read_text(encoding="utf-8"))
                if kept.get("format") == _CACHE_FORMAT:
                    self.entries = dict(kept["files"])
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                pass

    def survey(self, path: Path) -> HeaderSurvey:
        """The survey of `path`, read from its header only when the cache has none for its size and time."""
        try:
            stat = path.stat()
        except OSError:
            return survey_header(path)  # it says why the file cannot be read
        key, stamp = str(path), [stat.st_size, stat.st_mtime_ns]
        kept = self.entries.get(key)
        if kept is not None and kept.get("stamp") == stamp:
            try:
                survey = HeaderSurvey(**kept["survey"])
            except (TypeError, KeyError):
                survey = survey_header(path)
        else:
            survey = survey_header(path)
        self.used[key] = {"stamp": stamp, "survey": asdict(survey)}
        return survey

    def save(self) -> None:
        """Keep the surveys of the files seen this time (files gone since are dropped)."""
        if self.path is None or self.used == self.entries:
            return
        try:
            replace_file(self.path, json.dumps({"format": _CACHE_FORMAT, "files": self.used}))
        except OSError:
            pass


def _candidates(folder: ModelFolder) -> Iterator[tuple[str, Path, str | None]]:
    """(name, path, problem known without reading) of every model file in a folder."""
    if not folder.path.is_dir():
        return
    if folder.layout == "ollama":
        yield from _ollama_models(folder.path)
    elif folder.layout == "hf":
        for repo in sorted(folder.path.glob("models--*")):
            repo_name = repo.name.removeprefix("models--").replace("--", "/")
            for snapshot in sorted((repo / "snapshots").glob("*")):
                for path in _gguf_files(snapshot):
                    yield f"{repo_name}/{path.relative_to(snapshot).as_posix()}", path, None
    else:
        for path in _gguf_files(folder.path):
            yield path.relative_to(folder.path).as_posix(), path, None


def _gguf_files(folder: Path) -> list[Path]:
    """The .gguf files under a folder, broken links among them (a download never finished)."""
    return sorted(path for path in folder.rglob("*.gguf") if path.is_file() or path.is_symlink())


def _ollama_models(root: Path) -> Iterator[tuple[str, Path, str | None]]:
    """Ollama keeps blobs named by digest; each manifest (manifests/HOST/NAMESPACE/MODEL/TAG) names its
    model's layer."""
    manifests = root / "manifests"
    for manifest in sorted(path for path in manifests.rglob("*") if path.is_file()):
        parts = manifest.relative_to(manifests).parts
        name = ":".join(["/".join(parts[:-1]), parts[-1]])
        if len(parts) == 4:
            host, namespace, model, tag = parts
            prefix = "" if (host, namespace) == OLLAMA_LIBRARY else (f"{namespace}/" if host == OLLAMA_LIBRARY[0] else f"{host}/{namespace}/")
            name = f"{prefix}{model}:{tag}"
        try:
            layers = json.loads(manifest.read_text(encoding="utf-8")).get("layers") or []
            digest = next(layer["digest"] for layer in layers if layer.get("mediaType") == OLLAMA_MODEL_LAYER)
        except (OSError, ValueError, AttributeError, TypeError, KeyError):
            yield name, manifest, "its Ollama manifest cannot be read"
            continue
        except StopIteration:
            yield name, manifest, "its Ollama manifest names no model layer"
            continue
        blob = root / "blobs" / str(digest).replace(":", "-")
        yield name, blob, None if blob.is_file() else f"its blob {blob.name} is missing"


def list_models(extra_folders: Iterable[Path] = ()) -> list[FoundModel]:
    """The models in every usual place and in `extra_folders`, surveys kept in smolgen's cache folder."""
    return find_models(model_folders(extra_folders), cache_dir() / "model-headers.json")
