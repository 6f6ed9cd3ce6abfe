"""What a store holds and what in it is damaged (`smolgen store check`), and mending it (`smolgen store repair`).

A journal line can be damaged by bit rot, a bad sector or a stray edit. Repair keeps every readable
change in order and reads what it can of each damaged line: its operation, table and ids, and each field
whose value still parses (text with unreadable characters is kept and named as such). That much is
applied where the line stood; the damaged lines themselves move, byte for byte, to `<store>.damaged`:
nothing is deleted. One sentence per damaged line says exactly what was recovered and what was not.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from tui.engine.journal import TABLES, apply, parse_line, read_journal
from tui.engine.store import AtomicJSONStorage, StoreLock, damaged_path, fsync_folder, journal_path, keep_aside, paused_gc

SINGULAR = {"seeds": "seed", "samples": "sample", "runs": "run", "cache": "cached output"}
OPERATIONS = ("put", "set", "del")

_KEY = re.compile(r'\s*"((?:[^"\\]|\\.)*)"\s*:\s*')
_AFTER_VALUE = re.compile(r"\s*([,}])")
_BODY = re.compile(r'"(doc|fields)"\s*:\s*\{')
_CHANGE_START = re.compile(r'\{\s*"op"\s*:')
_GARBLED = re.compile("[\x00-\x1f\ufffd]")  # raw control characters never appear in a JSON line smolgen wrote
# Control characters inside strings are damage to keep and name, not a reason to lose the whole field.
_DECODER = json.JSONDecoder(strict=False)


@dataclass
class ReadFields:
    """The fields of a damaged JSON object that could be read."""

    values: dict[str, Any] = field(default_factory=dict)
    lost: list[str] = field(default_factory=list)  # "…" stands for fields whose names are unreadable too
    garbled: list[str] = field(default_factory=list)  # kept, with characters that could not be read


def read_fields(text: str, start: int, known: Iterable[str]) -> ReadFields:
    """The readable fields of the JSON object whose first key is at `start`.

    After a field that does not parse, reading resumes at the next `,"<known key>":` (a quote inside a
    JSON string is always escaped, so that pattern is structure), and from then on takes known keys only:
    an unknown one belongs to a nested object met out of step. The object ends at a `}` that ends the text.
    """
    result = ReadFields()
    known = set(known)
    resume = re.compile(r',\s*"(' + "|".join(map(re.escape, sorted(known, key=len, reverse=True))) + r')"\s*:') if known else None
    in_step, pos = True, start
    while pos < len(text):
        match = _KEY.match(text, pos)
        key = _json_string(match.group(1)) if match else None
        if key is not None and (in_step or key in known):
            try:
                value, end = _DECODER.raw_decode(text, match.end())
                separator = _AFTER_VALUE.match(text, end)
            except ValueError:
                separator = None
            if separator and (separator.group(1) == "," or _ends(text, separator.end())):
                result.values[key] = value
                if _GARBLED.search(text, match.end(), end):
                    result.garbled.append(key)
                if separator.group(1) == "}":
                    return result
                pos = separator.end()
                continue
            result.lost.append(key)
        elif key is None and in_step:
            result.lost.append("…")
        in_step = False
        found = resume.search(text, pos + 1) if resume else None
        if found is None:
            break
        pos = found.start() + 1
    return result


def _json_string(body: str) -> str | None:
    try:
        return json.loads(f'"{body}"')
    except ValueError:
        return None


def _ends(text: str, pos: int) -> bool:
    """Nothing but closing braces follows (and at most one stray byte: a newline the damage replaced)."""
    return len(text[pos:].strip().lstrip("}")) <= 1


def _closest(word: str | None, choices: Iterable[str]) -> str | None:
    """`word`, or the one choice it differs from by a single character (a flipped bit)."""
    if word is None:
        return None
    near = [c for c in choices if len(c) == len(word) and sum(a != b for a, b in zip(c, word)) <= 1]
    return near[0] if len(near) == 1 else None


def _search(pattern: str, text: str) -> str | None:
    match = re.search(pattern, text)
    return match.group(1) if match else None


@dataclass
class Damage:
    """One damaged journal line (or the last line, cut off), what could be read of it and what that means."""

    line: int | None  # None: the last line, cut off mid-way
    raw: bytes
    reason: str
    outcome: str = ""  # one sentence: what was recovered and what was not
    lost: list[str] = field(default_factory=list)  # "sample 40: response", for the closing list
    records: list[str] = field(default_factory=list)  # the records it touched, e.g. "sample 40"

    @property
    def where(self) -> str:
        return f"line {self.line}" if self.line is not None else "the last line (cut off)"


@dataclass
class Examination:
    """A store as its files hold it, and as repair would leave it."""

    path: Path
    data: dict[str, Any]  # every readable change applied, and what could be read of damaged lines
    snapshot_bytes: int
    journal_lines: int
    journal_bytes: int
    damage: list[Damage]
    torn: Damage | None
    set_aside: int  # lines an earlier repair or open already moved to <store>.damaged

    @property
    def damaged(self) -> bool:
        return bool(self.damage)


def examine(path: Path) -> Examination:
    """Read a store's snapshot and journal without changing either (the caller holds the lock)."""
    storage = AtomicJSONStorage(path)
    data = storage.read() or {}
    raw = read_journal(journal_path(path))
    complete, newline, torn = raw.rpartition(b"\n")
    lines = complete.split(b"\n") if newline else []
    result = Examination(path, data, path.stat().st_size if path.exists() else 0, len(lines), len(raw), [], None,
                         _count_lines(damaged_path(path)))
    with paused_gc():
        parsed = [(number, line, *parse_line(line)) for number, line in enumerate(lines, start=1) if line.strip()]
        # The fields each table's records have: where reading a damaged line picks up again.
        known = {table: _keys(data.get(table, {}).values()) for table in TABLES}
        for _, _, change, _ in parsed:
            if change is not None:
                known[change["t"]].update(change.get("doc") or change.get("fields") or {})
        for number, line, change, reason in parsed:
            if change is not None:
                apply(change, data)
            else:
                result.damage.append(_salvage(Damage(number, line, reason or "damaged"), data, known))
        if torn:
            result.torn = _salvage(Damage(None, torn, "cut off: no end of line"), data, known)
    return result


