"""The README.md dataset card of a Hub folder: YAML front matter the Hub reads, and how the data was made.

Everything the body says comes from the store: the run records (technique, model, settings, seed, what
the quality gates removed, a pipeline's drawing) and the samples exported (counted as they stream past).
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import yaml

from tui import __version__
from tui.engine.export import PAIR_FORMAT
from tui.engine.quality_gates import identified_language

# The Hub's size buckets: (exclusive upper bound, label).
SIZE_CATEGORIES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
                   (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"))
# Rows whose language is identified: enough to name a dataset's languages, few enough to stay quick.
LANGUAGE_SAMPLE = 500
# A language is listed when at least this share of the identified rows is in it.
LANGUAGE_SHARE = 0.05
SAMPLING_KEYS = ("temperature", "top_p", "top_k", "min_p", "repeat_penalty", "max_tokens")


def size_category(rows: int) -> str:
    """The Hub's `size_categories` label for a dataset of `rows` rows."""
    return next((label for bound, label in SIZE_CATEGORIES if rows < bound), "n>1T")


@dataclass
class Provenance:
    """What the exported samples came from, noted one sample at a time (`note`) as the export streams."""

    seed: int = 0
    runs: Counter = field(default_factory=Counter)  # run id -> rows in this dataset
    techniques: Counter = field(default_factory=Counter)
    statuses: Counter = field(default_factory=Counter)
    edited: int = 0
    rows: int = 0
    language_texts: list[str] = field(default_factory=list)  # a seeded reservoir of LANGUAGE_SAMPLE texts

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def note(self, sample: dict[str, Any]) -> None:
        """Count a sample that made a row."""
        self.rows += 1
        self.runs[sample.get("run_id")] += 1
        self.techniques[sample.get("technique") or "unknown"] += 1
        self.statuses[sample.get("status", "new")] += 1
        self.edited += bool(sample.get("edited"))
        # A preference sample has a prompt and its responses instead of a conversation.
        messages = sample.get("conversation") or [*(sample.get("prompt") or []), *(sample.get("responses") or [])]
        text = " ".join(m.get("content") or "" for m in messages if m.get("role") != "system")
        if len(self.language_texts) < LANGUAGE_SAMPLE:
            self.language_texts.append(text)
        else:
            slot = self._rng.randrange(self.rows)
            if slot < LANGUAGE_SAMPLE:
                self.language_texts[slot] = text

    def languages(self) -> list[str]:
        """The ISO 639-1 codes of the languages the rows are in, most frequent first."""
        found = Counter(code for code in map(identified_language, self.language_texts) if code)
        total = sum(found.values())
        return [code for code, count in found.most_common() if count >= LANGUAGE_SHARE * total]


@dataclass
class CardFacts:
    """What the card says: the folder's files and counts, and where the data came from."""

    name: str
    license: str
    splits: dict[str, tuple[str, int]]  # split -> (file path inside the folder, rows)
    row_format: str
    test_size: float
    provenance: Provenance
    runs: dict[int, dict[str, Any]]  # the store's run records, by id
    store_statuses: Counter  # every sample in the store, by status
    exported_statuses: Iterable[str]
    left_out: dict[str, int] = field(default_factory=dict)  # reason -> samples not exported
    upload_command: str = ""


def upload_command(folder: Path) -> str:
    """The command that would publish `folder` as it is to a dataset repository named after it."""
    return f"huggingface-cli upload YOUR-NAME/{folder.resolve().name} {folder} . --repo-type dataset"


def front_matter(facts: CardFacts, languages: list[str]) -> dict[str, Any]:
    """The card's YAML metadata as the Hub reads it; `configs` names the data files of each split."""
    rows = sum(count for _, count in facts.splits.values())
    meta: dict[str, Any] = {"license": facts.license, "task_categories": ["text-generation"]}
    if languages:
        meta["language"] = languages
    meta["size_categories"] = [size_category(rows)]
    meta["tags"] = ["synthetic", "smolgen", *(["dpo"] if facts.row_format == PAIR_FORMAT else [])]
    meta["configs"] = [{"config_name": "default",
                        "data_files": [{"split": split, "path": path} for split, (path, _) in facts.splits.items()]}]
    return meta


