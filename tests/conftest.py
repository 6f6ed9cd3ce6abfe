"""Shared fixtures: the real embedded model (loaded once), stores in temporary folders, the chapter's data."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "data"  # a copy of shared/data: the chapter's passage
SMOLGEN = [sys.executable, "-m", "tui"]


@pytest.fixture(scope="session")
def model():
    from tui.engine.model import Model

    return Model.load(n_ctx=2048)


@pytest.fixture
def store(tmp_path):
    from tui.engine.store import SampleStore

    with SampleStore(tmp_path / "store.json") as opened:
        yield opened


@pytest.fixture
def prompts():
    from tui.engine.prompts import PromptLibrary

    return PromptLibrary()


@pytest.fixture
def chapter_passage() -> dict[str, str]:
    """The chapter's "From prompt to data" passage, in English and Vietnamese."""
    return {lang: (DATA / f"prompt_to_data.{lang}.txt").read_text(encoding="utf-8").strip() for lang in ("en", "vi")}


def run_smolgen(*args: str, cwd: Path, timeout: float = 300, **kwargs) -> subprocess.CompletedProcess:
    """Run the real `smolgen` command in a subprocess, as a user would."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run([*SMOLGEN, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env, **kwargs)
