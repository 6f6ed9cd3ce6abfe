"""Compare pairs: the responses of a preference sample side by side (stacked on a narrow terminal), and
the better one picked by a key.

Two responses: ← or 1 picks the left, → or 2 the right. Three or four: all are shown, numbered, and a
person presses the best, then the worst (the same number again takes the first back), which make the
pair. = calls it a tie, s skips, u undoes the last pick or skip (again and again, back to when the
screen opened). A pick is written to the store at once and overrides the judge's; the next sample is
on screen at the same keypress.
"""

from __future__ import annotations

import time
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container, VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from tui.app import fast_paint
from tui.app.screens.breakpoints import take_breakpoint_class
from tui.app.store_changes import offered, saving
from tui.engine.preferences import Pick, comparable, compared_pair, rating_score
from tui.engine.store import SampleStore
from tui.engine.techniques.preference import MAX_RESPONSES

PICK_WORDS = {"left": "the left", "right": "the right", "tie": "a tie"}


def prompt_text(sample: dict[str, Any]) -> Text:
    """The prompt both responses answer: each message under its role."""
    text = Text()
    for message in sample.get("prompt") or []:
        text.append(f"{message['role']}: ", style="bold")
        text.append(f"{message['content']}\n")
    text.rstrip()
    return text


def response_details(sample: dict[str, Any], index: int) -> str:
    """What made one response and how it was rated, for the line under its panel; among more than two, the worst
    of the pair is named too."""
    response = sample["responses"][index]
    details = []
    if response.get("model"):
        details.append(str(response["model"]))
    if response.get("temperature") is not None:
        details.append(f"T {response['temperature']:g}")
    if response.get("system_prompt"):
        details.append("own system prompt")
    score = rating_score(response.get("rating"))
    details.append(f"rated {score:g}" if score is not None else "not rated")
    whose = "your" if sample.get("decided_by") == "human" else "judge's"
    if sample.get("chosen") == index:
        details.append(f"{whose} pick")
    elif sample.get("rejected") == index and len(sample["responses"]) > 2:
        details.append(f"{whose} worst")
    return " · ".join(details)


def shown_order(sample: dict[str, Any]) -> list[int]:
    """The responses in their panels: two as the compared pair (sides alternating), more in their own order."""
    count = len(sample["responses"])
    return list(compared_pair(sample)) if count == 2 else list(range(count))


