"""`smolgen export --format hf`: a folder `datasets.load_dataset(DIR)` loads and `huggingface-cli upload`
publishes as it is, read back field by field as `datasets` reads it, from a store written directly (no
model); tests/test_export_datasets.py loads it with the library itself."""

import glob
import json
import re

import yaml

from tests.conftest import run_cli
from tui import __version__
from tui.engine.store import SampleStore

ENGLISH = [f"How do I compute the area of a circle with radius {n} centimetres?" for n in range(15)]
VIETNAMESE = [f"Làm thế nào để tính diện tích hình tròn có bán kính {n} xăng-ti-mét, bạn có thể giải thích không?" for n in range(5)]
MAGPIE_MODEL = {"file": "SmolLM2-135M-Instruct.Q4_1.gguf", "fingerprint": "28deeba26451ef75", "name": "Smollm2 135M", "quantization": "Q4_1"}
SERVER_MODEL = {"name": "qwen2.5-7b-instruct", "servers": ["http://127.0.0.1:8080/v1"], "chat_template": None}
MAGPIE_SETTINGS = {
    "system": [{"prompt": "You are an AI assistant who helps users solve math problems.", "weight": 1.0}],
    "user_sampling": {"temperature": 1.0, "top_p": 1.0, "max_tokens": 128},
    "assistant_sampling": {"temperature": 0.7, "top_p": 0.95, "max_tokens": 256},
    "gates": {"check_repetition": True, "check_language": False},
}
DRAWING = "chapter\n┌────────────┐\n│ load_seeds │\n└────────────┘\n      ↓"


def _conversation(question: str) -> list[dict]:
    return [{"role": "user", "content": question}, {"role": "assistant", "content": f"{question} Let us work it out step by step."}]


def _store(folder) -> None:
    """20 accepted rows (15 English from a Magpie run, 5 Vietnamese from a pipeline on a server), one of them edited;
    2 rejected and 1 truncated that stay out; runs recording what their gates removed."""
    with SampleStore(folder / "smolgen.json") as store:
        magpie = store.start_run(technique="magpie", settings=MAGPIE_SETTINGS, seed=421, model=MAGPIE_MODEL)
        store.finish_run(magpie, "finished", {"failures": {"not_a_request": 3, "repetition": 2}})
        pipeline = store.start_run(technique="pipeline", pipeline="chapter", drawing=DRAWING,
                                   settings={"steps": [{"name": "generate_instruction", "template": "chain_instruction"}]})
        store.finish_run(pipeline, "finished", {"steps": {"generate_instruction": {"failures": {"language_mismatch": 4}}},
                                                "models": {"generate_instruction": SERVER_MODEL}})
        ids = []
        for run_id, technique, questions in ((magpie, "magpie", ENGLISH), (pipeline, "pipeline:chapter", VIETNAMESE)):
            for question in questions:
                ids.append(store.add_sample({"technique": technique, "run_id": run_id, "instruction": question,
                                             "conversation": _conversation(question), "status": "accepted"}))
        store.edit_sample(ids[0], _conversation("Edited by hand: how do I compute the area of a square?"))
        for question in ("Rejected one?", "Rejected two?"):
            store.add_sample({"technique": "magpie", "run_id": magpie, "conversation": _conversation(question), "status": "rejected"})
        store.add_sample({"technique": "magpie", "run_id": magpie, "conversation": _conversation("Cut off?"), "flags": ["truncated"],
                          "status": "accepted"})


def _card(folder) -> tuple[dict, str]:
    text = (folder / "README.md").read_text(encoding="utf-8")
    match = re.fullmatch(r"---\n(.*?)\n---\n(.*)", text, re.DOTALL)
    assert match, "README.md must open with YAML front matter between --- lines"
    return yaml.safe_load(match.group(1)), match.group(2)


def _split_rows(folder, meta) -> dict[str, list[dict]]:
    """Each split's rows as `datasets` loads them: the `configs` data_files globs, relative to the folder, each
    file JSON Lines of objects with the same columns."""
    [config] = meta["configs"]
    splits = {}
    for entry in config["data_files"]:
        files = sorted(glob.glob(str(folder / entry["path"])))
        assert files, f"{entry['path']} matches no file"
        splits[entry["split"]] = [json.loads(line) for path in files for line in open(path, encoding="utf-8")]
    return splits


