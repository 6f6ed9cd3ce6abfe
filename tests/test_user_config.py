"""config.toml: the person's defaults (model or servers, threads, store, export license, model folders),
flags winning over them, and one line naming the file, line and key when it is wrong. Every test has its
own home folder (tests/conftest.py), so the real user's config is never read."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.test_model_catalog import write_gguf
from tui.cli import build_parser
from tui.cli_config import apply_user_config
from tui.engine.errors import BadInput
from tui.engine.user_config import UserConfig, config_path, load_user_config


def write_config(text: str) -> Path:
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def parsed(*argv: str) -> argparse.Namespace:
    """The arguments as `smolgen` sees them once the config is applied."""
    args = build_parser().parse_args(list(argv))
    apply_user_config(args, load_user_config())
    return args


def test_the_config_lives_in_the_config_folder_under_home(user_home):
    assert config_path() == user_home / ".config" / "smolgen" / "config.toml"


def test_no_config_file_means_the_built_in_defaults():
    assert load_user_config() == UserConfig()
    args = parsed("generate", "magpie")
    assert (args.store, args.model, args.server, args.threads) == (Path("smolgen.json"), None, [], None)


def test_the_configs_defaults_fill_what_no_flag_gave(tmp_path):
    write_config(f'model = "~/models/chat.gguf"\nthreads = 3\nstore = "{tmp_path / "data.json"}"\n')
    args = parsed("generate", "magpie")
    assert (args.model, args.threads, args.store) == (Path.home() / "models/chat.gguf", 3, tmp_path / "data.json")
    flags = parsed("generate", "magpie", "--model", "other.gguf", "--threads", "1", "--store", "mine.json")
    assert (flags.model, flags.threads, flags.store) == (Path("other.gguf"), 1, Path("mine.json"))
    on_servers = parsed("generate", "magpie", "--server", "http://127.0.0.1:9/v1")
    assert on_servers.model is None  # servers named by flag keep the config's model out
    app = parsed()  # the app: its options are left out unless given
    assert (app.model, app.store) == (Path.home() / "models/chat.gguf", tmp_path / "data.json")


def test_benchmarks_measure_what_their_flags_name_not_the_config(tmp_path):
    write_config(f'model = "~/models/chat.gguf"\nstore = "{tmp_path / "data.json"}"\n')
    assert parsed("bench", "generation").model is None
    assert parsed("bench", "quality").store is None  # a temporary store of its own


def test_config_servers_are_used_unless_a_model_is_named():
    write_config('servers = ["http://127.0.0.1:8080/v1", "http://127.0.0.1:8081/v1"]\nserver_model = "qwen"\n')
    args = parsed("run", "chapter")
    assert (args.server, args.server_model) == (["http://127.0.0.1:8080/v1", "http://127.0.0.1:8081/v1"], "qwen")
    assert parsed("run", "chapter", "--model", "x.gguf").server == []
    assert parsed("generate", "magpie", "--local-server").server == []


def test_the_export_license_is_the_dataset_cards_unless_a_flag_names_one():
    write_config('export_license = "cc-by-4.0"\n')
    assert parsed("export", "--format", "hf", "--out", "data").license == "cc-by-4.0"
    assert parsed("export", "--format", "hf", "--out", "data", "--license", "mit").license == "mit"
    assert parsed("export", "--out", "sft.jsonl").license is None  # a JSON Lines file has no card


def test_the_app_is_opened_with_the_configs_export_license(monkeypatch, tmp_path):
    import tui.app.app
    from tui.cli import main

    write_config(f'export_license = "cc-by-4.0"\nstore = "{tmp_path / "s.json"}"\n')
    opened = {}
    monkeypatch.setattr(tui.app.app, "run_app", lambda *args: opened.update(args=args) or 0)
    assert main([]) == 0
    assert opened["args"][-1] == "cc-by-4.0"  # what the export dialog offers for a Hub folder's card


def test_a_dataset_card_names_the_configs_license(tmp_path):
    from tests.test_export_hub import _card, _store

    _store(tmp_path)
    write_config('export_license = "cc-by-4.0"\n')
    assert run_cli("export", "--format", "hf", "--out", "ds", cwd=tmp_path).returncode == 0
    assert _card(tmp_path / "ds")[0]["license"] == "cc-by-4.0"
    messages = run_cli("export", "--out", "sft.jsonl", cwd=tmp_path)
    assert messages.returncode == 0, messages.stderr  # the config's license is no flag a JSON Lines export refuses


def test_a_config_store_is_where_commands_read_and_write(tmp_path):
    (tmp_path / "kept").mkdir()
    write_config(f'store = "{tmp_path / "kept" / "mine.json"}"\n')
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("Give three tips for staying healthy.\n", encoding="utf-8")
    imported = run_cli("seeds", "import", str(seeds), cwd=tmp_path)
    assert imported.returncode == 0, imported.stderr
    assert (tmp_path / "kept" / "mine.json").exists() and not (tmp_path / "smolgen.json").exists()
    listed = run_cli("seeds", "list", cwd=tmp_path)
    assert "Give three tips" in listed.stdout


def test_the_configs_model_is_the_one_smolgen_models_describes(tmp_path):
    write_config(f'model = "{tmp_path / "nowhere.gguf"}"\n')
    described = run_cli("models", cwd=tmp_path)
    assert described.returncode == 2 and "nowhere.gguf: model file not found" in described.stderr


def test_config_model_folders_are_listed(tmp_path):
    write_gguf(tmp_path / "my-models" / "team" / "tiny.gguf")
    write_config(f'model_folders = ["{tmp_path / "my-models"}"]\n')
    listed = run_cli("models", "--list", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    line = next(line for line in listed.stdout.splitlines() if line.startswith("team/tiny.gguf"))
    assert "config" in line and "Q4_1" in line


@pytest.mark.parametrize("text, expected", [
    ('threads = 2\nmodel = "a.gguf\n', "config.toml:2: not TOML: "),
    ('threads = 2\n\nthread = 4\n', "config.toml:3: unknown key 'thread'; config.toml knows model, servers"),
    ('[export]\nlicense = "mit"\n', "config.toml:1: unknown key 'export'"),
    ('model = "a.gguf"\nthreads = 0\n', "config.toml:2: threads = 0: must be at least 1"),
    ('threads = "four"\n', "config.toml:1: threads = 'four': must be a whole number"),
    ('servers = "http://127.0.0.1:8080/v1"\n', "config.toml:1: servers = 'http://127.0.0.1:8080/v1': must be a list of text"),
    ('model = "a.gguf"\nservers = ["http://h/v1"]\n', "config.toml:2: servers: name a model or servers, not both"),
])
def test_a_wrong_config_is_one_line_naming_the_file_line_and_key(tmp_path, text, expected):
    path = write_config(text)
    with pytest.raises(BadInput, match="^" + str(path.parent).replace(".", r"\.") + "/"):
        load_user_config()
    result = run_cli("seeds", "list", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and expected in result.stderr and str(path) in result.stderr
    assert "Traceback" not in result.stderr
