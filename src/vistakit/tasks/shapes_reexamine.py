"""VRE's re-examination for the synthetic task (the task's `reexamine` hook; `vre/reexamine.py` is the
generic side): how a reflection is written from the model's own answers, and how the scene judges it.

For each claim of a chain's reasoning, the questions whose chains state the same objects at another grain,
asked of the same image:
- a colour total (`red shapes: 2`) -> one kind question per shape (`Is there a red circle?`, ...);
- a shape total (`circles: 1`) -> one kind question per colour (`Is there a blue circle?`, ...);
- a kind (`red circle: 1`) -> its two totals (`How many red shapes are there?`, `How many circles are there?`).
The model answers each greedily with its usual chain; the claim it states about the asked kind is its
answer. A reflection lists the answers with a positive count (`red circle: 1` / `red square: 1`: a recount
of the reasoning's `red shapes: 2` by another route), at most `max_claims` of them. Questions are asked
about every kind, never chosen by looking at the scene, so no ground truth leaks into the text.

The scene's judgement (`gain`): a reflection gains information when it states at least one claim about a
kind the reasoning made no claim about, with a positive count (something seen: `red circle: 1`; a zero,
`yellow triangle: 0`, is true of most scenes and would let a blind policy farm the reward), and none of its
claims is false. Score 1 or 0.
"""

from __future__ import annotations

from vistakit.tasks.shapes import COLORS, SHAPES, count, parse_claims, question_prompt

Key = tuple  # (colour or None, shape or None)


def claim_line(color: str | None, shape: str | None, n: int) -> str:
    """A claim in the task's form: `red circle: 1`, `red shapes: 2`, `circles: 1`."""
    if color and shape:
        return f"{color} {shape}: {n}"
    return f"{color} shapes: {n}" if color else f"{shape}s: {n}"


def kind_question(color: str, shape: str) -> str:
    return f"Is there a {color} {shape}?"


def total_question(color: str | None, shape: str | None) -> str:
    return f"How many {color} shapes are there?" if color else f"How many {shape}s are there?"


def questions(reasoning: str) -> list[tuple[str, Key]]:
    """(question, the kind whose count its chain states) for every claim of `reasoning`, in claim order,
    without kinds the reasoning already counts and without repeats."""
    stated = [(c, s) for c, s, _ in parse_claims(reasoning)]
    out: list[tuple[str, Key]] = []
    for color, shape in stated:
        if color and shape:
            asked = [(total_question(color, None), (color, None)), (total_question(None, shape), (None, shape))]
        elif color:
            asked = [(kind_question(color, s), (color, s)) for s in SHAPES]
        else:
            asked = [(kind_question(c, shape), (c, shape)) for c in COLORS]
        out += [(q, k) for q, k in asked if k not in stated and k not in [k2 for _, k2 in out]]
    return out


def answered_claim(response: str, key: Key) -> int | None:
    """The count a re-examination answer states for `key` (its first claim about that kind), or None."""
    return next((n for c, s, n in parse_claims(response) if (c, s) == key), None)


def reflection(asked: list[tuple[str, Key]], answers: dict[str, str], max_claims: int) -> str:
    """Claim lines with a positive count from the answers to `asked`, at most `max_claims`."""
    lines = []
    for q, key in asked:
        n = answered_claim(answers.get(q, ""), key)
        if n:
            lines.append(claim_line(*key, n))
    return "\n".join(lines[:max_claims])


def gain(scene: dict, reasoning: str, reflection_text: str) -> float:
    """1.0 when the reflection states a new, positive, true claim and no false one (module docstring)."""
    seen = {(c, s) for c, s, _ in parse_claims(reasoning)}
    claims = parse_claims(reflection_text)
    true = all(count(scene, c, s) == n for c, s, n in claims)
    new = any((c, s) not in seen and n > 0 for c, s, n in claims)
    return float(true and new)


def prompt(question: str) -> str:
    """The instruction that asks a re-examination question of the image: the task's own prompt form."""
    return question_prompt(question)
