"""The status bar: the model (loading, ready with its metadata or its servers, or why it failed) and the store."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import ProgressBar, Static

from tui.engine.language_model import LanguageModel
from tui.engine.model_file import ModelInfo

if TYPE_CHECKING:
    from tui.app.backend import ModelRequest


def model_names(info: ModelInfo) -> str:
    """The file's name, which the person chose, then the name its metadata gives (often a training tag)."""
    tagged = info.name if info.name not in (info.path.name, info.path.stem) else ""
    return f"{info.path.name} ({tagged})" if tagged else info.path.name


def describe_model(info: ModelInfo, n_ctx: int | None = None, n_threads: int | None = None) -> str:
    """File and metadata names · parameters · quantization · context, as the status bar and the picker show it."""
    context = f"ctx {n_ctx:,}" if n_ctx else f"trained ctx {info.trained_context:,}"
    threads = f" · {n_threads} thread{'s' if n_threads != 1 else ''}" if n_threads else ""
    return f"{model_names(info)} · {info.parameters_label} · {info.quantization} · {context}{threads}"


class StatusBar(Horizontal):
    """One line above the footer."""

    DEFAULT_CSS = """
    StatusBar { height: 1; background: $panel; padding: 0 1; }
    StatusBar #model-status { width: 1fr; height: 1; text-wrap: nowrap; text-overflow: ellipsis; }
    StatusBar #model-progress { width: 22; margin-left: 1; }
    StatusBar #store-status { width: auto; margin-left: 1; color: $text-muted; }
    StatusBar.-failed #model-status { color: $error; }
    """

    def __init__(self, store_name: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.store_name = store_name

    def compose(self) -> ComposeResult:
        yield Static("Model: starting…", id="model-status", markup=False)
        yield ProgressBar(total=None, show_eta=False, show_percentage=True, id="model-progress")
        yield Static(self.store_name, id="store-status", markup=False)

    def _model_status(self, text: str, loading: bool, failed: bool = False) -> None:
        self.query_one("#model-status", Static).update(text, layout=False)  # its box is the bar's: no new layout
        progress = self.query_one("#model-progress", ProgressBar)
        progress.display = loading
        if not loading:  # a bar without a total animates, 15 wake-ups a second even while hidden
            progress.update(total=1, progress=1)
        self.set_class(failed, "-failed")

    def model_loading(self, info: ModelInfo | None) -> None:
        name = f"{info.path.name} ({info.size_bytes / 1e6:.0f} MB)" if info else "the model"
        self._model_status(f"Loading {name}…", loading=True)
        self.query_one("#model-progress", ProgressBar).update(total=None, progress=0)

    def model_load_progress(self, share: float) -> None:
        """llama.cpp's own count of the weights loaded; the bar pulses until the first report."""
        self.query_one("#model-progress", ProgressBar).update(total=100, progress=round(share * 100))

    def servers_connecting(self, request: ModelRequest) -> None:
        if request.local_slots is not None:
            text = f"Starting llama-server with {request.local_slots} slots on 127.0.0.1…"
        else:
            urls = request.servers.urls if request.servers is not None else []
            text = f"Connecting to {urls[0]}…" if len(urls) == 1 else f"Connecting to {len(urls)} servers…"
        self._model_status(text, loading=True)
        self.query_one("#model-progress", ProgressBar).update(total=None, progress=0)

    def model_ready(self, model: LanguageModel) -> None:
        """A GGUF's metadata; for servers, the model's name, where it runs and where its chat template came from."""
        info = getattr(model, "info", None)
        text = describe_model(info, model.n_ctx, model.n_threads) if info is not None else model.label
        self._model_status(text, loading=False)

    def model_failed(self, message: str) -> None:
        self._model_status(f"No model: {message} · ctrl+o opens another", loading=False, failed=True)
