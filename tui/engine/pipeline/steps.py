"""Pipeline steps: sources that yield rows, model steps that add columns, and plain row operations.

Vocabulary from distilabel: a step reads its `inputs` and writes its `outputs`; `input_mappings`
({step input: row column}) and `output_mappings` ({step output: row column}) rename them, so one
step's `generation` can become the next step's `instruction`.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import Any, ClassVar, Iterable, Iterator

from tui.engine.errors import BadInput, GenerationFailed
from tui.engine.llm import LlamaCppLLM
from tui.engine.pipeline.building import current_pipeline
from tui.engine.seeds import read_seed_file

Row = dict[str, Any]


class StepProblem(BadInput):
    """Bad input in a step's keys, after the step's name; a pipeline file names the step its own way,
    before `problem`."""

    def __init__(self, step: str, problem: str):
        super().__init__(f"{step}: {problem}")
        self.problem = problem


@contextlib.contextmanager
def named_by(step: "Step") -> Iterator[None]:
    """Bad input from a step's own work once the run starts (its template, its response servers, what it needs
    of its model), as a pipeline file names the step's bad keys: after the step's label."""
    try:
        yield
    except BadInput as error:
        raise error.located(f"{step.label}:") from None


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class Step:
    """A node of a pipeline. Subclasses set `kind`, `inputs`, `outputs` and implement `process`."""

    kind: ClassVar[str] = "step"
    uses_model: ClassVar[bool] = False
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()

    def __init__(
        self,
        name: str | None = None,
        input_mappings: dict[str, str] | None = None,
        output_mappings: dict[str, str] | None = None,
    ):
        self.input_mappings = dict(input_mappings or {})
        self.output_mappings = dict(output_mappings or {})
        self.pipeline = current_pipeline()
        self.name = name or self.pipeline.unique_name(_snake(type(self).__name__))
        # How a bad-input line names the step; a pipeline file names it its own way (`FILE: step 2`).
        self.label = f"step {self.name}"
        self.pipeline.add_step(self)

    def __rshift__(self, other: "Step") -> "Step":
        """`a >> b` runs b on a's rows; returns b so that chains read left to right."""
        self.pipeline.connect(self, other)
        return other

    @property
    def reads(self) -> tuple[str, ...]:
        """The row columns this step reads, after input mappings."""
        return tuple(self.input_mappings.get(column, column) for column in self.inputs)

    @property
    def writes(self) -> tuple[str, ...]:
        """The row columns this step writes, after output mappings."""
        return tuple(self.output_mappings.get(column, column) for column in self.outputs)

    def settings(self) -> dict[str, Any]:
        """The settings that decide this step's output (they enter the cache signature)."""
        return {}

    def cache_settings(self) -> dict[str, Any]:
        """The settings that enter the cache signature (cosmetic ones, like row counts, stay out)."""
        return self.settings()

    def config(self) -> dict[str, Any]:
        """The step as recorded with a pipeline's run: its type, name, settings and mappings."""
        table: dict[str, Any] = {"name": self.name, "type": self.kind, **self.settings()}
        if self.input_mappings:
            table["input_mappings"] = self.input_mappings
        if self.output_mappings:
            table["output_mappings"] = self.output_mappings
        return table

    def view(self, row: Row) -> Row:
        """The row as the step sees it: its inputs under their own names, other columns as they are."""
        seen = dict(row)
        for column in self.inputs:
            source = self.input_mappings.get(column, column)
            if source in row:
                seen[column] = row[source]
        return seen

    def merge(self, row: Row, produced: Row) -> Row:
        """The row after this step: `produced` renamed by the output mappings, added to `row`."""
        return {**row, **{self.output_mappings.get(k, k): v for k, v in produced.items()}}

    def process(self, row: Row) -> list[Row]:
        """Rows that follow `row` (already merged). Non-model steps implement this."""
        raise NotImplementedError


class SourceStep(Step):
    """The first step: it yields the seed rows, cycled to `limit` rows when one is set."""

    limit: int | None = None

    def load_rows(self) -> list[Row]:
        raise NotImplementedError

    def rows(self) -> list[Row]:
        # Output mappings rename the source's columns too (store seeds' `text` → `instruction`).
        rows = [self.merge({}, row) for row in self.load_rows()]
        if self.limit is None or not rows:
            return rows
        # A repeated seed gets an index so it is a new row to the cache, not a replay of the first.
        return [{**rows[i % len(rows)], **({"_row": i} if i >= len(rows) else {})} for i in range(self.limit)]


class LoadDataFromDicts(SourceStep):
    """Rows given inline, as in the chapter's example."""

    kind = "load_data_from_dicts"

    def __init__(self, data: Iterable[Row], **kwargs: Any):
        self.data = [dict(row) for row in data]
        if not self.data or not all(isinstance(row, dict) for row in self.data):
            raise BadInput("load_data_from_dicts: `data` must be a non-empty list of tables (dicts)")
        super().__init__(**kwargs)
        self.outputs = tuple(dict.fromkeys(k for row in self.data for k in row))

    def load_rows(self) -> list[Row]:
        return [dict(row) for row in self.data]

    def settings(self) -> dict[str, Any]:
        return {"data": self.data}


