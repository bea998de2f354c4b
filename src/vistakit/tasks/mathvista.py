"""MathVista (Lu et al., 2024), testmini: mathematical reasoning in visual contexts (VRE's evaluation).

Sources: the hub copy `AI4Math/MathVista` (columns `pid, question, image` (a file name), `decoded_image`
(the Image), `choices` (list or null), `unit, precision, answer, question_type` ("multi_choice" /
"free_form"), `answer_type` ("text", "integer", "float", "list"), `metadata` (with `task`), `query`; splits
testmini (1,000, with answers) and test (answers withheld: not supported)), or the original release
(https://mathvista.github.io, https://github.com/lupantech/MathVista): `testmini.json` (or
`annot_testmini.json`), an object pid -> the same fields, with images at the record's `image` path.

Scoring, after MathVista's `calculate_score.py` minus its GPT answer extractor (our extractor reads the
`Answer:` line): multiple choice by option letter (`tasks/choice.py`; MathVista's scorer falls back to the
most similar choice, we count an unreadable answer wrong); integers by numeric equality; floats rounded to the
question's `precision` (the gold is written at that precision; `verify.at_gold_precision`, LaTeX forms by
math-verify); lists by math-verify; text by normalised exact match. Metrics are split by `metadata.task`
(figure QA, geometry problem solving, math word problems, textbook QA, visual QA).
"""

from __future__ import annotations

from pathlib import Path

from vistakit.tasks.data import DataError
from vistakit.tasks.benchmark import Benchmark, hub_image, need, read_json, register_benchmark
from vistakit.tasks.choice import COT, OPTION, letter_of, option_prompt
from vistakit.tasks.registry import Task, register_task
from vistakit.tasks.train_verifier import (NUMBERS, YES_NO, TrainRules, math_form, number_form, number_words, rule,
                                           words)
from vistakit.tasks.verify import Verifier, at_gold_precision, exact, final_answer, math_equal, number

ANSWER_TYPES = ("integer", "float", "list", "text")


def prompt(query) -> str:
    if query.answer_type == "option":
        return option_prompt(query.question, query.choices or [])
    precision = query.extra.get("precision")
    what = {"integer": "an integer", "list": "a Python list", "text": "a word or a short phrase",
            "float": f"a number with {int(precision or 1)} decimal place{'s' if int(precision or 1) > 1 else ''}"}[query.answer_type]
    unit = f" (in {query.extra['unit']}, without the unit)" if query.extra.get("unit") else ""
    return f'{query.question}\n{COT} give the final answer as {what}{unit} on a last line as "Answer: <answer>".'


def _row(r, pid: str, where: str) -> dict:
    answer = str(need(r, "answer", where, (str, int, float))).strip()
    question_type = need(r, "question_type", where)
    row = {"id": f"mathvista-testmini-{pid}", "question": need(r, "question", where).strip(), "unit": r.get("unit") or None,
           "subtask": (r.get("metadata") or {}).get("task")}
    if question_type == "multi_choice":
        choices = need(r, "choices", where, (list,))
        if answer not in [str(c) for c in choices]:
            raise DataError(f"{where}: field 'answer' {answer!r} is none of the choices {choices!r}")
        return {**row, "choices": [str(c) for c in choices], "answer": letter_of([str(c) for c in choices].index(answer)),
                "answer_type": "option"}
    if question_type != "free_form":
        raise DataError(f"{where}: field 'question_type' must be multi_choice or free_form, got {question_type!r}")
    kind = need(r, "answer_type", where)
    if kind not in ANSWER_TYPES:
        raise DataError(f"{where}: field 'answer_type' must be one of {', '.join(ANSWER_TYPES)}, got {kind!r}")
    if kind == "float":
        precision = need(r, "precision", where, (int, float))
        try:
            answer = f"{float(answer):.{int(precision)}f}"  # the gold carries the precision it is scored at
        except ValueError:
            raise DataError(f"{where}: field 'answer' {answer!r} is not a number (answer_type float)") from None
        row["precision"] = int(precision)
    return {**row, "answer": answer, "answer_type": kind}


def is_release(path: Path) -> bool:
    return (path / "testmini.json").exists() or (path / "annot_testmini.json").exists()


def from_release(root: Path, split: str):
    path = root / "testmini.json" if (root / "testmini.json").exists() else root / "annot_testmini.json"
    records = read_json(path, dict)
    for pid, r in records.items():
        where = f"{path}: problem {pid}"
        yield _row(r, str(pid), where), [root / need(r, "image", where)], where


def from_hub(ds, split: str, where: str):
    for i, r in enumerate(ds):
        at = f"{where} row {i}"
        pid = str(r.get("pid") or f"{i:05d}")
        yield _row(r, pid, at), [hub_image(r.get("decoded_image"), at, "decoded_image")], at


# train verdict (tasks/train_verifier.py), by answer type; options: tasks/choice.py's
TRAIN = TrainRules((rule("words", words), *YES_NO), {
    "integer": NUMBERS, "list": (rule("math_form", math_form),), "text": (rule("words", words), *YES_NO),
    "float": (rule("number_form", number_form, how="precision"), rule("number_words", number_words, how="precision"))})
register_task(Task("mathvista", Verifier(final_answer, exact, {
    "option": OPTION, "integer": number, "float": at_gold_precision, "list": math_equal, "text": exact}, train=TRAIN),
    prompt=prompt, group_by="subtask"))
register_benchmark(Benchmark(
    name="mathvista", title="MathVista (testmini)", hf_id="AI4Math/MathVista",
    release_url="https://github.com/lupantech/MathVista", release_files="testmini.json (or annot_testmini.json) and images/",
    splits=("testmini",), eval_split="testmini", is_release=is_release, from_release=from_release, from_hub=from_hub,
))
