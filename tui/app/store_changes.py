"""The app's changes to the store: not offered while the store is read-only, and shown, not raised, when a
write fails (a full disk): the store is then exactly as before that change, nothing stored is lost."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from textual.dom import DOMNode

from tui.engine.errors import StoreUnwritable
from tui.engine.store import SampleStore

# Actions of the app, the seeds pane, review and stats that change the store.
CHANGING_ACTIONS = frozenset(
    {"generate", "add_seed", "edit_seed", "delete_seed", "import_seeds", "toggle_all", "set_status", "bulk", "edit", "keep_one", "pick"}
)


def offered(store: SampleStore, action: str) -> bool:
    """Whether a key's action is offered: a read-only store offers none that would change it."""
    return not (store.read_only and action in CHANGING_ACTIONS)


@contextlib.contextmanager
def saving(node: DOMNode) -> Iterator[None]:
    """Run a change to the store and what shows it; a write that fails skips the rest and says why."""
    try:
        yield
    except StoreUnwritable as error:
        node.notify(f"Not saved: {error}", severity="error", timeout=10, markup=False)
