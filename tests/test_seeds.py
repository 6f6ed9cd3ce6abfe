import pytest

from tui.engine.errors import BadInput
from tui.engine.seeds import read_seed_file, seed_text


def test_txt_one_seed_per_line(tmp_path):
    path = tmp_path / "s.txt"
    path.write_text("First seed\n\n  Second seed  \n", encoding="utf-8")
    assert read_seed_file(path).rows == [{"text": "First seed"}, {"text": "Second seed"}]


def test_jsonl_objects_and_strings_with_bad_lines_skipped(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_text('{"instruction": "Explain SFT"}\n"A plain string"\n{broken\n42\n', encoding="utf-8")
    seeds = read_seed_file(path)
    assert seeds.rows == [{"instruction": "Explain SFT"}, {"text": "A plain string"}]
    assert any("s.jsonl:3: not valid JSON" in p for p in seeds.problems)
    assert any("s.jsonl:4: expected an object or a string" in p for p in seeds.problems)


def test_csv_with_header_and_a_ragged_row(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("topic,level\nphotosynthesis,easy\ntoo,many,fields\nLoRA,hard\n", encoding="utf-8")
    seeds = read_seed_file(path)
    assert seeds.rows == [{"topic": "photosynthesis", "level": "easy"}, {"topic": "LoRA", "level": "hard"}]
    assert any("different number of fields" in p for p in seeds.problems)


def test_vietnamese_is_kept_as_written(tmp_path, chapter_passage):
    path = tmp_path / "vi.txt"
    path.write_text(chapter_passage["vi"], encoding="utf-8")
    assert read_seed_file(path).rows[0]["text"].startswith("Dữ liệu giả lập")


def test_empty_file_is_a_clear_error(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_text("\n \n", encoding="utf-8")
    with pytest.raises(BadInput, match=r"empty\.txt: no seeds imported"):
        read_seed_file(path)


def test_non_utf8_lines_are_skipped_and_good_lines_import(tmp_path):
    path = tmp_path / "latin.txt"
    path.write_bytes("good line\n".encode() + "caf\xe9 au lait\n".encode("latin-1") + b"another good one\n")
    seeds = read_seed_file(path)
    assert seeds.rows == [{"text": "good line"}, {"text": "another good one"}]
    assert seeds.problems == [f"{path}:2: not UTF-8 text, skipped"]


def test_wholly_non_utf8_file(tmp_path):
    path = tmp_path / "bin.txt"
    path.write_bytes(b"\xff\xfe\x00\x81\n")
    with pytest.raises(BadInput, match="not UTF-8"):
        read_seed_file(path)


def test_missing_and_unknown_type(tmp_path):
    with pytest.raises(BadInput, match="seed file not found"):
        read_seed_file(tmp_path / "none.txt")
    (tmp_path / "x.pdf").write_text("x")
    with pytest.raises(BadInput, match=r"unknown seed file type \.pdf"):
        read_seed_file(tmp_path / "x.pdf")


def test_seed_text_prefers_named_columns():
    assert seed_text({"level": "easy", "instruction": "Do it"}) == "Do it"
    assert seed_text({"topic": "LoRA"}) == "LoRA"
