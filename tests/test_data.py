import json

import pytest
from PIL import Image

from vistakit.tasks.data import DataError, load_split


def _write(tmp_path, rows):
    Image.new("RGB", (8, 8)).save(tmp_path / "ok.png")
    f = tmp_path / "test.jsonl"
    f.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return f


def test_loads_rows(tmp_path):
    f = _write(tmp_path, [{"id": "a", "question": "q?", "answer": 3, "image": "ok.png", "level": 1}])
    (q,) = load_split(f, "exact")
    assert (q.id, q.answer, q.level, q.images) == ("a", "3", 1, [tmp_path / "ok.png"])


def test_row_without_answer_names_file_line_field(tmp_path):
    f = _write(tmp_path, [{"id": "a", "question": "q", "answer": "x", "image": "ok.png"},
                          {"id": "b", "question": "q", "image": "ok.png"}])
    with pytest.raises(DataError, match=r"test.jsonl:2: row 'b' has no field 'answer'"):
        load_split(f)


def test_missing_image(tmp_path):
    f = _write(tmp_path, [{"id": "a", "question": "q", "answer": "x", "image": "gone.png"}])
    with pytest.raises(DataError, match=r"test.jsonl:1: field 'image': file not found: .*gone.png"):
        load_split(f)


def test_corrupt_image(tmp_path):
    (tmp_path / "bad.png").write_bytes(b"\x89PNG not really")
    f = _write(tmp_path, [{"id": "a", "question": "q", "answer": "x", "image": "bad.png"}])
    with pytest.raises(DataError, match=r"test.jsonl:1: field 'image': cannot read image .*bad.png"):
        load_split(f)


def test_bad_json_and_duplicates(tmp_path):
    f = tmp_path / "t.jsonl"
    f.write_text('{"id": 1\n')
    with pytest.raises(DataError, match=r"t.jsonl:1: not valid JSON"):
        load_split(f)
    f = _write(tmp_path, [{"id": "a", "question": "q", "answer": "x", "image": "ok.png"}] * 2)
    with pytest.raises(DataError, match="duplicate id 'a'"):
        load_split(f)


def test_ids_that_become_the_same_string_are_duplicates(tmp_path):
    """7 and "7" passed the check (raw JSON values differ) and then shared one id: a kept sample of one row
    was trained with the other row's question and image."""
    row = {"question": "q", "answer": "x", "image": "ok.png"}
    f = _write(tmp_path, [{"id": 7, **row}, {"id": "7", **row}])
    with pytest.raises(DataError, match=r"test.jsonl:2: duplicate id '7'"):
        load_split(f)
    for bad in (True, [1], 1.5):
        f = _write(tmp_path, [{"id": bad, **row}])
        with pytest.raises(DataError, match=r"test.jsonl:1: field 'id' must be a string or an integer"):
            load_split(f)


@pytest.mark.parametrize("field, value, message", [
    ("answer", ["2", "3"], "field 'answer' must be a string or a number"),
    ("answer", True, "field 'answer' must be a string or a number"),
    ("question", ["q"], "field 'question' must be a string, got list"),
    ("answer_type", "numbr", "field 'answer_type' must be one of number, option, word, yes_no for task 'answer'"),
])
def test_field_types_are_checked_with_file_line_field(tmp_path, field, value, message):
    row = {"id": "a", "question": "q", "answer": "2", "image": "ok.png", "answer_type": "number", field: value}
    f = _write(tmp_path, [row])
    with pytest.raises(DataError, match=rf"test.jsonl:1: {message}"):
        load_split(f, "answer")


def test_a_file_that_is_not_utf8_names_its_line(tmp_path):
    Image.new("RGB", (8, 8)).save(tmp_path / "ok.png")
    f = tmp_path / "latin.jsonl"
    good = json.dumps({"id": "a", "question": "q", "answer": "x", "image": "ok.png"})
    bad = json.dumps({"id": "b", "question": "caf\u00e9?", "answer": "x", "image": "ok.png"}, ensure_ascii=False)
    f.write_bytes((good + "\n" + bad + "\n").encode("latin-1"))
    with pytest.raises(DataError, match=r"latin.jsonl:2: not UTF-8 text"):
        load_split(f)
