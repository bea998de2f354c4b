import json

import pytest
from PIL import Image

from vistakit.data import DataError, load_split


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
