"""GGUF models found where people keep them: fake Hugging Face, LM Studio, llama.cpp and Ollama stores in
a temporary home (the variables pointing there), tiny GGUF files written with `gguf`, no network."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import run_cli
from tui.engine.model_catalog import find_models, list_models, model_folders


def write_gguf(path: Path, name: str = "Tiny", chat_template: str | None = "{{ messages }}", file_type: int = 3,
               rows: int = 4, vocabulary: int = 3) -> Path:
    """A small but whole GGUF model: a name, a file type, maybe a chat template, one tensor of rows × 8."""
    import gguf

    path.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name(name)
    writer.add_file_type(file_type)
    if chat_template is not None:
        writer.add_chat_template(chat_template)
    writer.add_token_list([f"token{i}" for i in range(vocabulary)])
    writer.add_tensor("token_embd.weight", np.zeros((rows, 8), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def hf_file(hub: Path, repo: str, filename: str, blob: str, **gguf_options) -> Path:
    """A file as huggingface_hub keeps it: a snapshot's link to a blob named by its hash."""
    folder = hub / f"models--{repo.replace('/', '--')}"
    write_gguf(folder / "blobs" / blob, **gguf_options)
    link = folder / "snapshots" / "0123abcd" / filename
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(Path("..", "..", "blobs", blob))
    return link


def ollama_model(root: Path, model: str, tag: str, digest: str, **gguf_options) -> Path:
    """A model as Ollama keeps it: a manifest naming its layers, the model layer a blob named by digest."""
    blob = write_gguf(root / "blobs" / f"sha256-{digest}", **gguf_options)
    manifest = root / "manifests" / "registry.ollama.ai" / "library" / model / tag
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_text(json.dumps({"schemaVersion": 2, "layers": [
        {"mediaType": "application/vnd.ollama.image.template", "digest": "sha256:0000", "size": 10},
        {"mediaType": "application/vnd.ollama.image.model", "digest": f"sha256:{digest}", "size": blob.stat().st_size},
    ]}), encoding="utf-8")
    return blob


@pytest.fixture
def stores(user_home, tmp_path, monkeypatch):
    """Models in every place: HF_HOME's hub, LM Studio's folder, LLAMA_CACHE, OLLAMA_MODELS, and broken files."""
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("LLAMA_CACHE", str(tmp_path / "llama-cache"))
    monkeypatch.setenv("OLLAMA_MODELS", str(tmp_path / "ollama"))
    hub = tmp_path / "hf" / "hub"
    hf_file(hub, "HuggingFaceTB/SmolLM2-360M-Instruct-GGUF", "smollm2-360m-instruct-q8_0.gguf", "aa11", name="SmolLM2 360M", rows=40)
    write_gguf(user_home / ".lmstudio" / "models" / "lmstudio-community" / "Base-GGUF" / "base-Q4_0.gguf", name="Base",
               chat_template=None, file_type=2)
    write_gguf(tmp_path / "llama-cache" / "org_repo_chat.gguf", name="Cached")
    ollama_model(tmp_path / "ollama", "qwen2.5", "0.5b", "bb22", name="Qwen", rows=12)
    broken = tmp_path / "llama-cache" / "cut-short.gguf"
    whole = write_gguf(tmp_path / "whole.gguf", rows=64).read_bytes()
    broken.write_bytes(whole[: len(whole) - 100])
    (tmp_path / "llama-cache" / "notes.gguf").write_text("not a model", encoding="utf-8")
    return tmp_path


def by_name(found) -> dict:
    return {model.name: model for model in found}


def test_every_store_is_listed_with_what_a_person_chooses_by(stores):
    found = by_name(list_models())
    hf = found["HuggingFaceTB/SmolLM2-360M-Instruct-GGUF/smollm2-360m-instruct-q8_0.gguf"]
    assert (hf.source, hf.survey.parameters, hf.survey.quantization, hf.survey.chat_template) == ("Hugging Face", 320, "Q4_1", True)
    assert hf.path.name == "smollm2-360m-instruct-q8_0.gguf" and hf.size_bytes == hf.path.resolve().stat().st_size
    base = found["lmstudio-community/Base-GGUF/base-Q4_0.gguf"]
    assert (base.source, base.survey.quantization, base.survey.chat_template, base.usable) == ("LM Studio", "Q4_0", False, True)
    assert found["org_repo_chat.gguf"].source == "llama.cpp"
    qwen = found["qwen2.5:0.5b"]  # Ollama's blob, named through its manifest
    assert (qwen.source, qwen.survey.parameters, qwen.path.name) == ("Ollama", 96, "sha256-bb22")


