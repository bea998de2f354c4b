"""The task registry: one entry per task (prompt, verifier, grounded labeller, tokenizer texts, metrics split)."""

import pytest

from bench_fixtures import image_bytes
from vistakit.tasks.data import DataError, Query, instruction_for, load_split
from vistakit.tasks.labels import label_response
from vistakit.runfolder import read_jsonl
from vistakit.tasks import Task, get_task, register_task, shapes, task_names
from vistakit.tasks.verify import Verifier, answer_line, number, verify


def test_shapes_registers_its_prompt_verifier_labeller_and_corpus(tmp_path):
    paths = shapes.write_dataset(tmp_path, seed=3, n_train=6, n_seed=3, n_test=2)
    rows = read_jsonl(paths["seed"]) + read_jsonl(paths["train"])
    queries = load_split(paths["seed"]) + load_split(paths["train"])
    task = get_task("shapes")
    # the tiny tokenizer is trained on exactly the texts it always was: shapes.corpus of the seed + train rows
    assert [t for q in queries for t in task.texts(q)] == shapes.corpus(rows)
    q = queries[0]
    assert instruction_for(q) == shapes.question_prompt(q.question)
    label = label_response(q, q.cot)
    assert label["correct"] is True and label["grounded"] is True
    assert label_response(q, "nothing to see\nAnswer: " + q.answer)["grounded"] is False  # no claim: ungrounded


def test_generic_tasks_and_unknown_names():
    q = Query(id="a", question="How many?", answer="3", images=[], task="answer", answer_type="number")
    assert instruction_for(q) == 'How many?\nThink step by step, then give the final answer on a last line as "Answer: <value>".'
    label = label_response(q, "Answer: 3.0")
    assert (label["pred"], label["correct"], label["grounded"]) == ("3.0", True, None)
    assert label["correct_official"] is label["correct_train"] is True  # its two verdicts: test_verify_modes.py
    exact = Query(id="e", question="Colour?", answer="red", images=[], task="exact")
    assert label_response(exact, "Answer: Red") == {"pred": "Red", "correct": True, "grounded": None}  # one verdict
    with pytest.raises(KeyError, match="known tasks: .*chartqa.*shapes.*slake"):
        get_task("no-such-task")
    assert {"shapes", "slake", "vqa-rad", "geometry3k", "scienceqa", "chartqa", "mathvista", "wemath"} <= set(task_names())


def test_a_new_task_is_one_registration(tmp_path):
    register_task(Task("test-count", Verifier(answer_line, number), prompt=lambda q: f"Count: {q.question}",
                       group_by="kind", headline="mean_of_groups"))
    assert verify("test-count", "Answer: 4", "4.0") == ("4", True)  # the verifier is in vistakit.tasks.verify too
    (tmp_path / "x.png").write_bytes(image_bytes(0))
    (tmp_path / "t.jsonl").write_text('{"id": "1", "question": "dots", "answer": "4", "image": "x.png", "task": "test-count"}\n')
    (q,) = load_split(tmp_path / "t.jsonl")
    assert instruction_for(q) == "Count: dots"
    (tmp_path / "u.jsonl").write_text('{"id": "1", "question": "dots", "answer": "4", "image": "x.png", "task": "nope"}\n')
    with pytest.raises(DataError, match=r"u.jsonl:1: field 'task': no verifier for task 'nope'"):
        load_split(tmp_path / "u.jsonl")
    with pytest.raises(ValueError, match="headline"):
        register_task(Task("test-bad", Verifier(answer_line, number), headline="median"))