def dataset_card(facts: CardFacts) -> str:
    """The README.md text: YAML front matter, then how the data was made, ending with the upload command."""
    languages = facts.provenance.languages()
    meta = yaml.safe_dump(front_matter(facts, languages), sort_keys=False, allow_unicode=True)
    body = [f"# {facts.name}", "", _summary(facts, languages), ""]
    body += _techniques(facts) + _models(facts) + _runs(facts) + _gates(facts) + _curation(facts) + _pipelines(facts)
    body += _usage(facts)
    return f"---\n{meta}---\n\n" + "\n".join(body) + "\n"


def _summary(facts: CardFacts, languages: list[str]) -> str:
    splits = ", ".join(f"{count:,} {split}" for split, (_, count) in facts.splits.items())
    said = f" in {', '.join(languages)}" if languages else " (no language identified with confidence)"
    return (f"Synthetic instruction data made with smolgen {__version__}, "
            f"on a local machine, with the models below. {facts.provenance.rows:,} rows{said} ({splits}, "
            f"a seeded shuffle with seed {facts.provenance.seed}), in the `{facts.row_format}` format, JSON Lines.")


def _runs_used(facts: CardFacts) -> list[tuple[int, dict[str, Any], int]]:
    return [(run_id, facts.runs.get(run_id, {}), rows) for run_id, rows in sorted(facts.provenance.runs.items(), key=_by_id)]


def _by_id(item: tuple[Any, int]) -> tuple[bool, int]:
    return item[0] is None, item[0] or 0


def _techniques(facts: CardFacts) -> list[str]:
    lines = ["## How it was made", "", "| technique | rows |", "|---|---:|"]
    lines += [f"| {name} | {rows:,} |" for name, rows in facts.provenance.techniques.most_common()]
    return [*lines, ""]


def _model_line(model: dict[str, Any]) -> str:
    if "servers" in model:
        template = f"; chat template {model['chat_template']}" if model.get("chat_template") else ""
        return f"`{model.get('name')}` served by {', '.join(model['servers'])}{template}"
    details = ", ".join(str(model[key]) for key in ("name", "quantization") if model.get(key))
    return f"`{model.get('file')}` (fingerprint `{model.get('fingerprint')}`; {details})"


def _run_models(run: dict[str, Any]) -> list[dict[str, Any]]:
    """The models a run used: a technique run's one, or each of a pipeline's steps' models."""
    if run.get("model"):
        return [run["model"]]
    return list(((run.get("summary") or {}).get("models") or {}).values())


def _models(facts: CardFacts) -> list[str]:
    seen = list(dict.fromkeys(_model_line(model) for _, run, _ in _runs_used(facts) for model in _run_models(run)))
    lines = ["### Models", ""]
    lines += [f"- {line}" for line in seen] or ["- not recorded by the runs that made these rows"]
    return [*lines, ""]


def _runs(facts: CardFacts) -> list[str]:
    lines = ["### Runs", "", "Templates, system prompts and sampling of each run that made rows here.", ""]
    for run_id, run, rows in _runs_used(facts):
        if not run:
            lines += [f"- {rows:,} rows from no recorded run", ""]
            continue
        what = f"pipeline `{run['pipeline']}`" if run.get("pipeline") else f"technique `{run.get('technique')}`"
        seed = f", seed {run['seed']}" if run.get("seed") is not None else ""
        lines.append(f"- run {run_id}: {what}, {rows:,} rows here, started {run.get('started')}, {run.get('status')}{seed}")
        if run.get("technique") == "magpie":
            lines.append("  - template: the model's own chat template (Magpie completes its pre-query)")
        for where, value in _settings(run.get("settings") or {}):
            lines.append(f"  - {where}: {value}")
    return [*lines, ""]