def test_a_file_that_cannot_be_used_is_listed_with_the_reason(stores):
    found = by_name(list_models())
    assert not found["cut-short.gguf"].usable and "truncated" in found["cut-short.gguf"].survey.problem
    assert not found["notes.gguf"].usable and "not a GGUF" in found["notes.gguf"].survey.problem
    assert sum(model.usable for model in found.values()) == 4


def test_an_unfinished_download_and_a_broken_ollama_manifest_are_named(user_home, tmp_path, monkeypatch):
    hub = tmp_path / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    monkeypatch.setenv("OLLAMA_MODELS", str(tmp_path / "ollama"))
    link = hub / "models--org--repo" / "snapshots" / "rev" / "model.gguf"
    link.parent.mkdir(parents=True)
    link.symlink_to(Path("..", "..", "blobs", "never-finished"))
    manifest = tmp_path / "ollama" / "manifests" / "registry.ollama.ai" / "library" / "gone" / "latest"
    manifest.parent.mkdir(parents=True)
    manifest.write_text("{not json", encoding="utf-8")
    missing = tmp_path / "ollama" / "manifests" / "registry.ollama.ai" / "someone" / "lost" / "7b"
    missing.parent.mkdir(parents=True)
    missing.write_text(json.dumps({"layers": [{"mediaType": "application/vnd.ollama.image.model", "digest": "sha256:ff"}]}))
    found = by_name(list_models())
    assert "not found" in found["org/repo/model.gguf"].survey.problem
    assert "manifest cannot be read" in found["gone:latest"].survey.problem
    assert "blob sha256-ff is missing" in found["someone/lost:7b"].survey.problem


def test_the_defaults_are_under_home_and_the_tools_variables_win(tmp_path):
    home = tmp_path / "home"
    folders = {f.source + str(i): f.path for i, f in enumerate(model_folders(environ={}, home=home))}
    assert list(folders.values()) == [home / ".cache/huggingface/hub", home / ".lmstudio/models", home / ".cache/lm-studio/models",
                                      home / ".cache/llama.cpp", home / ".ollama/models"]
    chosen = model_folders([tmp_path / "mine"], environ={"HF_HUB_CACHE": "/hub", "HF_HOME": "/hf", "LLAMA_CACHE": "/lc",
                                                          "OLLAMA_MODELS": "/ol"}, home=home)
    assert [f.path for f in chosen] == [Path("/hub"), home / ".lmstudio/models", home / ".cache/lm-studio/models", Path("/lc"),
                                        Path("/ol"), tmp_path / "mine"]
    assert model_folders(environ={"HF_HOME": "/hf"}, home=home)[0].path == Path("/hf/hub")


def test_a_listing_again_reads_only_the_files_that_changed(stores, monkeypatch):
    import tui.engine.model_catalog as catalog

    list_models()
    read = []
    real_survey = catalog.survey_header
    monkeypatch.setattr(catalog, "survey_header", lambda path: read.append(path.name) or real_survey(path))
    again = by_name(list_models())
    assert read == []  # every survey came from the cache
    changed = stores / "llama-cache" / "org_repo_chat.gguf"
    write_gguf(changed, name="Cached", rows=8)
    os.utime(changed, ns=(changed.stat().st_atime_ns, changed.stat().st_mtime_ns + 1_000_000_000))
    after = by_name(list_models())
    assert read == ["org_repo_chat.gguf"]
    assert (again["org_repo_chat.gguf"].survey.parameters, after["org_repo_chat.gguf"].survey.parameters) == (32, 64)


def test_a_damaged_header_cache_is_only_slower(stores, user_home):
    list_models()
    cache = next(user_home.rglob("model-headers.json"))
    cache.write_text("{broken", encoding="utf-8")
    assert sum(model.usable for model in list_models()) == 4


def test_a_file_reached_twice_is_listed_once(tmp_path):
    from tui.engine.model_catalog import ModelFolder

    write_gguf(tmp_path / "a" / "m.gguf")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "same.gguf").symlink_to(tmp_path / "a" / "m.gguf")
    found = find_models([ModelFolder("config", tmp_path / "a"), ModelFolder("config", tmp_path / "b")])
    assert [model.name for model in found] == ["m.gguf"]


