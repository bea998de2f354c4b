"""WeMath (Qiao et al., 2024), testmini: multiple-choice visual maths problems, decomposed into 1-3 steps.

Sources: the hub copy `We-Math/We-Math` (columns `ID` ("3steps_165"), `split`, `knowledge concept`,
`question`, `option` ("A. 200.96;B. 3215.36;C. 6280;D. 32;E. No correct answer"), `answer` (a letter),
`image_path` (the Image), `key` ("3steps_3", "2steps_multi", ...), `question number`, `knowledge concept
description`; split testmini), or the original release (https://github.com/We-Math/We-Math): `testmini.json`,
a list of the same records with `image_path` a file path relative to the folder.

Rows are identified by `question number` (a problem's sub-questions share its `ID`, kept as `problem`).
Scoring: per-question accuracy on the option letter (`tasks/choice.py`), split by the number of steps (the
`ID` prefix). WeMath's four-dimensional metrics (insufficient knowledge, inadequate generalisation, complete
mastery, rote memorisation), which join the answers of a problem's sub-questions through `key`, are not
computed here: the rows keep `problem` and `key` so they can be computed from the evaluation's samples.
"""

from __future__ import annotations

import re
from pathlib import Path

from vistakit.tasks.data import DataError
from vistakit.tasks.benchmark import Benchmark, hub_image, need, read_json, register_benchmark
from vistakit.tasks.choice import OPTION, option_prompt
from vistakit.tasks.registry import Task, register_task
from vistakit.tasks.verify import option_letters


def parse_options(text: str, where: str) -> list[str]:
    """'A. 200.96;B. 3215.36; E. No correct answer' -> ['200.96', '3215.36', ...] (letters must run A, B, ...)."""
    parts = [p.strip() for p in re.split(r";\s*(?=[A-J]\s*[.:：])", text.strip()) if p.strip()]
    found = [re.match(r"([A-J])\s*[.:：]\s*(.*)$", p, re.DOTALL) for p in parts]
    letters = "".join(m.group(1) for m in found if m)
    if not found or not all(found) or letters != option_letters(len(found)):
        raise DataError(f"{where}: field 'option' must read 'A. ...;B. ...', got {text!r}")
    return [m.group(2).strip().rstrip(";").strip() for m in found]


def _row(r, where: str) -> dict:
    choices = parse_options(need(r, "option", where), where)
    answer = need(r, "answer", where).strip().upper()
    if answer not in option_letters(len(choices)):
        raise DataError(f"{where}: field 'answer' must be one of {option_letters(len(choices))}, got {answer!r}")
    problem = str(need(r, "ID", where, (str, int)))  # shared by a problem's sub-questions
    number = need(r, "question number", where, (int, str))
    return {"id": f"wemath-testmini-{number}", "question": need(r, "question", where).strip(), "choices": choices,
            "answer": answer, "answer_type": "option", "steps": problem.split("_")[0], "problem": problem,
            "key": r.get("key"), "knowledge_concept": r.get("knowledge concept")}


def is_release(path: Path) -> bool:
    return (path / "testmini.json").exists()


def from_release(root: Path, split: str):
    path = root / "testmini.json"
    records = read_json(path, list)
    for i, r in enumerate(records):
        where = f"{path}: record {i}"
        yield _row(r, where), [root / need(r, "image_path", where)], where


def from_hub(ds, split: str, where: str):
    for i, r in enumerate(ds):
        at = f"{where} row {i}"
        yield _row(r, at), [hub_image(r.get("image_path"), at, "image_path")], at


register_task(Task("wemath", OPTION, prompt=lambda q: option_prompt(q.question, q.choices or []), group_by="steps"))
register_benchmark(Benchmark(
    name="wemath", title="WeMath (testmini)", hf_id="We-Math/We-Math", release_url="https://github.com/We-Math/We-Math",
    release_files="testmini.json and the images at its image_path", splits=("testmini",), eval_split="testmini",
    is_release=is_release, from_release=from_release, from_hub=from_hub,
))
