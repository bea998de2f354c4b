"""The task registry: everything vistakit needs to know about a row's task, in one entry.

A task is named by a row's `task` field (or `data.task` for every row). Its entry gives
- `prompt(query)`: the instruction the model sees (question + answer-format hint);
- `verifier`: how the final answer is read and matched (`vistakit.tasks.verify`; registered there under the same name);
- `grounded(query, response)`: whether a chain's claims are true of the image, on tasks that can tell (else None);
- `no_look(response)`: whether a chain was written without looking, on tasks that can tell (the synthetic
  task's guess mode; else None);
- `texts(query)`: the text the embedded tiny model's tokenizer is trained on;
- `reexamine`: VRE's task-specific part, where the task has one (the re-examination questions of a chain,
  the reflection its answers make, the ground-truth judge of a reflection); else VRE's generic question;
- `group_by` / `headline`: the row field that splits the evaluation metrics (e.g. closed/open) and whether the
  benchmark's headline number is the plain accuracy or the mean over those groups.

A name registered in `vistakit.tasks.verify` only (the generic `answer`, `exact`, `number`, ...) is a task with the
defaults below. Built-in tasks register themselves when `vistakit.tasks` is imported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from vistakit.tasks import verify

if TYPE_CHECKING:
    from vistakit.tasks.data import Query

ANSWER_LINE = 'give the final answer on a last line as "Answer: {what}"'


def generic_prompt(query: "Query") -> str:
    return f"{query.question}\nThink step by step, then give the final answer on a last line as \"Answer: <value>\"."


@dataclass(frozen=True)
class Reexamination:
    """How VRE rebuilds a reflection on this task from the model's own answers (vre/reexamine.py)."""
    questions: Callable[[str], list[tuple[str, object]]]  # reasoning -> [(question, key)] to ask of its image
    reflection: Callable[[list[tuple[str, object]], dict[str, str], int], str]  # (asked, answers, max_claims) -> text
    prompt: Callable[[str], str]  # a question -> the instruction asking it of the image
    gain: Callable[[dict, str, str], float] | None = None  # (scene, reasoning, reflection) -> 0/1: the scene's judge


@dataclass(frozen=True)
class Task:
    name: str
    verifier: verify.Verifier
    prompt: Callable[["Query"], str] = generic_prompt
    grounded: Callable[["Query", str], "bool | None"] | None = None
    no_look: Callable[[str], bool] | None = None
    corpus: Callable[["Query"], list[str]] | None = None  # None: the prompt, the gold chain, the answer line
    group_by: str = "level"  # row field whose values split the evaluation metrics
    headline: str = "accuracy"  # "accuracy" | "mean_of_groups": the benchmark's reported number
    reexamine: Reexamination | None = None

    def texts(self, query: "Query") -> list[str]:
        if self.corpus is not None:
            return self.corpus(query)
        return [self.prompt(query), *([query.cot] if query.cot else []), f"Answer: {query.answer}"]


_TASKS: dict[str, Task] = {}


def register_task(task: Task) -> Task:
    if task.headline not in ("accuracy", "mean_of_groups"):
        raise ValueError(f"task {task.name!r}: headline must be 'accuracy' or 'mean_of_groups'")
    _TASKS[task.name] = task
    verify.register(task.name, task.verifier)
    return task


def get_task(name: str) -> Task:
    """The registered task, or a task with the defaults for a name only `vistakit.tasks.verify` knows.
    KeyError (listing the known names) for anything else."""
    if name in _TASKS:
        return _TASKS[name]
    return Task(name, verify.get(name))


def task_names() -> list[str]:
    return sorted(_TASKS)