def _keys(records: Iterable[dict[str, Any]]) -> set[str]:
    keys: set[str] = set()
    for record in records:
        keys.update(record)
    return keys


def _count_lines(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def _salvage(damage: Damage, data: dict[str, Any], known: dict[str, set[str]]) -> Damage:
    """Apply what can be read of a damaged line to `data`, and describe it."""
    text = damage.raw.decode("utf-8", errors="replace")
    starts = [m.start() for m in _CHANGE_START.finditer(text)] or [0]
    if starts[0] != 0:
        starts.insert(0, 0)
    # A newline lost to the damage joins two changes: each is read on its own.
    parts = [text[a:b] for a, b in zip(starts, [*starts[1:], len(text)])]
    outcomes = [_salvage_change(part, damage, data, known) for part in parts]
    damage.outcome = "; ".join(outcomes)
    return damage


def _salvage_change(text: str, damage: Damage, data: dict[str, Any], known: dict[str, set[str]]) -> str:
    body = _BODY.search(text)
    head = text[: body.start()] if body else text
    ids_text = _search(r'\[([\d,\s]*)\]', head)  # the one list before a set's fields, or of a del
    ids = [int(i) for i in ids_text.split(",") if i.strip()] if ids_text is not None else None
    single = _search(r':\s*(\d+)\s*,\s*$', head)  # a put's id comes just before its record
    op = _closest(_search(r'"op"\s*:\s*"(\w*)"', head), OPERATIONS)
    if op is None:
        op = {"doc": "put", "fields": "set"}[body.group(1)] if body else ("del" if ids is not None else None)
    table = _closest(_search(r'"t"\s*:\s*"(\w*)"', head), TABLES)
    fields = ReadFields()
    if body:
        candidates = set().union(*known.values()) if table is None else known[table]
        fields = read_fields(text, body.end(), candidates)
        if table is None and fields.values:  # the table is the one whose records have these fields
            table = max(TABLES, key=lambda t: len(known[t] & set(fields.values)))
    if op is None or table is None:
        damage.lost.append("one change (unreadable)")
        return "nothing could be read"
    noun = SINGULAR[table]
    if op == "put":
        return _salvage_put(damage, data, table, noun, int(single) if single else None, fields)
    if ids is None:
        what = f"fields {', '.join(fields.values) or 'unknown'}" if op == "set" else "a deletion"
        damage.lost.append(f"{what} of some {table} (ids unreadable)")
        return f"{what} of {table} whose ids are unreadable: not applied"
    names = f"{noun}{'s' if len(ids) > 1 else ''} {', '.join(map(str, ids))}"
    damage.records.extend(f"{noun} {i}" for i in ids)
    if op == "del":
        apply({"op": "del", "t": table, "ids": ids}, data)
        return f"deletion of {names} recovered"
    if fields.values:
        apply({"op": "set", "t": table, "ids": ids, "fields": fields.values}, data)
    kept = f"{', '.join(fields.values)} recovered" if fields.values else "no field readable"
    if fields.lost:
        damage.lost.extend(f"{names}: {name}" for name in fields.lost)
        return f"{names}: {kept}; {', '.join(fields.lost)} not recovered (earlier values kept)"
    return f"{names}: {kept}"


def _salvage_put(damage: Damage, data: dict[str, Any], table: str, noun: str, doc_id: int | None, fields: ReadFields) -> str:
    if doc_id is None or not fields.values:
        preview = _preview(fields.values)
        damage.lost.append(f"a {noun}{preview} (id unreadable)" if doc_id is None else f"{noun} {doc_id} (no field readable)")
        if doc_id is None:
            return f"a {noun}{preview} whose id is unreadable: not recovered"
        return f"{noun} {doc_id}: no field readable, not recovered"
    damage.records.append(f"{noun} {doc_id}")
    earlier = data.get(table, {}).get(str(doc_id))
    record = {**(earlier or {}), **fields.values}
    garbled = f"; {', '.join(fields.garbled)} kept with unreadable characters (shown as \ufffd)" if fields.garbled else ""
    if fields.lost or fields.garbled:
        record["repaired"] = {"journal_line": damage.line, "lost_fields": fields.lost, "garbled_fields": fields.garbled}
    if table == "samples":
        record.setdefault("status", "new")
    apply({"op": "put", "t": table, "id": doc_id, "doc": record}, data)
    if not fields.lost:
        return f"{noun} {doc_id}: recovered whole{garbled}"
    damage.lost.extend(f"{noun} {doc_id}: {name}" for name in fields.lost)
    lost = ", ".join(fields.lost)
    if earlier is not None:
        return f"{noun} {doc_id}: {lost} unreadable, earlier values kept; the rest recovered{garbled}"
    return f"{noun} {doc_id}: {lost} lost; the rest recovered (marked repaired){garbled}"


def _preview(values: dict[str, Any]) -> str:
    """A sample's instruction or a seed's text, to recognise a record whose id is unreadable."""
    row = values.get("row") if isinstance(values.get("row"), dict) else {}
    text = values.get("instruction") or row.get("text") or row.get("instruction")
    if not isinstance(text, str) or not text.strip():
        return ""
    flat = " ".join(text.split())
    return f" (“{flat[:40]}{'…' if len(flat) > 40 else ''}”)"


@dataclass
class Repair:
    """What `repair` did."""

    examination: Examination
    moved_to: Path | None  # where the damaged lines went; None when nothing was damaged


def repair(path: Path) -> Repair:
    """Keep every readable change, apply what can be read of damaged lines, move those lines to
    `<store>.damaged` (first, so that a crash part-way loses nothing) and write the store anew."""
    lock = StoreLock(path)
    lock.acquire()
    try:
        examination = examine(path)
        broken = [*examination.damage, *([examination.torn] if examination.torn else [])]
        if not broken:
            return Repair(examination, None)
        moved_to = keep_aside(path, [damage.raw for damage in broken])
        storage = AtomicJSONStorage(path)
        storage.write(examination.data)
        examination.snapshot_bytes = storage.snapshot()
        with contextlib.suppress(FileNotFoundError):
            journal_path(path).unlink()
        fsync_folder(path.parent)
        return Repair(examination, moved_to)
    finally:
        lock.release()


def inspect(path: Path) -> Examination:
    """`examine` under the store's lock, writing nothing: works on a full disk and a read-only folder."""
    lock = StoreLock(path)
    lock.acquire(read_only=True)
    try:
        return examine(path)
    finally:
        lock.release()
