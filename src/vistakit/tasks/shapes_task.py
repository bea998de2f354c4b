"""Registers the embedded synthetic task (`tasks/shapes.py`) in the task registry: its prompt, its verifier
(the answer line, matched by the row's answer_type), its grounded labeller, its tokenizer corpus and VRE's re-examination (`shapes_reexamine.py`).

Its train verdict (`verify.mode: train`, docs/verification.md) reads the same answer line, then the rules the
benchmark readers use for the row's answer type: counts in words or with a unit (`three`, `n = 3`), yes/no
sentences and synonyms (`Nope`), colours and shapes up to articles and parentheses (`A circle.`), a response
that is only the answer (`Three.`); hedges are wrong. The official verdict is the matcher alone, unchanged."""

from __future__ import annotations

from vistakit.tasks import shapes, shapes_reexamine
from vistakit.tasks.registry import Reexamination, Task, register_task
from vistakit.tasks.train_verifier import ANSWER_LINE
from vistakit.tasks.verify import ANSWER_TYPES, Verifier, answer_line, exact

register_task(Task(
    name="shapes",
    verifier=Verifier(answer_line, exact, ANSWER_TYPES, train=ANSWER_LINE),
    prompt=lambda q: shapes.question_prompt(q.question),
    grounded=lambda q, response: shapes.label_grounded(response, q.scene) if q.scene is not None else None,
    no_look=shapes.made_without_looking,
    # exactly the texts `shapes.corpus` gives a row, so the tiny tokenizer is the one it always was
    corpus=lambda q: shapes.corpus([{"question": q.question, "cot": q.cot}]),
    reexamine=Reexamination(shapes_reexamine.questions, shapes_reexamine.reflection, shapes_reexamine.prompt,
                            shapes_reexamine.gain),
))
