"""The `smolgen` command end to end, as a user types it (a subprocess, the real model)."""

import json

import pytest

from tests.conftest import run_cli, run_smolgen
from tui.engine.store import SampleStore


def _one_line_error(result, code, *needles):
    assert result.returncode == code, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for needle in needles:
        assert needle in lines[0]


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """A store with two Magpie samples made by the CLI."""
    folder = tmp_path_factory.mktemp("cli")
    ungated = ["--no-filter", "user-turn-truncated", "--no-filter", "repetition", "--no-filter", "language-mismatch",
               "--no-filter", "not-a-request"]  # both samples are stored, whatever the model writes
    result = run_smolgen("generate", "magpie", "--num", "2", "--max-tokens", "24", "--user-max-tokens", "24", "--seed", "5",
                         *ungated, cwd=folder)
    return folder, result


@pytest.mark.model
def test_generate_magpie_streams_and_stores(generated):
    folder, result = generated
    assert result.returncode == 0, result.stderr
    assert "── Magpie · turn 1 · user ──" in result.stdout and "── Magpie · turn 1 · assistant ──" in result.stdout
    assert "[1/2]" in result.stderr and "[2/2]" in result.stderr and "tok/s" in result.stderr and "│ kept " in result.stderr
    with SampleStore(folder / "smolgen.json") as store:
        samples = store.list_samples(statuses=("new", "failed"))
    stored = sum(s["status"] == "new" for s in samples)
    assert f"{stored} stored" in result.stderr and stored >= 1  # a gate may fail one; the line says which
    assert len(samples) == 2 and all(s["technique"] == "magpie" and s["seed"] == 5 for s in samples)


