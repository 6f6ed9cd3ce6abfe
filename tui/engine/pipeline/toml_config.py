"""Pipelines as TOML files: `[[steps]]` tables in order, each with a `type`; two ship built in.

    name = "chapter"
    [[steps]]
    type = "load_data_from_dicts"
    data = [{ instruction = "Generate a short question about the Hugging Face Smol-Course." }]
    [[steps]]
    type = "text_generation"
    output_mappings = { generation = "instruction" }
"""

from __future__ import annotations

import inspect
import tomllib
from pathlib import Path
from typing import Any

import tomli_w

from tui.engine.errors import BadInput
from tui.engine.llm import LlamaCppLLM, OpenAICompatibleLLM
from tui.engine.pipeline import generation_steps, steps
from tui.engine.pipeline.graph import Pipeline
from tui.engine.server.settings import SettingNames

BUILTIN_DIR = Path(__file__).resolve().parent / "builtin"
STEP_TYPES: dict[str, type[steps.Step]] = {
    cls.kind: cls
    for cls in (
        steps.LoadDataFromDicts,
        steps.LoadDataFromFile,
        steps.LoadSeedsFromStore,
        steps.KeepColumns,
        steps.RenameColumns,
        steps.ExpandColumns,
        steps.FilterRows,
        generation_steps.TextGeneration,
        generation_steps.InstructionResponse,
        generation_steps.Magpie,
        generation_steps.MagpieGenerator,
        generation_steps.SelfInstruct,
        generation_steps.EvolInstruct,
        generation_steps.PreferencePairs,
        generation_steps.Judge,
    )
}


def register_step_type(cls: type[steps.Step]) -> None:
    """Make a step class loadable from TOML under its `kind`."""
    STEP_TYPES[cls.kind] = cls


def builtin_names() -> list[str]:
    return sorted(path.stem for path in BUILTIN_DIR.glob("*.toml"))


def resolve(name_or_path: str | Path) -> Path:
    """A TOML path, or the file of a built-in pipeline given by name (`chapter`, `evol-chain`)."""
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise BadInput(f"{path}: pipeline file not found")
        return path
    builtin = BUILTIN_DIR / f"{name_or_path}.toml"
    if builtin.is_file():
        return builtin
    raise BadInput(f"{name_or_path}: no such pipeline file or built-in pipeline (built in: {', '.join(builtin_names())})")


