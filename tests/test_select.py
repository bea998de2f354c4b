import pytest

from vistakit.sampling.rationalize import hinted_instruction
from vistakit.tasks.data import DataError, Query, instruction_for
from vistakit.evaluation.evaluate import summarize
from vistakit.training.select import check_scene_labels, drop_ungrounded, select_correct


def _r(q, resp, correct, finished=True, level=1, grounded=None):
    return {"query_id": q, "response": resp, "correct": correct, "finished": finished, "level": level,
            "pred": "x", "grounded": grounded}


def test_select_keeps_correct_and_says_why():
    records = [_r("a", "one", True), _r("a", "one ", True), _r("a", "two", False), _r("b", "one", True),
               _r("b", "long", True, finished=False)]
    reasons = [d["reason"] for d in select_correct(records, dedup=True)]
    assert reasons == ["kept", "duplicate", "incorrect", "kept", "unfinished"]
    reasons = [d["reason"] for d in select_correct(records, dedup=False)]
    assert reasons == ["kept", "kept", "incorrect", "kept", "unfinished"]


def test_oracle_drops_only_kept_positives_that_are_not_grounded():
    records = [_r("a", "one", True, grounded=True), _r("a", "two", True, grounded=False), _r("a", "three", False, grounded=False),
               _r("b", "one", True, grounded=False), _r("b", "one", True, grounded=True)]
    decisions = drop_ungrounded(select_correct(records, dedup=True))
    assert [d["reason"] for d in decisions] == ["kept", "ungrounded", "incorrect", "ungrounded", "duplicate"]
    assert [d["kept"] for d in decisions] == [True, False, False, False, False]


def test_oracle_needs_scene_labels_and_names_the_row(tmp_path):
    shapes = Query(id="s", question="How many red shapes are there?", answer="2", images=[], task="shapes",
                   scene={"shapes": []})
    check_scene_labels([shapes], tmp_path / "train.jsonl")  # the synthetic task: every row can be labelled
    with pytest.raises(DataError, match=r"train.jsonl: row 2 \(id 'x'\): field 'scene'"):
        check_scene_labels([shapes, Query(id="x", question="q", answer="1", images=[], task="shapes")],
                           tmp_path / "train.jsonl")
    with pytest.raises(DataError, match="task 'exact'"):  # a task that cannot tell grounded, scene or not
        check_scene_labels([Query(id="e", question="q", answer="1", images=[], task="exact", scene={})], "t.jsonl")


def test_star_hint_is_not_in_the_training_prompt():
    q = Query(id="a", question="How many red shapes are there?", answer="2", images=[], task="shapes")
    assert "the answer is 2" in hinted_instruction(q)
    assert "2" not in instruction_for(q) and instruction_for(q) in hinted_instruction(q)


def test_summary_per_level_and_grounded_rate():
    records = [_r("a", "", True, level=1, grounded=True), _r("b", "", True, level=1, grounded=False),
               _r("c", "", False, level=2, grounded=True), _r("d", "", True, level=2, grounded=True)]
    m = summarize(records)
    assert m["accuracy"] == 0.75
    assert m["grounded_rate_of_correct"] == 2 / 3
    assert m["by_level"]["1"]["accuracy"] == 1.0 and m["by_level"]["2"]["accuracy"] == 0.5
    assert m["by_level"]["1"]["grounded_rate_of_correct"] == 0.5
