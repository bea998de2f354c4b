"""Answer extraction and matching: one verifier per task, looked up by name.

A response without an explicit answer is wrong, never rescued from its last line: a lenient extractor would
reward chains that only happen to end on the right word, and those are the chains this package filters out.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Callable, Mapping

Extractor = Callable[[str], "str | None"]
Matcher = Callable[["str | None", str], bool]


# --- extractors: str -> str | None -------------------------------------------------------------------

def answer_line(text: str) -> str | None:
    """The value after the last `Answer:`; the last one, because chains may restate a draft answer."""
    matches = list(re.finditer(r"answer\s*:[ \t]*([^\n]*)", text, re.IGNORECASE))
    value = matches[-1].group(1).strip() if matches else ""
    return value or None


def boxed(text: str) -> str | None:
    """Content of the last `\\boxed{...}`, counting braces since answers like `\\frac{1}{2}` nest them."""
    start = text.rfind("\\boxed{")
    if start < 0:
        return None
    depth, i = 1, start + len("\\boxed{")
    for j in range(i, len(text)):
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        if depth == 0:
            return text[i:j].strip()
    return None


_OPTION_PATTERNS = (  # lmms-eval's order: an explicit answer, then "A." / "A)", then a bare letter
    r"[Aa]nswer\s*[:=]\s*\(?([A-D])\b",
    r"\b([A-D])[.)]",
    r"\b([A-D])\b",
)


def option_letter(text: str) -> str | None:
    for pattern in _OPTION_PATTERNS:
        found = re.findall(pattern, text)
        if found:
            return found[-1]
    return None


def last_number(text: str) -> str | None:
    found = re.findall(r"[-+]?(?:\d[\d,]*(?:\.\d+)?|\.\d+)%?", text)
    return found[-1].rstrip(",") if found else None


# --- matchers: (pred, gold) -> bool; a None prediction is always wrong --------------------------------

def normalise(text: str) -> str:
    text = re.sub(r"\s+", " ", text.strip().lower())
    return text.rstrip(".,;:!? ").strip()


def exact(pred: str | None, gold: str) -> bool:
    return pred is not None and normalise(pred) == normalise(gold)


def _to_float(text: str) -> float | None:
    text = normalise(text).replace(",", "")
    scale = 1.0
    if text.endswith("%"):
        text, scale = text[:-1].strip(), 0.01
    try:
        return float(text) * scale
    except ValueError:
        return None


def number(pred: str | None, gold: str) -> bool:
    if pred is None:
        return False
    a, b = _to_float(pred), _to_float(gold)
    return a is not None and b is not None and math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)


def yes_no(pred: str | None, gold: str) -> bool:
    """Both words present ("yes and no") is wrong: hedging must not earn the reward."""
    if pred is None:
        return False
    words = set(re.findall(r"\b(yes|no)\b", pred.lower()))
    return len(words) == 1 and words.pop() == normalise(gold)


def _letter(text: str) -> str | None:
    """An option letter alone ("B", "(b)", "C.", "D) a dog"); never the article in "a square"."""
    m = re.match(r"\s*\(?([A-Da-d])(?:\)|\.|\s*$)", text)
    return m.group(1).upper() if m else None


def option(pred: str | None, gold: str) -> bool:
    return pred is not None and _letter(pred) is not None and _letter(pred) == _letter(gold)


# --- registry -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Verifier:
    extract: Extractor
    match: Matcher
    # a task whose rows mix answer kinds picks its matcher by the row's `answer_type`; `match` is the default
    by_answer_type: Mapping[str, Matcher] = field(default_factory=dict)


_REGISTRY: dict[str, Verifier] = {}


def register(task: str, verifier: Verifier) -> None:
    _REGISTRY[task] = verifier


def get(task: str) -> Verifier:
    if task not in _REGISTRY:
        raise KeyError(f"no verifier for task {task!r}; known tasks: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[task]


def verify(task: str, response: str, gold: str, answer_type: str | None = None) -> tuple[str | None, bool]:
    """(extracted answer, correct) for one response."""
    verifier = get(task)
    pred = verifier.extract(response)
    match = verifier.by_answer_type.get(answer_type, verifier.match) if answer_type else verifier.match
    return pred, bool(match(pred, gold))


for _name, _match in {"exact": exact, "number": number, "yes_no": yes_no, "option": option}.items():
    register(_name, Verifier(answer_line, _match))
_BY_TYPE = {"number": number, "yes_no": yes_no, "word": exact, "option": option}
register("answer", Verifier(answer_line, exact, _BY_TYPE))  # generic: the row's answer_type picks the matcher
register("shapes", Verifier(answer_line, exact, _BY_TYPE))
