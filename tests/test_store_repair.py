"""`smolgen store check` and `smolgen store repair` on journals damaged as disks damage them."""

import pytest

import tui.engine.store as store_module
from tui.cli import main
from tui.engine.store import SampleStore


def _sample(i: int) -> dict:
    question = f"Question {i}: what is a small model?"
    answer = f"Answer {i}: a model with few parameters. " * 3
    return {
        "technique": "magpie",
        "instruction": question,
        "response": answer,
        "conversation": [{"role": "user", "content": question}, {"role": "assistant", "content": answer}],
        "settings": {"seed": 9, "temperature": 0.7},
    }


@pytest.fixture
def journalled(tmp_path, monkeypatch):
    """A store whose changes are all still in its journal: 6 samples, then samples 1 and 2 accepted."""
    monkeypatch.setattr(store_module, "COMPACT_ON_CLOSE_BELOW_BYTES", 0)
    path = tmp_path / "s.json"
    with SampleStore(path) as store:
        for i in range(6):
            store.add_sample(_sample(i))
        store.set_status([1, 2], "accepted")
    return path


def _lines(path):
    return path.with_name(path.name + ".journal").read_bytes().split(b"\n")


def _write(path, lines):
    path.with_name(path.name + ".journal").write_bytes(b"\n".join(lines))


def _garble(line: bytes, at: int, junk: bytes = b'\x00\xff"#') -> bytes:
    return line[:at] + junk + line[at + len(junk):]


def _run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_damage_in_the_first_middle_and_last_lines_is_reported_then_repaired_field_by_field(journalled, capsys):
    path = journalled
    lines = _lines(path)  # 6 puts, 1 set, then "" after the last newline
    lines[0] = lines[0].replace(b'"t":"samples"', b'"t":"sampleq"')  # a flipped bit in the table's name
    middle = lines[3]
    lines[3] = _garble(middle, middle.index(b'"response"') + 30)  # inside sample 4's response
    lines[6] = lines[6].replace(b'"ids"', b'"i#s"')  # the status change's key
    _write(path, lines)
    damaged_bytes = [lines[0], lines[3], lines[6]]

    code, _, err = _run(capsys, "stats", "--store", str(path))
    assert code == 1 and err.count("\n") == 1 and "damaged lines 1, 4, 7 (of 7)" in err and "smolgen store repair" in err

    before = path.with_name("s.json.journal").read_bytes()
    code, out, _ = _run(capsys, "store", "check", "--store", str(path))
    assert code == 1
    assert "holds 6 samples" in out and "3 damaged journal lines" in out
    assert "line 1 (unknown table 'sampleq'): sample 1: recovered whole" in out
    assert "line 4 (not JSON" in out and "sample 4: response lost; the rest recovered" in out
    assert "line 7 (a set without a list of ids): samples 1, 2: status, reviewed recovered" in out
    assert path.with_name("s.json.journal").read_bytes() == before  # check writes nothing

    code, out, _ = _run(capsys, "store", "repair", "--store", str(path))
    assert code == 0
    assert "3 damaged lines of 7; every readable change kept" in out
    assert "not recovered: sample 4: response\n" in out
    assert path.with_name("s.json.damaged").read_bytes() == b"".join(line + b"\n" for line in damaged_bytes)

    with SampleStore(path) as store:
        samples = {s["id"]: s for s in store.list_samples()}
    assert sorted(samples) == [1, 2, 3, 4, 5, 6]
    assert samples[1]["status"] == samples[2]["status"] == "accepted"
    assert samples[4]["instruction"] == _sample(3)["instruction"] and "response" not in samples[4]
    assert samples[4]["conversation"] == _sample(3)["conversation"]  # the fields after the damage are read too
    assert samples[4]["repaired"] == {"journal_line": 4, "lost_fields": ["response"], "garbled_fields": []}
    assert all(samples[i]["response"] == _sample(i - 1)["response"] for i in (1, 2, 3, 5, 6))

    code, out, _ = _run(capsys, "store", "check", "--store", str(path))
    assert code == 0 and "nothing damaged" in out and "3 lines set aside earlier" in out


def test_unreadable_characters_in_a_text_keep_the_text_and_say_so(journalled, capsys):
    lines = _lines(journalled)
    lines[1] = lines[1].replace(b"a model with few", b"a model \xff\x01ith few", 1)
    _write(journalled, lines)
    code, out, _ = _run(capsys, "store", "repair", "--store", str(journalled))
    assert code == 0 and "sample 2: recovered whole; response kept with unreadable characters" in out
    with SampleStore(journalled) as store:
        assert store.get_sample(2)["response"].startswith("Answer 1: a model \ufffd\x01ith few")


def test_a_lost_newline_joining_two_changes_recovers_both(journalled, capsys):
    lines = _lines(journalled)
    lines[1:3] = [lines[1] + b"\x0b" + lines[2]]
    _write(journalled, lines)
    code, out, _ = _run(capsys, "store", "repair", "--store", str(journalled))
    assert code == 0 and "line 2: sample 2: recovered whole; sample 3: recovered whole" in out
    with SampleStore(journalled) as store:
        assert len(store.list_samples()) == 6


def test_a_journal_cut_mid_line_repairs_the_cut_sample_from_what_is_left(journalled, capsys):
    lines = _lines(journalled)
    last_put = lines[5]
    cut = last_put[: last_put.index(b'"conversation"') + 20]  # instruction and response whole, conversation cut
    _write(journalled, [*lines[:5], cut])
    code, out, _ = _run(capsys, "store", "check", "--store", str(journalled))
    assert code == 0 and "the last line is cut off" in out and "sample 6: conversation lost" in out
    code, out, _ = _run(capsys, "store", "repair", "--store", str(journalled))
    assert code == 0 and "not recovered: sample 6: conversation" in out
    with SampleStore(journalled) as store:
        sample = store.get_sample(6)
    assert sample["response"] == _sample(5)["response"] and sample["repaired"]["lost_fields"] == ["conversation"]


def test_a_record_whose_id_is_unreadable_is_named_by_its_instruction(journalled, capsys):
    lines = _lines(journalled)
    lines[2] = lines[2].replace(b'"id":3,', b'"id":#,')
    _write(journalled, lines)
    code, out, _ = _run(capsys, "store", "repair", "--store", str(journalled))
    assert code == 0
    assert "not recovered: a sample (“Question 2: what is a small model?”) (id unreadable)" in out
    with SampleStore(journalled) as store:
        assert [s["id"] for s in store.list_samples()] == [1, 2, 4, 5, 6]


def test_a_healthy_store_needs_no_repair(journalled, capsys):
    code, out, _ = _run(capsys, "store", "check", "--store", str(journalled))
    assert code == 0 and "holds 6 samples (4 new, 2 accepted)" in out and "nothing damaged" in out
    code, out, _ = _run(capsys, "store", "repair", "--store", str(journalled))
    assert code == 0 and "nothing damaged; nothing changed" in out
    assert not journalled.with_name("s.json.damaged").exists()
