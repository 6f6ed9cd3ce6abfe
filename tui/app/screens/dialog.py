"""The look every modal dialog of the app shares: a bordered box in the middle of the screen."""

from __future__ import annotations

from typing import Any, TypeVar

from textual.screen import ModalScreen

from tui.app import fast_paint

ResultType = TypeVar("ResultType")


class Dialog(ModalScreen[ResultType]):
    """A modal screen whose content sits in a container with the class `dialog`."""

    DEFAULT_CSS = """
    Dialog { align: center middle; }
    Dialog .dialog {
        width: 90; max-width: 95%; height: auto; max-height: 95%; padding: 0 1;
        border: thick $primary; background: $surface;
    }
    Dialog .hint { color: $text-muted; }
    Dialog .problem { color: $error; height: auto; }
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        fast_paint.lay_out_once_per_change(self)
