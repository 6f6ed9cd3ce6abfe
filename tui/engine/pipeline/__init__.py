"""Pipelines in the chapter's vocabulary: steps chained with `>>`, columns mapped, outputs cached.

    from tui.engine.pipeline import LlamaCppLLM, LoadDataFromDicts, Pipeline, TextGeneration

    llm = LlamaCppLLM()
    with Pipeline() as pipeline:
        data = LoadDataFromDicts(data=[{"instruction": "Generate a short question about the Hugging Face Smol-Course."}])
        gen_a = TextGeneration(llm=llm, output_mappings={"generation": "instruction"})
        gen_b = TextGeneration(llm=llm, output_mappings={"generation": "response"})
        data >> gen_a >> gen_b
    summary = pipeline.run()
"""

from tui.engine.llm import LlamaCppLLM
from tui.engine.pipeline.generation_steps import (
    EvolInstruct,
    InstructionResponse,
    Judge,
    Magpie,
    MagpieGenerator,
    PreferencePairs,
    SelfInstruct,
    TextGeneration,
)
from tui.engine.pipeline.graph import Pipeline
from tui.engine.pipeline.steps import (
    ExpandColumns,
    FilterRows,
    KeepColumns,
    LoadDataFromDicts,
    LoadDataFromFile,
    LoadSeedsFromStore,
    RenameColumns,
)

__all__ = [
    "EvolInstruct",
    "ExpandColumns",
    "FilterRows",
    "InstructionResponse",
    "Judge",
    "KeepColumns",
    "LlamaCppLLM",
    "LoadDataFromDicts",
    "LoadDataFromFile",
    "LoadSeedsFromStore",
    "Magpie",
    "MagpieGenerator",
    "Pipeline",
    "PreferencePairs",
    "RenameColumns",
    "SelfInstruct",
    "TextGeneration",
]
