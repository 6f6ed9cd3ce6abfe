"""Drawing a pipeline with no network: boxes and arrows as text, or Mermaid source."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tui.engine.pipeline.executor import StepCounts
    from tui.engine.pipeline.graph import Pipeline
    from tui.engine.pipeline.steps import Step


def _columns(step: "Step", direction: str) -> str:
    """`in: a, b` or `out: generation → instruction`, showing each mapping."""
    if direction == "in":
        names, mappings = step.inputs, step.input_mappings
        shown = [f"{mappings[n]} → {n}" if n in mappings else n for n in names]
    else:
        names, mappings = step.outputs, step.output_mappings
        shown = [f"{n} → {mappings[n]}" if n in mappings else n for n in names]
    return f"{direction}: {', '.join(shown) if shown else '—'}"


def step_lines(step: "Step", counts: "StepCounts | None" = None) -> list[str]:
    """The text inside one step's box."""
    lines = [f"{step.name}  ({step.kind})", _columns(step, "in"), _columns(step, "out")]
    if counts is not None:
        lines.append(f"done {counts.generated} · cached {counts.cached} · failed {counts.failed} · rows {counts.rows}")
    return lines


def draw_text(pipeline: "Pipeline", counts: "dict[str, StepCounts] | None" = None) -> str:
    """The chain as boxes joined by arrows, with live counts when given."""
    steps = pipeline.ordered()
    boxes = [step_lines(step, (counts or {}).get(step.name) if counts is not None else None) for step in steps]
    width = max(len(line) for box in boxes for line in box) + 2
    out = [f"{pipeline.name}" + (f" — {pipeline.description}" if pipeline.description else "")]
    for index, box in enumerate(boxes):
        out.append("┌" + "─" * width + "┐")
        out.extend("│ " + line.ljust(width - 1) + "│" for line in box)
        out.append("└" + "─" * width + "┘")
        if index < len(boxes) - 1:
            middle = width // 2 + 1
            out.append(" " * middle + "│")
            out.append(" " * middle + "▼")
    return "\n".join(out)


def draw_mermaid(pipeline: "Pipeline") -> str:
    """Mermaid flowchart source: one node per step, edges labelled with the columns handed on."""
    steps = pipeline.ordered()
    lines = ["flowchart TD"]
    for index, step in enumerate(steps):
        label = "<br/>".join(_escape(line) for line in step_lines(step))
        lines.append(f'    s{index}["{label}"]')
    for index in range(len(steps) - 1):
        handed = ", ".join(steps[index].writes) or "rows"
        lines.append(f'    s{index} -->|"{_escape(handed)}"| s{index + 1}')
    return "\n".join(lines) + "\n"


def _escape(text: str) -> str:
    return text.replace('"', "#quot;")
