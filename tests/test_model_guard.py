"""The guard behind `pytest -m "not model"`: a test without the `model` mark cannot load the real model,
in its own process or in a `smolgen` it starts, and the refusal fails the test (tests/model_guard)."""

import os
from pathlib import Path

import pytest

from tests.conftest import run_smolgen
from tests.model_guard.sitecustomize import LOADS_LOG
from tui.engine.errors import ModelFileError
from tui.engine.model import Model, load_tokenizer


@pytest.fixture
def refused():
    """The guard's record of refused loads, read and then emptied: these tests are refused on purpose."""
    log = Path(os.environ[LOADS_LOG])
    yield log
    log.write_text("", encoding="utf-8")


def test_loading_the_model_in_the_tests_process_is_refused(refused):
    with pytest.raises(ModelFileError, match="a test without the `model` mark tried to load the real model"):
        Model.load(n_ctx=256, n_threads=1)
    assert "llama_model_load_from_file" in refused.read_text(encoding="utf-8")


def test_loading_the_model_in_a_smolgen_it_starts_is_refused(tmp_path, refused):
    result = run_smolgen("generate", "magpie", "--num", "1", "--max-tokens", "4", cwd=tmp_path)
    assert result.returncode != 0 and "without the `model` mark" in result.stderr
    assert "generate magpie --num 1" in refused.read_text(encoding="utf-8")


def test_a_models_vocabulary_may_still_be_read():
    count_tokens = load_tokenizer()  # a token counter reads the vocabulary only: no weights, no arithmetic
    assert count_tokens("What is the purpose of the Smol Course?") > 5