class CompareScreen(Screen):
    """Pick the better response of each preference pair, by single keys."""

    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    DEFAULT_CSS = """
    CompareScreen #prompt-box { height: auto; max-height: 30%; border: round $primary-muted; padding: 0 1; }
    CompareScreen #pair { height: 1fr; layout: horizontal; }
    CompareScreen.-narrow #pair { layout: vertical; }
    CompareScreen .response { width: 1fr; height: 1fr; border: round $primary-muted; padding: 0 1; }
    CompareScreen .response.-unused { display: none; }
    CompareScreen .response.-best { border: round $success; }
    CompareScreen.-done #pair { display: none; }
    CompareScreen #progress { height: 1; padding: 0 1; color: $text-muted; }
    """
    BINDINGS = [
        Binding("left,1", "number(1)", "Left better", id="compare.left",
                tooltip="The left (or upper) response is better; among more than two, response 1"),
        Binding("right,2", "number(2)", "Right better", id="compare.right",
                tooltip="The right (or lower) response is better; among more than two, response 2"),
        Binding("3", "number(3)", "Response 3", id="compare.third", show=False,
                tooltip="Among three or four responses: response 3 (press the best, then the worst)"),
        Binding("4", "number(4)", "Response 4", id="compare.fourth", show=False,
                tooltip="Among four responses: response 4 (press the best, then the worst)"),
        Binding("equals_sign", "pick('tie')", "Tie", id="compare.tie", tooltip="Neither is better: no pair is exported"),
        Binding("s", "skip", "Skip", id="compare.skip", tooltip="Leave this pair as it is and show the next"),
        Binding("u", "undo", "Undo", id="compare.undo", tooltip="Undo the last pick or skip, again and again"),
        Binding("down", "scroll(1)", "Scroll down", id="compare.scroll_down", show=False, tooltip="Scroll the responses down"),
        Binding("up", "scroll(-1)", "Scroll up", id="compare.scroll_up", show=False, tooltip="Scroll the responses up"),
        Binding("escape", "back", "Back", id="compare.back", tooltip="Back to where you came from"),
    ]

    def __init__(self, store: SampleStore, sample_id: int | None = None) -> None:
        """`sample_id`: the pair to start on; by default the first a person has not picked."""
        super().__init__(id="compare")
        fast_paint.lay_out_once_per_change(self)
        self.store = store
        self.samples = {s["id"]: s for s in store.list_samples() if comparable(s)}
        self.pair_ids = list(self.samples)
        self.index = self._start(sample_id)
        self.history: list[tuple[int, dict[str, Any] | None]] = []  # (index, the sample before a pick; None for a skip)
        self.shown_at: float | None = None  # when the current pair was last drawn (the benchmark reads it)
        self.best: int | None = None  # among more than two responses: the one pressed as the best, until the worst is

    def _start(self, sample_id: int | None) -> int:
        if sample_id in self.samples:
            return self.pair_ids.index(sample_id)
        return next((i for i, s in enumerate(self.samples.values()) if s.get("decided_by") != "human"), 0)

    def compose(self) -> ComposeResult:
        take_breakpoint_class(self)
        yield fast_paint.header()
        with VerticalScroll(id="prompt-box", can_focus=False) as prompt:
            prompt.border_title = "Prompt"
            yield Static("", id="prompt", markup=False)
        with Container(id="pair"):
            for panel in range(MAX_RESPONSES):
                with VerticalScroll(id=f"panel-{panel}-box", classes="response", can_focus=False):
                    yield Static("", id=f"panel-{panel}", markup=False)
        yield Static("", id="progress", markup=False)
        yield fast_paint.footer()

    def on_mount(self) -> None:
        self.show_pair()

    @property
    def current(self) -> dict[str, Any] | None:
        return self.samples[self.pair_ids[self.index]] if self.index < len(self.pair_ids) else None

    def show_pair(self) -> None:
        """Draw the current sample's responses (or say that none is left) and the progress line."""
        sample = self.current
        self.best = None
        self.set_class(sample is None, "-done")
        if sample is None:
            seen = f"All {len(self.pair_ids)} pairs seen" if self.pair_ids else "No preference pairs yet (smolgen generate preference)"
            self.query_one("#prompt", Static).update(f"{seen}: u undoes the last, escape goes back.")
        else:
            self.query_one("#prompt", Static).update(prompt_text(sample))
            order = shown_order(sample)
            for panel in range(MAX_RESPONSES):
                box = self.query_one(f"#panel-{panel}-box", VerticalScroll)
                box.set_class(panel >= len(order), "-unused")
                box.set_class(False, "-best")
                if panel >= len(order):
                    continue
                # The same keys when stacked; among more than two, each response's own number.
                box.border_title = ("← or 1", "→ or 2")[panel] if len(order) == 2 else str(order[panel] + 1)
                box.border_subtitle = response_details(sample, order[panel])
                if box.scroll_y:
                    box.scroll_home(animate=False)
                self.query_one(f"#panel-{panel}", Static).update(Text(sample["responses"][order[panel]]["content"]))
        self._show_progress()
        self.call_after_refresh(self._mark_shown)

    def _show_progress(self) -> None:
        sample = self.current
        picked = sum(1 for s in self.samples.values() if s.get("decided_by") == "human")
        line = f"{picked} of {len(self.pair_ids)} pairs picked"
        if sample is not None:
            line += f" · pair {self.index + 1} (#{sample['id']})"
            count = len(sample["responses"])
            if count > 2 and self.best is None:
                line += f" · {count} responses: press the best, then the worst (1-{count})"
            elif count > 2:
                others = ", ".join(str(n + 1) for n in range(count) if n != self.best)
                line += f" · {self.best + 1} is the best: now the worst ({others}; {self.best + 1} again takes it back)"
        self.query_one("#progress", Static).update(line)

    def _mark_shown(self) -> None:
        self.shown_at = time.perf_counter()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("pick", "number", "skip", "scroll"):
            return self.current is not None and offered(self.store, "pick" if action == "number" else action)
        if action == "undo":
            return bool(self.history)
        return True

    def action_number(self, number: int) -> None:
        """Two responses: the left (1) or the right (2) is better. More: the best, then the worst, by number."""
        sample = self.current
        if sample is None:
            return
        count = len(sample["responses"])
        if count == 2:
            self.action_pick("left" if number == 1 else "right")
            return
        index = number - 1
        if index >= count:
            return
        if self.best is None or self.best == index:
            self.best = None if self.best == index else index
            for panel in range(count):
                self.query_one(f"#panel-{panel}-box").set_class(panel == self.best, "-best")
            self._show_progress()
            return
        self.action_pick((self.best, index))

    def action_pick(self, pick: Pick) -> None:
        sample = self.current
        if sample is None:
            return
        with saving(self):
            self.samples[sample["id"]] = self.store.pick_preference(sample["id"], pick)
            self._move_on(sample)

    def action_skip(self) -> None:
        if self.current is not None:
            self._move_on(None)

    def _move_on(self, before: dict[str, Any] | None) -> None:
        """Show the next pair, remembering how to undo this one (`before`: the sample before a pick; None: a skip)."""
        keys_before = self._keys_offered()
        self.history.append((self.index, before))
        self.index += 1
        self.show_pair()
        self._refresh_keys(keys_before)

    def _keys_offered(self) -> tuple[bool, bool]:
        return self.current is not None, bool(self.history)

    def _refresh_keys(self, before: tuple[bool, bool]) -> None:
        # Only when a key comes or goes: the footer redrawn at every pair doubled a pick's time.
        if self._keys_offered() != before:
            self.refresh_bindings()

    def action_undo(self) -> None:
        if not self.history:
            return
        index, before = self.history[-1]
        keys_before = self._keys_offered()
        with saving(self):
            if before is not None:
                self.store.restore_sample(before)
                self.samples[before["id"]] = before
            self.history.pop()
            self.index = index
            self.show_pair()
            self._refresh_keys(keys_before)
            self.notify(f"Undid the {'pick' if before is not None else 'skip'} of pair #{self.pair_ids[index]}.")

    def action_scroll(self, lines: int) -> None:
        for box in self.query(".response"):
            box.scroll_relative(y=lines, animate=False)

    def action_back(self) -> None:
        self.app.pop_screen()
