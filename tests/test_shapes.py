import io
import json

import pytest

from vistakit.tasks.shapes import (CELL, COLS, RGB, ROWS, build_split, chance_accuracy, claim_accuracy, corpus,
                                   label_grounded, pair_key, parse_claims, prior_accuracy, question_prompt, render,
                                   write_dataset)
from vistakit.tasks.verify import verify

SCENE = {"objects": [
    {"color": "red", "shape": "circle", "row": 0, "col": 0},
    {"color": "blue", "shape": "square", "row": 1, "col": 1},
    {"color": "green", "shape": "triangle", "row": 2, "col": 2},
]}


def _png(scene) -> bytes:
    buf = io.BytesIO()
    render(scene).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def rows():
    return build_split(0, "train", 300)


def test_same_seed_same_rows_and_pngs():
    a, b = build_split(7, "test", 40), build_split(7, "test", 40)
    assert a == b
    assert [_png(r["scene"]) for r in a] == [_png(r["scene"]) for r in b]


def test_different_seed_or_split_differs():
    a = build_split(7, "test", 40)
    assert a != build_split(8, "test", 40)
    assert [r["scene"] for r in a] != [r["scene"] for r in build_split(7, "train", 40)]


def test_rows_are_json_and_have_the_shared_schema(rows):
    keys = {"id", "task", "split", "level", "image", "question", "answer", "answer_type", "cot", "cot_source", "scene",
            "caption", "prior_answer"}
    for r in rows:
        assert set(r) == keys
        assert json.loads(json.dumps(r)) == r
        assert r["image"] == f"images/{r['id']}.png"
        assert r["answer_type"] in ("number", "yes_no", "word")


def test_gold_cot_is_grounded_and_correct(rows):
    for r in rows:
        assert r["cot"].splitlines()[-1] == f"Answer: {r['answer']}"
        assert label_grounded(r["cot"], r["scene"]), r
        assert claim_accuracy(r["cot"], r["scene"]) == 1.0
        assert verify("shapes", r["cot"], r["answer"], answer_type=r["answer_type"]) == (r["answer"], True)
        assert len(r["cot"].split()) < 60


def test_every_question_type_occurs(rows):
    openings = ("What color is the", "What shape is the", "Is there a", "How many", "Are there more")
    for opening in openings:
        assert any(r["question"].startswith(opening) for r in rows), opening


def test_correct_answer_with_false_claim_is_ungrounded():
    # SCENE: one red circle, one blue square, one green triangle
    response = "red circle: 1\nred square: 1\nred shapes: 1\nAnswer: 1"
    assert verify("shapes", response, "1", answer_type="number")[1]
    assert not label_grounded(response, SCENE)
    assert claim_accuracy(response, SCENE) == 2 / 3
    assert label_grounded("red circle: 1\nred shapes: 1\nAnswer: 1", SCENE)
    # a true zero count is a true claim
    assert label_grounded("yellow circle: 0\nAnswer: no", SCENE)
    assert not label_grounded("blue square: 0\nAnswer: no", SCENE)


def test_no_claims_is_ungrounded():
    assert not label_grounded("Answer: red", SCENE)
    assert claim_accuracy("Answer: red", SCENE) is None


def test_parse_claims_tolerates_spacing_and_case():
    text = "  Red   Circle :2\nBLUE shapes: 3.\ntriangles:0\nredcircle: 1\ncircles 2\n2 is more than 1"
    assert parse_claims(text) == [("red", "circle", 2), ("blue", None, 3), (None, "triangle", 0)]
    # "red circles: 2" is not a claim about all circles
    assert parse_claims("red circles: 2\nso circles: 1") == []


