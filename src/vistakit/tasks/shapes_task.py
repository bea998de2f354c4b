"""Registers the embedded synthetic task (`tasks/shapes.py`) in the task registry: its prompt, its verifier
(the answer line, matched by the row's answer_type), its grounded labeller, its tokenizer corpus and VRE's re-examination (`shapes_reexamine.py`)."""

from __future__ import annotations

from vistakit.tasks import shapes, shapes_reexamine
from vistakit.tasks.registry import Reexamination, Task, register_task
from vistakit.tasks.verify import ANSWER_TYPES, Verifier, answer_line, exact

register_task(Task(
    name="shapes",
    verifier=Verifier(answer_line, exact, ANSWER_TYPES),
    prompt=lambda q: shapes.question_prompt(q.question),
    grounded=lambda q, response: shapes.label_grounded(response, q.scene) if q.scene is not None else None,
    no_look=shapes.made_without_looking,
    # exactly the texts `shapes.corpus` gives a row, so the tiny tokenizer is the one it always was
    corpus=lambda q: shapes.corpus([{"question": q.question, "cot": q.cot}]),
    reexamine=Reexamination(shapes_reexamine.questions, shapes_reexamine.reflection, shapes_reexamine.prompt,
                            shapes_reexamine.gain),
))