@pytest.mark.model
def test_export_messages_and_alpaca(generated):
    folder, _ = generated
    with SampleStore(folder / "smolgen.json") as store:
        stored = len(store.list_samples(statuses=("new",)))
    # Answers capped at 24 tokens are mostly cut off: only asked for do they go out.
    result = run_smolgen("export", "--format", "messages", "--status", "all", "--include-truncated", "--out", "sft.jsonl", cwd=folder)
    assert result.returncode == 0 and f"wrote {stored} rows" in result.stdout
    rows = [json.loads(line) for line in (folder / "sft.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [m["role"] for m in rows[0]["messages"]] == ["user", "assistant"]
    again = run_smolgen("export", "--format", "messages", "--status", "all", "--out", "sft.jsonl", cwd=folder)
    _one_line_error(again, 2, "sft.jsonl: already exists")
    alpaca = run_smolgen("export", "--format", "alpaca", "--status", "all", "--include-truncated", "--out", "alpaca.jsonl", cwd=folder)
    assert alpaca.returncode == 0
    row = json.loads((folder / "alpaca.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert set(row) == {"instruction", "input", "output"}
    accepted = run_smolgen("export", "--out", "accepted.jsonl", cwd=folder)
    _one_line_error(accepted, 1, f"0 accepted samples; --status new has {stored}")
    assert not (folder / "accepted.jsonl").exists()


@pytest.mark.model
def test_seeds_import_list_and_chain_from_the_store(tmp_path, chapter_passage):
    (tmp_path / "seeds.txt").write_text("Generate a question about the Smol Course on small AI models.\n", encoding="utf-8")
    (tmp_path / "vi.jsonl").write_text(json.dumps({"text": chapter_passage["vi"]}, ensure_ascii=False) + "\n", encoding="utf-8")
    assert run_smolgen("seeds", "import", "seeds.txt", cwd=tmp_path).returncode == 0
    assert "imported 1 seeds" in run_smolgen("seeds", "import", "vi.jsonl", cwd=tmp_path).stdout
    listing = run_smolgen("seeds", "list", cwd=tmp_path).stdout
    assert "Smol Course" in listing and "Dữ liệu giả lập" in listing and "2 seeds, 2 selected" in listing
    result = run_smolgen("generate", "chain", "--max-tokens", "16", "--quiet", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    with SampleStore(tmp_path / "smolgen.json") as store:
        made = store.list_samples(statuses=("new", "failed"))
    assert len(made) == 2 and f"{sum(s['status'] == 'new' for s in made)} stored" in result.stderr  # a gate may fail one


def test_models_prints_metadata(tmp_path):
    result = run_cli("models", "--json", cwd=tmp_path)
    info = json.loads(result.stdout)
    assert info["parameters"] == 134515008 and info["quantization"] == "Q4_1" and info["eos_token"] == "<|im_end|>"


@pytest.mark.parametrize(
    "setup, needle",
    [
        (lambda d: None, "missing.gguf: model file not found"),
        (lambda d: (d / "missing.gguf").mkdir(), "is a folder"),
        (lambda d: (d / "missing.gguf").write_text("hello"), "not a GGUF model file"),
        (lambda d: (d / "missing.gguf").write_bytes(b"GGUF\x03\x00\x00\x00" + b"\x00" * 10), "truncated or corrupt"),
    ],
)
def test_bad_model_paths_get_one_line(tmp_path, setup, needle):
    setup(tmp_path)
    result = run_cli("generate", "magpie", "--num", "1", "--model", "missing.gguf", cwd=tmp_path)
    _one_line_error(result, 2, needle)


def test_bad_seed_file_and_template_get_one_line(tmp_path):
    (tmp_path / "empty.txt").write_text("")
    _one_line_error(run_cli("generate", "text", "--seeds", "empty.txt", cwd=tmp_path), 2, "empty.txt: no seeds imported")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "broken.jinja2").write_text("Hello\n{{ text ", encoding="utf-8")
    (tmp_path / "seeds.txt").write_text("x\n")
    result = run_cli("generate", "text", "--seeds", "seeds.txt", "--prompts", "mine", "--template", "broken", cwd=tmp_path)
    _one_line_error(result, 2, "broken.jinja2:2:")
    (tmp_path / "mine" / "needs.jinja2").write_text("{{ topic }}", encoding="utf-8")
    result = run_cli("generate", "text", "--seeds", "seeds.txt", "--prompts", "mine", "--template", "needs", cwd=tmp_path)
    _one_line_error(result, 2, "needs.jinja2:1", "topic")


@pytest.mark.parametrize("args, named", [
    (("generate", "chain", "--num", "1"), "chain: needs seeds"),  # no seeds: the store was looked in
    (("generate", "text", "--seeds", "seeds.txt", "--template", "nope"), "nope"),  # found once the store is open
    (("seeds", "import", "missing.txt", "--store", "new.json"), "missing.txt: seed file not found"),
    (("seeds", "import", "empty.txt", "--store", "new.json"), "empty.txt: no seeds imported"),
    (("seeds", "list", "--store", "new.json"), "new.json: no store here"),
    (("export", "--out", "sft.jsonl", "--store", "new.json"), "new.json: no store here"),
    (("export", "--format", "dpo", "--out", "pairs.jsonl", "--store", "new.json"), "new.json: no store here"),
    (("export", "--format", "hf", "--out", "ds", "--store", "new.json"), "new.json: no store here"),
    (("stats", "--run", "1", "--store", "new.json"), "new.json: no store here"),
    (("judge", "--store", "new.json"), "new.json: no store here"),
    (("bench", "quality", "--reuse", "--store", "new.json"), "new.json: no store here"),
], ids=["generate-no-seeds", "generate-unknown-template", "seeds-import-missing", "seeds-import-empty", "seeds-list", "export",
        "export-dpo", "export-hf", "stats", "judge", "bench-quality-reuse"])
def test_a_refused_command_leaves_the_folder_as_it_was(tmp_path, args, named):
    """Bad input ends the command with one line and exit 2; a store that was not there is not made: no store,
    journal or lock file, and a command that only reads refuses a store that does not exist."""
    (tmp_path / "seeds.txt").write_text("x\n", encoding="utf-8")
    (tmp_path / "empty.txt").write_text("", encoding="utf-8")
    before = {path.name: path.read_bytes() for path in tmp_path.iterdir()}
    _one_line_error(run_cli(*args, cwd=tmp_path), 2, named)
    assert {path.name: path.read_bytes() for path in tmp_path.iterdir() if path.is_file()} == before
    assert all(path.is_file() for path in tmp_path.iterdir())  # no folder either (an export's --out)


@pytest.mark.model
def test_prompt_longer_than_the_context_fails_that_sample_only(tmp_path):
    (tmp_path / "seeds.txt").write_text(("word " * 300) + "\nName a fruit.\n", encoding="utf-8")
    result = run_smolgen("generate", "text", "--seeds", "seeds.txt", "--context", "128", "--max-tokens", "8", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "1 stored, 1 failed (1 context_overflow)" in result.stderr


def test_locked_and_corrupt_stores(tmp_path):
    (tmp_path / "more.txt").write_text("another seed\n", encoding="utf-8")
    with SampleStore(tmp_path / "smolgen.json") as store:
        store.add_seeds([{"text": "a seed the app just added"}])
        _one_line_error(run_smolgen("seeds", "import", "more.txt", cwd=tmp_path), 1, "smolgen.json: in use by PID")
        listed = run_smolgen("seeds", "list", cwd=tmp_path)  # readers read beside the writer
        assert listed.returncode == 0 and "a seed the app just added" in listed.stdout
        store.add_sample({"technique": "magpie", "instruction": "Q?", "response": "A.", "status": "accepted",
                          "conversation": [{"role": "user", "content": "Q?"}, {"role": "assistant", "content": "A."}]})
        assert run_smolgen("export", "--out", "now.jsonl", cwd=tmp_path).returncode == 0
        assert '"content": "A."' in (tmp_path / "now.jsonl").read_text(encoding="utf-8")
    (tmp_path / "bad.json").write_text("{oops")
    _one_line_error(run_cli("seeds", "list", "--store", "bad.json", cwd=tmp_path), 1, "bad.json: not a readable smolgen store")
    assert (tmp_path / "bad.json").read_text() == "{oops"


def test_bad_flags_exit_2(tmp_path):
    _one_line_error(run_cli("generate", "magpie", "--num", "zero", cwd=tmp_path), 2, "invalid int value")
    _one_line_error(run_cli("generate", "magpie", "--num", "0", cwd=tmp_path), 2, "--num 0")


@pytest.mark.parametrize("args", [
    ("--version",),                                       # argparse ends the command itself
    ("seeds", "import", "seeds.txt"),                     # writes the store, prints to stdout
    ("export", "--min-rating", "9", "--out", "x.jsonl"),  # bad input: one line on stderr, exit 2
], ids=["version", "import", "bad-input"])
def test_a_command_run_in_the_tests_process_gives_what_the_smolgen_process_gives(tmp_path, args):
    """Most tests run commands in their own process (run_cli), a fraction of the cost of a new one: a user
    must get the same exit status, stdout and stderr from the real `smolgen`."""
    results = []
    for run, folder in ((run_smolgen, tmp_path / "process"), (run_cli, tmp_path / "in-process")):
        folder.mkdir()
        (folder / "seeds.txt").write_text("one\ntwo\n", encoding="utf-8")
        result = run(*args, cwd=folder)
        results.append((result.returncode, result.stdout, result.stderr))
    assert results[0] == results[1]


def test_an_exception_that_escapes_a_command_run_in_process_is_a_traceback_and_status_1(tmp_path, monkeypatch):
    def broken(argv):
        raise RuntimeError("a bug")

    monkeypatch.setattr("tui.cli._main", broken)
    result = run_cli("seeds", "list", cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" in result.stderr and "RuntimeError: a bug" in result.stderr
