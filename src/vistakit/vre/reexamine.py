"""Re-examination questions: how a reflection is written from the model's own answers, with no teacher.

A task with a `reexamine` hook (the synthetic task: `tasks/shapes_reexamine.py`) gives the questions a
chain's reasoning raises, asked of the same image, and builds the reflection from the model's answers.
Other tasks: one generic re-examination instruction per query; the reflection is the model's reply without
its answer line.
"""

from __future__ import annotations

from vistakit.tasks import get_task
from vistakit.tasks.data import Query
from vistakit.tasks.registry import Reexamination
from vistakit.vre.template import strip_answer

GENERIC_INSTRUCTION = "{question}\nLook at the image again and state the visual details that matter for this question."


def _hook(q: Query) -> Reexamination | None:
    """The task's re-examination, for rows with the ground truth it is built on (`scene`)."""
    return get_task(q.task).reexamine if q.scene is not None else None


def questions(q: Query, reasoning: str) -> list[tuple[str, object]]:
    """(question, key) pairs to ask of q's image about `reasoning`."""
    hook = _hook(q)
    if hook is not None:
        return hook.questions(reasoning)
    return [(GENERIC_INSTRUCTION.format(question=q.question), None)]


def reflection(q: Query, asked: list[tuple[str, object]], answers: dict[str, str], max_claims: int) -> str:
    """The reflection the answers to `asked` make."""
    hook = _hook(q)
    if hook is not None:
        return hook.reflection(asked, answers, max_claims)
    return strip_answer(answers.get(asked[0][0], ""))[0]


def prompt(query: Query, question: str) -> str:
    """The instruction that asks `question` of the query's image: the task's own form where it has one;
    the generic question is a full instruction already."""
    hook = get_task(query.task).reexamine
    return hook.prompt(question) if hook is not None else question