def _named_items(settings: Any) -> Iterable[tuple[Any, Any]]:
    """A settings table's items; a list's by position, or by name where its items are named (pipeline steps)."""
    if isinstance(settings, dict):
        return settings.items()
    if isinstance(settings, list):
        return ((item.get("name", index) if isinstance(item, dict) else index, item) for index, item in enumerate(settings))
    return ()


def _settings(settings: Any, path: str = "") -> list[tuple[str, str]]:
    """The settings a reader needs to remake the data: templates, system prompts and sampling, by where they are."""
    found: list[tuple[str, str]] = []
    for key, value in _named_items(settings):
        where = f"{path}.{key}" if path else str(key)
        if isinstance(value, dict) and "temperature" in value:
            found.append((where, ", ".join(f"{name} {value[name]}" for name in SAMPLING_KEYS if name in value)))
        elif isinstance(key, str) and "template" in key and isinstance(value, str):
            found.append((where, f"`{value}`"))
        elif isinstance(key, str) and key in ("system", "system_prompt", "system_prompts") and value:
            found.append((where, "; ".join(f"“{prompt}”" for prompt in _prompts(value))))
        elif isinstance(value, (dict, list)):
            found += _settings(value, where)
    return found


def _prompts(value: Any) -> list[str]:
    """System prompts as settings record them: a text, a list of texts, or a list of {prompt, weight}."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return _prompts(value.get("prompts") or value.get("prompt") or [])
    return [text for item in value for text in _prompts(item)] if isinstance(value, list) else []


def _gates(facts: CardFacts) -> list[str]:
    removed: Counter = Counter()
    switched_off: set[str] = set()
    for _, run, _ in _runs_used(facts):
        summary = run.get("summary") or {}
        removed.update(summary.get("failures") or {})
        for step in (summary.get("steps") or {}).values():
            removed.update(step.get("failures") or {})
            removed.update(step.get("rejected") or {})
        switched_off.update(where for where, on in _gate_switches(run.get("settings") or {}) if not on)
    lines = ["### Quality gates", "", "Samples the gates and checks removed while these runs made them (never stored as data):", ""]
    lines += [f"- {reason}: {count:,}" for reason, count in removed.most_common()] or ["- none removed"]
    if switched_off:
        lines += ["", "Switched off: " + ", ".join(sorted(switched_off)) + "."]
    return [*lines, ""]


def _gate_switches(settings: Any, path: str = "") -> list[tuple[str, bool]]:
    found: list[tuple[str, bool]] = []
    for key, value in _named_items(settings):
        where = f"{path}.{key}" if path else str(key)
        if isinstance(value, bool) and str(key).startswith("check_"):
            found.append((where, value))
        elif isinstance(value, (dict, list)):
            found += _gate_switches(value, where)
    return found


def _curation(facts: CardFacts) -> list[str]:
    store = ", ".join(f"{count:,} {status}" for status, count in facts.store_statuses.most_common())
    exported = ", ".join(f"{count:,} {status}" for status, count in facts.provenance.statuses.most_common())
    lines = ["### Curation", "", f"- the store held {store or 'no samples'}",
             f"- exported: the samples with status {', '.join(facts.exported_statuses)} ({exported or 'none'})",
             f"- edited by a person: {facts.provenance.edited:,}"]
    lines += [f"- left out: {count:,} {reason}" for reason, count in facts.left_out.items() if count]
    return [*lines, ""]


def _pipelines(facts: CardFacts) -> list[str]:
    drawings = list(dict.fromkeys(run["drawing"] for _, run, _ in _runs_used(facts) if run.get("drawing")))
    lines: list[str] = []
    for drawing in drawings:
        lines += ["### Pipeline", "", "```", drawing.rstrip("\n"), "```", ""]
    return lines


def _usage(facts: CardFacts) -> list[str]:
    return [
        "## Use", "", "```python", "from datasets import load_dataset", "",
        f'dataset = load_dataset("YOUR-NAME/{facts.name}")', "```", "",
        "## Publish", "", "Nothing has been uploaded. This folder is published as it is with:", "",
        "```sh", facts.upload_command, "```",
    ]