def test_the_folder_holds_a_seeded_train_test_split_the_configs_name(tmp_path):
    _store(tmp_path)
    result = run_cli("export", "--format", "hf", "--out", "ds", "--test-size", "0.25", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert re.search(r"wrote 15 train and 5 test rows \(messages, status accepted\) and README.md to ds in \d+\.\d s, "
                     r"1 truncated left out", result.stdout)
    assert "nothing uploaded; to publish: huggingface-cli upload YOUR-NAME/ds ds . --repo-type dataset" in result.stdout
    folder = tmp_path / "ds"
    meta, _ = _card(folder)
    splits = _split_rows(folder, meta)
    assert {split: len(rows) for split, rows in splits.items()} == {"train": 15, "test": 5}
    matched = {path for entry in meta["configs"][0]["data_files"] for path in glob.glob(str(folder / entry["path"]))}
    assert matched == {str(path) for path in folder.rglob("*.jsonl")}  # every data file is named, no other
    questions = [row["messages"][0]["content"] for rows in splits.values() for row in rows]
    assert sorted(questions) == sorted(["Edited by hand: how do I compute the area of a square?", *ENGLISH[1:], *VIETNAMESE])
    assert all(set(row) == {"messages"} for rows in splits.values() for row in rows)  # one schema, as datasets needs

    again = run_cli("export", "--format", "hf", "--out", "again", "--test-size", "0.25", cwd=tmp_path)
    other_seed = run_cli("export", "--format", "hf", "--out", "other", "--test-size", "0.25", "--seed", "7", cwd=tmp_path)
    assert again.returncode == other_seed.returncode == 0
    test_file = (folder / "data" / "test.jsonl").read_bytes()
    assert (tmp_path / "again" / "data" / "test.jsonl").read_bytes() == test_file  # the same seed, the same split
    assert (tmp_path / "other" / "data" / "test.jsonl").read_bytes() != test_file
    assert [row["messages"][0]["content"] for row in splits["train"]] != sorted(
        row["messages"][0]["content"] for row in splits["train"])  # shuffled, not in the store's order


def test_the_card_front_matter_is_what_the_hub_reads(tmp_path):
    _store(tmp_path)
    assert run_cli("export", "--format", "hf", "--out", "ds", "--license", "cc-by-4.0", cwd=tmp_path).returncode == 0
    meta, _ = _card(tmp_path / "ds")
    assert meta["license"] == "cc-by-4.0" and meta["task_categories"] == ["text-generation"]
    assert meta["language"] == ["en", "vi"]  # identified from the rows, most frequent first
    assert meta["size_categories"] == ["n<1K"] and meta["tags"] == ["synthetic", "smolgen"]
    assert meta["configs"] == [{"config_name": "default", "data_files": [{"split": "train", "path": "data/train.jsonl"},
                                                                       {"split": "test", "path": "data/test.jsonl"}]}]


def test_the_card_says_how_the_data_was_made_and_ends_with_the_upload_command(tmp_path):
    _store(tmp_path)
    assert run_cli("export", "--format", "hf", "--out", "ds", cwd=tmp_path).returncode == 0
    _, body = _card(tmp_path / "ds")
    for fact in ("| magpie | 15 |", "| pipeline:chapter | 5 |",  # techniques and their rows
                 "`SmolLM2-135M-Instruct.Q4_1.gguf` (fingerprint `28deeba26451ef75`",  # the local model
                 "`qwen2.5-7b-instruct` served by http://127.0.0.1:8080/v1",  # the server and its model
                 "`chain_instruction`", "“You are an AI assistant who helps users solve math problems.”",  # templates, prompts
                 "temperature 0.7, top_p 0.95, max_tokens 256", "seed 421",  # sampling
                 "- not_a_request: 3", "- language_mismatch: 4", "- repetition: 2", "gates.check_language",  # the gates
                 "21 accepted, 2 rejected", "edited by a person: 1", "left out: 1 cut off by a token cap",  # curation
                 f"smolgen {__version__}", DRAWING):  # the version and the pipeline drawing
        assert fact in body, fact
    assert body.rstrip().endswith("```sh\nhuggingface-cli upload YOUR-NAME/ds ds . --repo-type dataset\n```")


def test_a_bad_test_size_or_a_folder_in_the_way_is_one_line_exit_2_and_nothing_is_written(tmp_path):
    _store(tmp_path)
    for size in ("0", "1", "1.5", "-0.1"):
        result = run_cli("export", "--format", "hf", "--out", "ds", "--test-size", size, cwd=tmp_path)
        assert result.returncode == 2 and result.stderr.count("\n") == 1 and f"--test-size {float(size):g}" in result.stderr
    assert not (tmp_path / "ds").exists()
    (tmp_path / "ds").mkdir()
    (tmp_path / "ds" / "notes.txt").write_text("mine", encoding="utf-8")
    refused = run_cli("export", "--format", "hf", "--out", "ds", cwd=tmp_path)
    assert refused.returncode == 2 and refused.stderr.strip() == (
        "smolgen: ds: exists and is not empty; pass --force to write the dataset into it")
    assert [p.name for p in (tmp_path / "ds").iterdir()] == ["notes.txt"]
    forced = run_cli("export", "--format", "hf", "--out", "ds", "--force", cwd=tmp_path)
    assert forced.returncode == 0 and (tmp_path / "ds" / "notes.txt").read_text(encoding="utf-8") == "mine"
    assert (tmp_path / "ds" / "README.md").exists()
    elsewhere = run_cli("export", "--out", "sft.jsonl", "--test-size", "0.2", cwd=tmp_path)
    assert elsewhere.returncode == 2 and elsewhere.stderr.strip() == "smolgen: --test-size: only --format hf writes a dataset folder"


def test_a_forced_export_with_no_test_split_removes_the_earlier_test_file(tmp_path):
    _store(tmp_path)
    assert run_cli("export", "--format", "hf", "--out", "ds", cwd=tmp_path).returncode == 0
    with SampleStore(tmp_path / "smolgen.json") as store:
        keep = store.list_samples(statuses=["accepted"])[0]["id"]
        store.set_status([s["id"] for s in store.list_samples(statuses=["accepted"]) if s["id"] != keep], "rejected")
    result = run_cli("export", "--format", "hf", "--out", "ds", "--force", cwd=tmp_path)
    assert result.returncode == 0 and "wrote 1 train rows" in result.stdout
    meta, _ = _card(tmp_path / "ds")
    assert [entry["split"] for entry in meta["configs"][0]["data_files"]] == ["train"]
    assert sorted(p.name for p in (tmp_path / "ds" / "data").iterdir()) == ["train.jsonl"]


def test_sharegpt_rows_in_a_hub_folder(tmp_path):
    _store(tmp_path)
    assert run_cli("export", "--format", "hf", "--rows", "sharegpt", "--out", "ds", cwd=tmp_path).returncode == 0
    meta, body = _card(tmp_path / "ds")
    rows = [row for split in _split_rows(tmp_path / "ds", meta).values() for row in split]
    assert len(rows) == 20 and all(list(row) == ["conversations"] for row in rows) and "`sharegpt` format" in body


def test_a_pipeline_run_records_its_drawing_and_models_and_the_card_shows_them(tmp_path):
    from tests.scripted_model import ScriptedModel
    from tui.engine.pipeline import LlamaCppLLM, LoadDataFromDicts, Pipeline, TextGeneration
    from tui.engine.pipeline.draw import draw_text

    scripted = ScriptedModel(["The Mekong flows through six countries."])
    with Pipeline(name="rivers") as pipeline:
        seeds = LoadDataFromDicts(data=[{"instruction": "Which countries does the Mekong flow through?"}])
        seeds >> TextGeneration(llm=LlamaCppLLM(model=scripted), output_mappings={"generation": "response"})
    with SampleStore(tmp_path / "smolgen.json") as store:
        pipeline.run(store=store)
        [run] = store.list_runs()
    assert run["drawing"] == draw_text(pipeline)
    assert list(run["summary"]["models"].values()) == [scripted.describe()]
    result = run_cli("export", "--format", "hf", "--status", "new", "--out", "ds", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    _, body = _card(tmp_path / "ds")
    assert draw_text(pipeline).rstrip() in body and f"`{scripted.describe()['file']}` (fingerprint" in body
