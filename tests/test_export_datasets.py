"""Exports read by Hugging Face `datasets` itself, offline: an `export --format hf` folder through
`load_dataset(DIR)` and a dpo file through `load_dataset("json", ...)`. `datasets` is a test-only
dependency (the `interop` extra, installed by `make test`); without it these tests say so and skip."""

from __future__ import annotations

import pytest

from tests.conftest import run_cli
from tests.test_export_hub import _store
from tests.test_preferences import PROMPT, _store_of_pairs

# datasets (with pyarrow and pandas) takes most of a second to import: the tests share one xdist worker's import.
pytestmark = pytest.mark.xdist_group("datasets")


@pytest.fixture
def datasets(tmp_path_factory, monkeypatch):
    """The library, offline, its cache in a temporary folder (its settings are read when it is imported)."""
    cache = tmp_path_factory.mktemp("hf-cache")
    for name, value in (("HF_HUB_OFFLINE", "1"), ("HF_DATASETS_OFFLINE", "1"), ("HF_HOME", str(cache)),
                        ("HF_DATASETS_CACHE", str(cache / "datasets"))):
        monkeypatch.setenv(name, value)
    return pytest.importorskip("datasets", reason="datasets is not installed (pip install -e '.[interop]', as make test does)")


def test_a_hub_folder_loads_with_load_dataset_as_it_is(tmp_path, datasets):
    _store(tmp_path)
    result = run_cli("export", "--format", "hf", "--out", "ds", "--test-size", "0.25", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    loaded = datasets.load_dataset(str(tmp_path / "ds"), cache_dir=str(tmp_path / "cache"))
    assert sorted(loaded) == ["test", "train"]
    assert (loaded["train"].num_rows, loaded["test"].num_rows) == (15, 5)  # 20 accepted rows, a quarter for testing
    assert loaded["train"].column_names == ["messages"]
    first = loaded["train"][0]["messages"]
    assert [message["role"] for message in first] == ["user", "assistant"] and first[1]["content"].endswith("step by step.")
    every = [row["messages"][0]["content"] for split in ("train", "test") for row in loaded[split]]
    assert "Edited by hand: how do I compute the area of a square?" in every and "Rejected one?" not in every


def test_a_dpo_file_loads_as_trl_reads_preference_pairs(tmp_path, datasets):
    _store_of_pairs(tmp_path)
    assert run_cli("export", "--format", "dpo", "--out", "prefs.jsonl", cwd=tmp_path).returncode == 0
    pairs = datasets.load_dataset("json", data_files=str(tmp_path / "prefs.jsonl"), split="train", cache_dir=str(tmp_path / "cache"))
    assert pairs.num_rows == 2 and sorted(pairs.column_names) == ["chosen", "prompt", "rejected"]
    assert pairs[0]["prompt"] == PROMPT
    assert pairs[0]["chosen"] == [{"role": "assistant", "content": "Four."}]
    assert pairs[0]["rejected"] == [{"role": "assistant", "content": "Five."}]


def test_a_hub_folder_of_pairs_loads_with_load_dataset(tmp_path, datasets):
    _store_of_pairs(tmp_path)
    assert run_cli("export", "--format", "hf", "--rows", "dpo", "--out", "ds", "--test-size", "0.5", cwd=tmp_path).returncode == 0
    loaded = datasets.load_dataset(str(tmp_path / "ds"), cache_dir=str(tmp_path / "cache"))
    assert {split: loaded[split].num_rows for split in loaded} == {"train": 1, "test": 1}
    assert sorted(loaded["train"].column_names) == ["chosen", "prompt", "rejected"]
