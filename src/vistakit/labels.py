"""Label a response: extracted answer, correct (the task's verifier), grounded (where the task knows)."""

from __future__ import annotations

from vistakit.data import Query
from vistakit.verify import verify


def label_response(query: Query, response: str) -> dict:
    pred, correct = verify(query.task, response, query.answer, answer_type=query.answer_type)
    grounded = None
    if query.scene is not None and query.task == "shapes":
        from vistakit.tasks.shapes import label_grounded

        grounded = label_grounded(response, query.scene)
    return {"pred": pred, "correct": bool(correct), "grounded": grounded}