def test_render_colours_occupied_cells_and_leaves_others_black():
    image = render(SCENE)
    assert image.size == (84, 84) and image.mode == "RGB"
    occupied = {(o["row"], o["col"]): RGB[o["color"]] for o in SCENE["objects"]}
    for row in range(len(ROWS)):
        for col in range(len(COLS)):
            cx, cy = col * CELL + CELL // 2, row * CELL + CELL // 2
            centre = {image.getpixel((cx + dx, cy + dy)) for dx in (-2, 0, 1) for dy in (-2, 0, 1)}
            assert centre == {occupied.get((row, col), (0, 0, 0))}
            # objects stay inside their cell: the cell border is black
            border = {image.getpixel((col * CELL + i, row * CELL)) for i in range(CELL)}
            assert border == {(0, 0, 0)}


def test_levels_are_balanced(rows):
    counts = [sum(r["level"] == level for r in rows) for level in (1, 2, 3)]
    assert counts == [100, 100, 100]
    assert {r["level"] for r in build_split(0, "train", 30, levels=(2,))} == {2}


def test_priors_beat_chance():
    big = build_split(1, "train", 2000)
    chance, prior = chance_accuracy(big), prior_accuracy(big)
    assert 0.2 < chance < prior
    assert prior > chance + 0.1


def test_write_dataset_keeps_test_apart(tmp_path):
    paths = write_dataset(tmp_path, 3, n_train=300, n_seed=30, n_test=100)
    assert set(paths) == {"train", "seed", "test"}
    loaded = {s: [json.loads(line) for line in p.read_text().splitlines()] for s, p in paths.items()}
    assert [len(loaded[s]) for s in ("train", "seed", "test")] == [300, 30, 100]
    others = {pair_key(r["scene"], r["question"]) for s in ("train", "seed") for r in loaded[s]}
    assert not others & {pair_key(r["scene"], r["question"]) for r in loaded["test"]}
    for r in loaded["test"][:5]:
        assert (tmp_path / r["image"]).read_bytes() == _png(r["scene"])


def test_test_split_skips_excluded_pairs():
    test = build_split(0, "test", 20)
    skipped = build_split(0, "test", 20, exclude=frozenset({pair_key(test[0]["scene"], test[0]["question"])}))
    assert (skipped[0]["scene"], skipped[0]["question"]) != (test[0]["scene"], test[0]["question"])
    assert skipped[0]["id"] == "shapes-test-000000" and skipped[0]["level"] == 1


def test_corpus_covers_prompts_and_chains(rows):
    texts = corpus(rows[:3])
    assert texts[0] == question_prompt(rows[0]["question"]) and texts[1] == rows[0]["cot"]
    assert len(texts) == 6


def test_caption_names_every_object_in_reading_order():
    from vistakit.tasks.shapes import caption

    scene = {"objects": [{"color": "red", "shape": "circle", "row": 0, "col": 1},
                         {"color": "blue", "shape": "square", "row": 2, "col": 0}]}
    assert caption(scene) == "Objects: red circle, blue square."


def test_prior_label_marks_the_answer_the_question_suggests_against_the_image():
    from vistakit.tasks.data import Query
    from vistakit.tasks.labels import label_response
    from vistakit.tasks.shapes import build_split, typical_count

    q = Query(id="q", question="How many red shapes are there?", answer="3", images=[], task="shapes",
              answer_type="number", extra={"prior_answer": "1"})
    assert label_response(q, "red shapes: 1\nAnswer: 1")["prior"] is True  # followed the prior, against the image
    assert label_response(q, "red shapes: 3\nAnswer: 3")["prior"] is False
    assert label_response(q, "no answer line")["prior"] is False
    agree = Query(id="q", question="How many red shapes are there?", answer="1", images=[], task="shapes",
                  answer_type="number", extra={"prior_answer": "1"})
    assert "prior" not in label_response(agree, "Answer: 1")  # prior and image agree: nothing to tell
    rows = {r["question"]: r for r in build_split(0, "test", 300) if r["question"] == "How many red shapes are there?"}
    assert rows["How many red shapes are there?"]["prior_answer"] == str(typical_count("red"))
