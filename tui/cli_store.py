"""`smolgen store check` and `smolgen store repair`: what a store holds, what in it is damaged, and a way back."""

from __future__ import annotations

import argparse
from collections import Counter
from typing import Any

from tui.cli_flags import add_store_flag
from tui.engine.store import damaged_path, journal_path, store_exists


def add_arguments(store: argparse.ArgumentParser) -> None:
    """`store check` and `store repair`."""
    actions = store.add_subparsers(dest="store_command", required=True)
    check = actions.add_parser("check", help="what the store holds and anything damaged, without writing; exits non-zero when damaged")
    repair = actions.add_parser(
        "repair", help="keep every readable change, move damaged journal lines to <store>.damaged, say what was not recovered"
    )
    for action in (check, repair):
        add_store_flag(action)


def cmd_store(args: argparse.Namespace) -> int:
    from tui.engine.store_repair import inspect, repair

    if not store_exists(args.store):
        print(f"{args.store}: no store here (nothing to {args.store_command})")
        return 0
    if args.store_command == "check":
        return _print_check(inspect(args.store))
    done = repair(args.store)
    found = done.examination
    if done.moved_to is None:
        print(f"{args.store}: nothing damaged; nothing changed")
        return 0
    broken = [*found.damage, *([found.torn] if found.torn else [])]
    lines = found.journal_lines + bool(found.torn)
    print(f"{journal_path(args.store)}: {_lines(len(broken), 'damaged line')} of {lines}; every readable change kept")
    for damage in broken:
        print(f"  {damage.where}: {damage.outcome}")
    lost = [item for damage in broken for item in damage.lost]
    print("not recovered: " + ("; ".join(lost) if lost else "nothing"))
    print(f"the damaged lines, as they were, are in {done.moved_to} (nothing was deleted)")
    print(f"{args.store} now holds {_holdings(found.data)}")
    return 0


def _print_check(found) -> int:
    journal = f"{_lines(found.journal_lines, 'line')} ({found.journal_bytes:,} bytes)"
    print(f"{found.path}: snapshot {found.snapshot_bytes:,} bytes, journal {journal}")
    print(f"  holds {_holdings(found.data)}")
    unfinished = [key for key, run in found.data.get("runs", {}).items() if run.get("status") == "running"]
    if unfinished:
        print(f"  run{'s' if len(unfinished) > 1 else ''} {', '.join(unfinished)} never recorded an end (the process stopped)")
    if found.set_aside:
        print(f"  {_lines(found.set_aside, 'line')} set aside earlier in {damaged_path(found.path)}")
    if found.torn is not None:
        print(f"  the last line is cut off ({len(found.torn.raw)} bytes: a change a stopped process was writing): "
              f"{found.torn.outcome}; the next change sets it aside in {damaged_path(found.path)}, repair keeps what it can")
    if not found.damaged:
        print("  nothing damaged")
        return 0
    print(f"  {_lines(len(found.damage), 'damaged journal line')} (what repair recovers of each):")
    for damage in found.damage:
        print(f"    {damage.where} ({damage.reason}): {damage.outcome}")
    print(f"`smolgen store repair --store {found.path}` keeps every readable change")
    return 1


def _holdings(data: dict[str, Any]) -> str:
    samples = data.get("samples", {})
    statuses = Counter(sample.get("status", "new") for sample in samples.values())
    by_status = ", ".join(f"{n} {status}" for status, n in statuses.most_common())
    return (f"{_lines(len(samples), 'sample')}" + (f" ({by_status})" if by_status else "")
            + f", {_lines(len(data.get('seeds', {})), 'seed')}, {_lines(len(data.get('runs', {})), 'run')}, "
            f"{_lines(len(data.get('cache', {})), 'cached output')}")


def _lines(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