class LoadDataFromFile(SourceStep):
    """Rows from a seed file (.txt, .jsonl, .csv), read when the step is built so errors come first.

    A line of a .txt file (or a JSON string) becomes `{text_column: line}`.
    """

    kind = "load_data_from_file"

    def __init__(self, path: str | Path, text_column: str = "text", **kwargs: Any):
        self.path = Path(path)
        self.text_column = text_column
        super().__init__(**kwargs)
        self.data = [self._named(row) for row in read_seed_file(self.path).rows]
        self.outputs = tuple(dict.fromkeys(k for row in self.data for k in row))

    def _named(self, row: Row) -> Row:
        if set(row) == {"text"} and self.text_column != "text":
            return {self.text_column: row["text"]}
        return row

    def load_rows(self) -> list[Row]:
        return [dict(row) for row in self.data]

    def settings(self) -> dict[str, Any]:
        return {"path": str(self.path), "text_column": self.text_column}


class LoadSeedsFromStore(SourceStep):
    """The store's selected seeds (the ones the app marks for the next run)."""

    kind = "load_seeds_from_store"

    def __init__(self, columns: Iterable[str] = ("text",), **kwargs: Any):
        super().__init__(**kwargs)
        self.outputs = tuple(columns)
        self.store_rows: list[Row] = []  # filled by the executor, which owns the store

    def load_rows(self) -> list[Row]:
        return [dict(row) for row in self.store_rows]

    def settings(self) -> dict[str, Any]:
        return {"columns": list(self.outputs)}


class KeepColumns(Step):
    """Keep only the listed columns."""

    kind = "keep_columns"

    def __init__(self, columns: Iterable[str], **kwargs: Any):
        super().__init__(**kwargs)
        self.inputs = tuple(columns)
        self.outputs = self.inputs

    def process(self, row: Row) -> list[Row]:
        return [{column: row[column] for column in self.reads}]

    def settings(self) -> dict[str, Any]:
        return {"columns": list(self.inputs)}


class RenameColumns(Step):
    """Rename columns: `{"old": "new"}`."""

    kind = "rename_columns"

    def __init__(self, columns: dict[str, str], **kwargs: Any):
        super().__init__(**kwargs)
        self.renames = dict(columns)
        self.inputs = tuple(self.renames)
        self.outputs = tuple(self.renames.values())

    def process(self, row: Row) -> list[Row]:
        renamed = {k: v for k, v in row.items() if k not in self.renames}
        renamed.update({new: row[old] for old, new in self.renames.items()})
        return [renamed]

    def settings(self) -> dict[str, Any]:
        return {"columns": self.renames}


class ExpandColumns(Step):
    """One row per item of a list column (SelfInstruct's `instructions` → one `instruction` each)."""

    kind = "expand_columns"

    def __init__(self, column: str, into: str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.column = column
        self.into = into or column
        self.inputs = (column,)
        self.outputs = (self.into,)

    def process(self, row: Row) -> list[Row]:
        items = row.get(self.reads[0])
        if not isinstance(items, list):
            items = [items]
        rest = {k: v for k, v in row.items() if k != self.reads[0]}
        return [{**rest, self.into: item} for item in items if item not in (None, "")]

    def settings(self) -> dict[str, Any]:
        return {"column": self.column, "into": self.into}


class FilterRows(Step):
    """Drop rows that carry a flag (e.g. `truncated`), or keep only those that do."""

    kind = "filter_rows"

    def __init__(self, flag: str, keep: bool = False, **kwargs: Any):
        super().__init__(**kwargs)
        self.flag = flag
        self.keep = keep

    def process(self, row: Row) -> list[Row]:
        has_flag = self.flag in (row.get("flags") or [])
        return [row] if has_flag == self.keep else []

    def settings(self) -> dict[str, Any]:
        return {"flag": self.flag, "keep": self.keep}


class GenerationStep(Step):
    """A step that calls the model through a technique; its outputs are cached by signature."""

    uses_model = True

    def __init__(self, llm: LlamaCppLLM | None = None, max_retries: int = 2, **kwargs: Any):
        super().__init__(**kwargs)
        self.llm = llm
        if max_retries < 0:
            raise StepProblem(self.name, f"max_retries={max_retries} must be 0 or more")
        self.max_retries = max_retries

    def technique(self) -> Any:
        """The engine technique this step runs."""
        raise NotImplementedError

    def check_before_run(self, model: Any) -> None:
        """What the step needs, checked before the run is recorded; of its model when it is at hand (None: a GGUF
        not loaded yet, checked once it loads)."""
        if model is not None:
            self.check_model(model)

    def check_model(self, model: Any) -> None:
        """What the step needs of its model; BadInput when the model lacks it."""

    def template_text(self, prompts: Any) -> str:
        """The text of the prompt templates this step renders (it enters the cache signature)."""
        return ""

    def produced(self, sample: Row) -> Row:
        """The step's output columns, taken from the technique's sample."""
        raise NotImplementedError

    def technique_row(self, row: Row) -> Row:
        """The row handed to the technique: the whole row, so templates can use any column."""
        return self.view(row)

    def collect(self, samples: list[Row]) -> Row:
        """The step's output columns from every sample the technique made for the row (most make one);
        a sample a gate failed (a Magpie user turn cut off) fails the row with its reason."""
        last = samples[-1]
        if last.get("status") == "failed":
            raise GenerationFailed(last["failure"]["reason"], last["failure"]["message"])
        return self.produced(last)
