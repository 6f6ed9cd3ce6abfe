"""What `smolgen --help` shows a user: the commands they use, the benchmarks under one `smolgen bench`."""

import argparse
import json
import re
import subprocess
import sys

import pytest

from tui.bench.commands import BENCHES
from tui.bench.generation import cmd_bench as generation_bench
from tui.cli import build_parser, main
from tui.cli_generate import TECHNIQUES


def _help(capsys, *args: str) -> str:
    with pytest.raises(SystemExit) as exited:
        main([*args, "--help"])
    assert exited.value.code == 0
    return capsys.readouterr().out


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    [action] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def _command_lines(parser: argparse.ArgumentParser) -> dict[str, str]:
    """Each subcommand's help line as `--help` lists it."""
    [action] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return {choice.dest: choice.help for choice in action._choices_actions}


def test_top_level_help_lists_one_bench_command_and_no_bench_dashes(capsys):
    text = _help(capsys)
    assert "bench-" not in text
    assert re.search(r"^\s+bench\s+\S", text, re.MULTILINE)
    assert set(_subcommands(build_parser())) >= {"app", "generate", "seeds", "export", "run", "draw", "stats", "models", "bench"}


def test_bench_help_lists_every_benchmark_each_in_one_sentence_without_figures(capsys):
    text = _help(capsys, "bench")
    names = [bench.name for bench in BENCHES]
    assert names[:8] == ["generation", "batched", "store", "stats", "startup", "terminal", "ui", "dedup"]
    for name in names:
        assert re.search(rf"^\s+{name}\s+\S", text, re.MULTILINE), name
    bench = _subcommands(build_parser())["bench"]
    bench.format_help()  # a command's flags (bench's NAMEs) are added when it is first used
    lines = {**_command_lines(build_parser()), **_command_lines(bench)}
    for name, line in lines.items():
        assert line and "\n" not in line, name
        assert not re.search(r"\.\s", line), f"{name}: more than one sentence: {line!r}"
        assert not re.search(r"\d", line), f"{name}: a figure in its help line: {line!r}"


def _every_help_text(parser: argparse.ArgumentParser):
    parser.format_help()  # a command's or benchmark's flags are added when its help is first asked for
    yield parser.description or ""
    for action in parser._actions:
        yield action.help or ""
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                yield from _every_help_text(child)


def test_no_help_text_quotes_measured_speeds_or_durations():
    measured = re.compile(r"\d[\d.,]*\s*(tok/s|tokens/s|ms\b|s\b|seconds|minutes?|×)|~\s*\d|about \d")
    for text in _every_help_text(build_parser()):
        assert not measured.search(text), text


def test_bench_alone_is_bench_generation_with_the_same_flags():
    parser = build_parser()
    alone = vars(parser.parse_args(["bench", "--items", "3", "--json"]))
    named = vars(parser.parse_args(["bench", "generation", "--items", "3", "--json"]))
    assert alone == named and alone["run_bench"] is generation_bench and alone["items"] == 3
    assert vars(parser.parse_args(["bench"]))["run_bench"] is generation_bench
    assert vars(parser.parse_args(["bench", "store", "--json"]))["run_bench"] is BENCHES[2].run


def test_unknown_bench_is_one_line_exit_2(capsys):
    assert main(["bench", "warp"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("smolgen bench: argument NAME: invalid choice: 'warp'") and "\n" not in error


@pytest.mark.parametrize("words", [["export"], ["generate", "magpie", "--nope"], ["seeds", "import"], ["stats", "--run", "x"],
                                   ["store"], ["run"], ["draw"], ["models", "--nope"], ["bench", "store", "--nope"], ["--nope"]])
def test_every_command_says_smolgen_once_before_a_bad_argument(capsys, words):
    assert main(words) == 2
    error = capsys.readouterr().err.strip()
    named = " ".join(["smolgen", *(word for word in words[:2] if not word.startswith("-") and word not in ("magpie", "x"))])
    assert "\n" not in error and error.split(": ")[0] in (named, "smolgen") and error.count("smolgen") == 1, error


def test_generate_help_describes_every_technique_in_one_line(capsys):
    text = _help(capsys, "generate")
    for name in TECHNIQUES:
        [line] = [line for line in text.splitlines() if line.split()[:1] == [name]]
        assert len(line.split()) > 4, line  # the name, then what the technique does


# What only generating, the app or a server needs: `--help` and flags the app refuses answer without importing it.
STARTS_WITHOUT = ("numpy", "llama_cpp", "textual", "httpx")
# What only a command uses, loaded with that command's module: `--help` needs none (the export engine's
# templates, the store).
HELP_STARTS_WITHOUT = ("jinja2", "tinydb")

IMPORTED_BY_SMOLGEN = """
import json, runpy, sys
sys.argv = ["smolgen", *json.loads(sys.argv[1])]
try:
    runpy.run_module("tui", run_name="__main__")
except SystemExit as exited:
    status = exited.code
print(json.dumps({"status": status, "imported": sorted({name.split(".")[0] for name in sys.modules})}))
"""


@pytest.mark.parametrize(("args", "status", "without"), [(["--help"], 0, STARTS_WITHOUT + HELP_STARTS_WITHOUT),
                                                        (["--concurrency", "4"], 2, STARTS_WITHOUT)], ids=["help", "bad app flags"])
def test_help_and_bad_app_flags_start_without_the_heavy_libraries(args, status, without, tmp_path):
    done = subprocess.run([sys.executable, "-c", IMPORTED_BY_SMOLGEN, json.dumps(args)], capture_output=True, text=True,
                          timeout=60, cwd=tmp_path)
    ended = json.loads(done.stdout.strip().splitlines()[-1])
    assert ended["status"] == status, done.stderr
    imported = ended["imported"]
    assert "tui" in imported
    assert [name for name in without if name in imported] == []
