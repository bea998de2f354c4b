"""VRE's three rewards (docs/methods.md, "VRE", step 5), TRL-style: `(completions, **kwargs) -> list[float]`.

`completions` are strings, or TRL's conversational form (`[{"role": "assistant", "content": text}]`);
the other keyword arguments are the dataset's columns, one value per completion (TRL repeats each prompt's
row for its generations): `answer`, `task`, `answer_type`, `question`, `scene` (a dict or its JSON),
`images` (or `image`).

- format: 1 when the response follows the template (one reflection, tags in order, reasoning before it and
  one answer line after it; `template.split_response`), else 0;
- accuracy: 1 when the task's verifier accepts the answer (the verdict of `verify_mode`: config verify.mode),
  else 0 (whatever the format);
- reflection: the scorer's judgement of the reflection's information gain, in [0, 1]; 0 when the response
  has no well-formed reflection (the scorer is not asked).
"""

from __future__ import annotations

import json

from vistakit.tasks.verify import verify
from vistakit.vre.scorers import ReflectionItem, Scorer
from vistakit.vre.template import split_response


def completion_text(completion) -> str:
    if isinstance(completion, str):
        return completion
    return "".join(m["content"] for m in completion if m.get("role", "assistant") == "assistant")


def _column(kwargs: dict, name: str, n: int, default=None) -> list:
    values = kwargs.get(name)
    return [default] * n if values is None else list(values)


def format_reward(completions, **kwargs) -> list[float]:
    return [float(split_response(completion_text(c)) is not None) for c in completions]


def accuracy_reward(completions, answer, task=None, answer_type=None, choices=None, verify_mode: str = "official",
                    **kwargs) -> list[float]:
    n = len(completions)
    tasks = task if task is not None else ["exact"] * n
    types = answer_type if answer_type is not None else [None] * n
    # multiple choice: an answer naming the choice's text is right, as in evaluation (JSON in TRL's dataset)
    options = [json.loads(c) if isinstance(c, str) else c for c in (choices if choices is not None else [None] * n)]
    return [float(verify(t, completion_text(c), str(a), answer_type=at, choices=ch, mode=verify_mode)[1])
            for c, a, t, at, ch in zip(completions, answer, tasks, types, options)]


def reflection_reward(completions, scorer: Scorer, **kwargs) -> list[float]:
    n = len(completions)
    questions = _column(kwargs, "question", n, "")
    images = [ims[0] if ims else None for ims in _column(kwargs, "images", n, [])]
    if "image" in kwargs:
        images = _column(kwargs, "image", n)
    scenes = [json.loads(s) if isinstance(s, str) else s for s in _column(kwargs, "scene", n)]
    tasks = _column(kwargs, "task", n)
    items, where = [], []
    for i, c in enumerate(completions):
        parts = split_response(completion_text(c))
        if parts is not None:
            items.append(ReflectionItem(questions[i], parts.reasoning, parts.reflection, images[i], scenes[i], tasks[i]))
            where.append(i)
    scores = [0.0] * n
    for i, s in zip(where, scorer(items) if items else []):
        scores[i] = float(s)
    return scores


def make_reflection_reward(scorer: Scorer):
    """`reflection_reward` with its scorer bound, named for TRL's logs (`rewards/reflection/mean`)."""
    def reflection(completions, **kwargs) -> list[float]:
        return reflection_reward(completions, scorer, **kwargs)
    return reflection


def vre_rewards(scorer: Scorer, verify_mode: str = "official") -> list:
    """The three rewards in the order of `vre.grpo.reward_weights` (format, accuracy, reflection); the
    accuracy reward reads the verdict of `verify_mode`."""
    def format(completions, **kwargs):  # noqa: A001 - the name TRL logs
        return format_reward(completions, **kwargs)

    def accuracy(completions, **kwargs):
        return accuracy_reward(completions, verify_mode=verify_mode, **kwargs)

    return [format, accuracy, make_reflection_reward(scorer)]