def test_smolgen_models_list_prints_a_table_and_json(stores, tmp_path):
    table = run_cli("models", "--list", cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split()[:6] == ["NAME", "PARAMS", "QUANT", "SIZE", "CHAT", "SOURCE"]
    qwen = next(line for line in lines if line.startswith("qwen2.5:0.5b"))
    assert "Q4_1" in qwen and "Ollama" in qwen and "sha256-bb22" in qwen
    assert "cannot be used" in next(line for line in lines if line.startswith("notes.gguf"))
    assert lines[-1].startswith("6 files, 4 usable")
    listed = json.loads(run_cli("models", "--list", "--json", cwd=tmp_path).stdout)
    assert {entry["name"]: entry["usable"] for entry in listed}["cut-short.gguf"] is False
    assert {entry["source"] for entry in listed} == {"Hugging Face", "LM Studio", "llama.cpp", "Ollama"}


def test_smolgen_models_list_says_where_it_looked_when_it_finds_nothing(tmp_path):
    listed = run_cli("models", "--list", cwd=tmp_path)
    assert listed.returncode == 0 and listed.stdout.startswith("no GGUF models found in:")
    assert ".ollama/models" in listed.stdout


def test_bench_models_lists_sparse_copies_of_the_embedded_model(tmp_path):
    result = run_cli("bench", "models", "--files", "3", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "listing 3 GGUF files" in result.stdout and "3 usable" in result.stdout
    assert run_cli("bench", "models", "--files", "0", cwd=tmp_path).returncode == 2


def test_a_listing_reads_the_same_header_without_its_vocabulary():
    from tui.engine.gguf_header import read_header
    from tui.engine.model_file import default_model_path

    path = default_model_path()  # a header larger than the first read, so the walk reads on as it goes
    whole, listed = read_header(path), read_header(path, vocabulary=False)
    assert len(whole.metadata.pop("tokenizer.ggml.tokens")) == 49152 and "tokenizer.ggml.tokens" not in listed.metadata
    assert listed.metadata == whole.metadata
    assert (listed.tensors, listed.data_start) == (whole.tensors, whole.data_start)


def test_a_vocabulary_cut_short_is_named_truncated(tmp_path):
    from tui.engine.model_catalog import survey_header

    whole = write_gguf(tmp_path / "whole.gguf", vocabulary=5000).read_bytes()
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(whole[: whole.index(b"token2500")])
    assert "truncated" in survey_header(cut).problem


def test_a_listing_steps_over_the_vocabulary_without_walking_it(monkeypatch):
    from tui.engine.gguf_header import _Cursor, read_header
    from tui.engine.model_file import default_model_path

    walked = []
    real_walk = _Cursor.walk_strings
    monkeypatch.setattr(_Cursor, "walk_strings", lambda cursor, count: walked.append(count) or real_walk(cursor, count))
    header = read_header(default_model_path(), vocabulary=False)
    assert header.metadata["tokenizer.chat_template"] and len(header.tensors) > 100  # read past both string arrays
    assert sum(walked) < 100  # of 49,152 tokens and 48,900 merges


@pytest.mark.parametrize("odd", [[""], ["a\x00b"], ["x" * 256, "y" * 70_000], [""] * 40], ids=["empty", "zero-byte", "long", "many-empty"])
def test_strings_numpy_cannot_place_are_stepped_over_all_the_same(tmp_path, odd):
    import gguf

    from tui.engine.gguf_header import read_header

    path = tmp_path / "odd.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    tokens = [f"token{i}" for i in range(3000)] + odd + [f"later{i}" for i in range(3000)]
    writer.add_token_list(tokens)
    writer.add_token_merges([f"a{i} b{i}" for i in range(20_000)] + odd + ["c d"])
    writer.add_chat_template("{{ messages }}")  # a key after both arrays: read only if they were stepped over right
    writer.add_tensor("token_embd.weight", np.zeros((4, 8), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    whole, listed = read_header(path), read_header(path, vocabulary=False)
    assert whole.metadata.pop("tokenizer.ggml.tokens") == tokens
    assert listed.metadata == whole.metadata and listed.metadata["tokenizer.chat_template"] == "{{ messages }}"
    assert (listed.tensors, listed.data_start) == (whole.tensors, whole.data_start)
