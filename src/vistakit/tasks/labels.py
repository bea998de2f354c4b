"""Label a response: extracted answer, correct (the task's verifier), grounded (where the task knows), and the
task's extra scores (e.g. token recall on open medical questions) when it has any, and on tasks that can tell,
whether the chain was written without looking (`no_look`).

`prior`: on rows with a `prior_answer` field (the answer the question's wording alone suggests; the synthetic
task writes it) that differs from the gold answer, whether the response gave that answer: it followed the
language prior against the image. None where the prior and the image agree (nothing to tell)."""

from __future__ import annotations

from vistakit.tasks.data import Query
from vistakit.tasks import get_task
from vistakit.tasks.verify import check


def label_response(query: Query, response: str) -> dict:
    verdict = check(query.task, response, query.answer, answer_type=query.answer_type, choices=query.choices)
    task = get_task(query.task)
    grounded = task.grounded(query, response) if task.grounded is not None else None
    label = {"pred": verdict.pred, "correct": verdict.correct, "grounded": grounded}
    if task.no_look is not None:
        label["no_look"] = task.no_look(response)
    prior = query.extra.get("prior_answer")
    if prior is not None and str(prior).strip().lower() != str(query.answer).strip().lower():
        label["prior"] = verdict.pred is not None and str(verdict.pred).strip().lower() == str(prior).strip().lower()
    if verdict.scores:
        label["scores"] = verdict.scores
    return label