def read_config(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise BadInput(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as error:
        raise BadInput(f"{path}: not valid TOML ({error})") from None


def load_pipeline(
    name_or_path: str | Path,
    seeds: Path | None = None,
    num: int | None = None,
    max_tokens: int | None = None,
    llm: LlamaCppLLM | OpenAICompatibleLLM | None = None,
) -> Pipeline:
    """Build a pipeline from TOML; `seeds`, `num` and `max_tokens` override what the file says."""
    path = resolve(name_or_path)
    config = read_config(path)
    tables = config.get("steps")
    if not isinstance(tables, list) or not tables or not all(isinstance(t, dict) for t in tables):
        raise BadInput(f"{path}: needs at least one [[steps]] table")
    if llm is None and "llm" in config:
        llm = llm_from_table(path, config["llm"])
    if seeds is not None:
        tables = [_seed_file_source(path, tables[0], seeds), *tables[1:]]
    pipeline = build_pipeline({**config, "name": config.get("name") or path.stem, "steps": tables}, path,
                              llm or LlamaCppLLM(), max_tokens)
    if num is not None:
        if num < 1:
            raise BadInput(f"--num {num}: must be at least 1")
        pipeline.ordered()[0].limit = num
    pipeline.validate()
    return pipeline


LLM_KEYS = ("server", "model", "api_key_env", "concurrency", "timeout", "max_retries", "chat_template")
LLM_TABLE_NAMES = SettingNames(server="server", model="model", key="api_key_env", concurrency="concurrency", timeout="timeout",
                               max_retries="max_retries", chat_template="chat_template")


def llm_from_table(path: str | Path, table: Any) -> OpenAICompatibleLLM:
    """The `[llm]` table: the servers every model step of the pipeline uses."""
    if not isinstance(table, dict):
        raise BadInput(f"{path}: [llm] must be a table (server = [...], model, concurrency...)")
    unknown = [key for key in table if key not in LLM_KEYS]
    if unknown:
        raise BadInput(f"{path}: [llm] unknown key {unknown[0]!r} (known: {', '.join(LLM_KEYS)})")
    servers = table.get("server")
    if isinstance(servers, str):
        servers = [servers]
    if not servers or not isinstance(servers, list) or not all(isinstance(s, str) for s in servers):
        raise BadInput(f"{path}: [llm] server must be a URL or a list of URLs")
    options = {key: table[key] for key in LLM_KEYS[1:] if key in table}
    # A step's line names a setting it falls back on after the table (a preference_pairs step's `[llm] model`).
    return OpenAICompatibleLLM(servers, **options, names=LLM_TABLE_NAMES, where=f"{path}: [llm]",
                               lent_names=LLM_TABLE_NAMES.within("[llm]"))


def build_pipeline(config: dict[str, Any], label: str | Path, llm: LlamaCppLLM | OpenAICompatibleLLM | None = None,
                   max_tokens: int | None = None) -> Pipeline:
    """The pipeline of parsed TOML tables, chained in order but not yet validated (it can still be drawn).

    Without `llm`, model steps use the one the run is given. Errors start with `label` (a path or a name).
    """
    tables = config["steps"]
    with Pipeline(name=str(config.get("name") or label), description=str(config.get("description", ""))) as pipeline:
        built = [_build_step(label, index, table, llm, max_tokens) for index, table in enumerate(tables)]
        for before, after in zip(built, built[1:]):
            before >> after
    return pipeline


def dump_config(config: dict[str, Any]) -> str:
    """TOML text that `load_pipeline` reads back; unset (None) values are left out, as TOML has no null."""
    return tomli_w.dumps(_without_none(config))


def _without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_without_none(v) for v in value]
    return value


def _seed_file_source(path: Path, source: dict[str, Any], seeds: Path) -> dict[str, Any]:
    """A file source standing in for the pipeline's own, naming a plain line as its first column did."""
    columns = [key for row in source.get("data", []) if isinstance(row, dict) for key in row]
    text_column = source.get("text_column") or (columns[0] if columns else "text")
    return {"type": "load_data_from_file", "name": source.get("name", "seeds"), "path": str(seeds), "text_column": text_column}


def _build_step(path: str | Path, index: int, table: dict[str, Any], llm: LlamaCppLLM | OpenAICompatibleLLM | None,
                max_tokens: int | None) -> steps.Step:
    table = dict(table)
    kind = table.pop("type", None)
    label = f"{path}: step {table.get('name') or index + 1}"
    if kind not in STEP_TYPES:
        raise BadInput(f"{label}: unknown type {kind!r} (known: {', '.join(sorted(STEP_TYPES))})")
    cls = STEP_TYPES[kind]
    allowed = _parameters(cls)
    unknown = [key for key in table if key not in allowed]
    if unknown:
        raise BadInput(f"{label}: unknown key {unknown[0]!r} for type {kind} (known: {', '.join(sorted(allowed))})")
    if issubclass(cls, steps.GenerationStep):
        table.setdefault("llm", llm)
        if max_tokens is not None and "max_tokens" in allowed:  # a judge's answers have caps of their own
            table["max_tokens"] = max_tokens
    try:
        step = cls(**table)
    except TypeError as error:
        raise BadInput(f"{label}: {error}") from None
    except steps.StepProblem as error:  # named once, by the label
        raise BadInput(f"{label}: {error.problem}") from None
    except BadInput as error:
        raise BadInput(f"{label}: {error}") from None
    step.label = label  # what goes wrong once the run starts is named as the keys are
    return step


def _parameters(cls: type) -> set[str]:
    """Keyword arguments a step class accepts, through its whole constructor chain."""
    names: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        for parameter in inspect.signature(init).parameters.values():
            if parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY) and parameter.name != "self":
                names.add(parameter.name)
    names.discard("llm")
    if issubclass(cls, generation_steps.TechniqueStep):
        names |= set(cls.setting_keys())
    return names
