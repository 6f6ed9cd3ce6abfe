"""`smolgen seeds import FILE` and `smolgen seeds list`: the store's seeds."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tui.cli_flags import add_store_flag
from tui.engine.seeds import read_seed_file, seed_text
from tui.engine.store import SampleStore, check_store_exists


def add_arguments(seeds: argparse.ArgumentParser) -> None:
    """`seeds import FILE` and `seeds list`."""
    seed_commands = seeds.add_subparsers(dest="seeds_command", required=True)
    seed_import = seed_commands.add_parser("import", help="import seeds: one per line (.txt), .jsonl or .csv")
    seed_import.add_argument("file", type=Path)
    add_store_flag(seed_import)
    seed_list = seed_commands.add_parser("list", help="list the store's seeds")
    add_store_flag(seed_list)


def cmd_seeds(args: argparse.Namespace) -> int:
    if args.seeds_command == "import":
        seed_file = read_seed_file(args.file)  # before the store opens: a refused file leaves no store behind
        with SampleStore(args.store) as store:
            for problem in seed_file.problems:
                print(f"smolgen: {problem}", file=sys.stderr)
            store.add_seeds(seed_file.rows, source=str(args.file))
        print(f"imported {len(seed_file.rows)} seeds from {args.file} into {args.store}"
              + (f" ({len(seed_file.problems)} lines skipped)" if seed_file.problems else ""))
        return 0
    check_store_exists(args.store, "list")
    with SampleStore(args.store, read_only=True) as store:
        seeds = store.list_seeds()
    for seed in seeds:
        mark = "*" if seed.get("selected", True) else " "
        print(f"{seed['id']:>5} {mark} {_one_line(seed_text(seed['row']))}")
    print(f"{len(seeds)} seeds, {sum(1 for s in seeds if s.get('selected', True))} selected (*)")
    return 0


def _one_line(text: str, width: int = 100) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"
