"""Answer extraction and matching: one verifier per task, looked up by name.

A response without an explicit answer is wrong, never rescued from its last line: a lenient extractor would
reward chains that only happen to end on the right word, and those are the chains this package filters out.

Two verdicts (`MODES`, docs/verification.md): `official`, the benchmark's reference scorer as written here
(what evaluation reports), and `train`, the task's train verifier where it has one (`Verifier.train`;
`tasks/train_verifier.py`): the official verdict plus the equivalent forms a careful grader accepts (`1,200`,
`Nope`, a bare `B`), hedges rejected. Each verdict names the rule behind it (`Verdict.rule`).
"""

from __future__ import annotations

import ast
import functools
import math
import re
import string
from dataclasses import dataclass, field
from typing import Callable, Mapping, Protocol, Sequence

Extractor = Callable[[str], "str | None"]
Matcher = Callable[["str | None", str], bool]


# --- extractors: str -> str | None -------------------------------------------------------------------

# The answer-line forms models write, each ending where the value starts: `Answer: X`, `**Answer**: X`,
# `**Final Answer:** X`, `Final answer = X`, `Answer - B`, `The answer is A.`, `The final answer is: X`,
# `The correct answer is (B)`. The last one in the text wins: chains restate draft answers.
_ANSWER_LINE = re.compile(
    r"(?:\*\*|__)?[ \t]*(?:final[ \t]+)?answer[ \t]*(?:\*\*|__)?[ \t]*(?:[:：=]|-(?=[ \t]))[ \t]*(?:\*\*|__)?[ \t]*"
    r"|\bthe[ \t]+(?:final[ \t]+|correct[ \t]+|right[ \t]+)?answer[ \t]+is\b[ \t]*[:：]?[ \t]*(?:\*\*|__)?[ \t]*",
    re.IGNORECASE)


def _last_answer_line(text: str, next_line: bool = False) -> str | None:
    """The value after the last answer-line form (on its line; with `next_line`, the next non-empty line when
    the form stands alone, as in R3V's `Answer:\n49`)."""
    matches = list(_ANSWER_LINE.finditer(text))
    if not matches:
        return None
    end = matches[-1].end()
    value = text[end:].split("\n", 1)[0].strip()
    if not value and next_line:
        rest = [line.strip() for line in text[end:].splitlines() if line.strip()]
        value = rest[0] if rest else ""
    return value or None


def answer_line(text: str) -> str | None:
    """The value of the last answer line (`Answer: X` and its markdown and phrase variants, `_ANSWER_LINE`)."""
    return _last_answer_line(text)


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


def clean_answer(value: str) -> str:
    """A final answer without the wrapping models add: markdown bold, `$...$`, a trailing full stop."""
    value = value.strip().rstrip(".").strip("*_").strip()
    if len(value) > 1 and value.startswith("$") and value.endswith("$"):
        value = value.strip("$").strip()
    return value.rstrip(".").rstrip()


def final_answer(text: str) -> str | None:
    """The final STATED answer of a chain of thought: the last `<answer>...</answer>`, then the last answer
    line (`_ANSWER_LINE`: `Answer: X` and its markdown and phrase variants; its value on the same line, or
    on the next non-empty line as in R3V's `Answer:\n49`; a `\\boxed{}` inside it is unwrapped), then the
    last `\\boxed{}`. This differs from lmms-eval's order (box before `Answer:`) on purpose: an intermediate
    box must not beat the answer line vistakit's prompts ask for. lmms-eval's last resort, the last number
    of the text, is left out: a response without an explicit answer is wrong (this module's rule)."""
    tags = re.findall(r"<answer>(.*?)</answer>", text, re.IGNORECASE | re.DOTALL)
    if tags and tags[-1].strip():
        return clean_answer(tags[-1]) or None
    value = _last_answer_line(text, next_line=True)
    if value:
        inner = boxed(value)
        return clean_answer(inner if inner else value) or None
    value = boxed(text)
    return (clean_answer(value) or None) if value else None


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


# Unicode minus and dash signs, read as `-` by every number reader of both verdicts
MINUS_SIGNS = str.maketrans({"\u2212": "-", "\u2013": "-", "\ufe63": "-", "\uff0d": "-"})


def same_value(a: float, b: float) -> bool:
    """Two numbers equal up to float noise: the exact comparison of every reader (and of the train verdict)."""
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)


def same_choice_value(a: float, b: float) -> bool:
    """An answer's value and an option's (`12.0` names the option `12`), compared more tightly than answers:
    options may differ by little."""
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def decimal_places(number: str) -> int:
    """Decimal places as written: `12.50` has 2 (MathVista compares floats at the gold's)."""
    return len(number.split(".")[1]) if "." in number else 0


def equal_at_decimals(a: float, b: float, decimals: int) -> bool:
    return round(a, decimals) == round(b, decimals)


def within_relative(pred: float, gold: float, max_relative_change: float = 0.05) -> bool:
    """ChartQA's relaxed comparison of a nonzero gold: at most 5% relative error."""
    return abs(pred - gold) / abs(gold) <= max_relative_change


def _to_float(text: str) -> float | None:
    text = normalise(text.translate(MINUS_SIGNS)).replace(",", "")
    scale = 1.0
    if text.endswith("%"):
        text, scale = text[:-1].strip(), 0.01
    try:
        return float(text) * scale
    except ValueError:
        return None


_LEADING_NUMBER = re.compile(r"\s*([-+]?(?:\d[\d,]*(?:\.\d+)?|\.\d+))\s*(%?)\s*[a-zA-Z][a-zA-Z .]*$")


def _number_values(pred: str, gold: str) -> list[float]:
    """The readings of `pred` to compare with a numeric `gold`: the number itself (`12`, `−3`, `1,200`);
    a number followed by a unit word (`12 apples`); and for `12%` against a gold written without a
    percent sign, both 0.12 and 12 (a percentage question's gold is often the bare number)."""
    text = pred.translate(MINUS_SIGNS)
    m = _LEADING_NUMBER.fullmatch(text)
    if m:
        text = m.group(1) + m.group(2)
    value = _to_float(text)
    if value is None:
        return []
    values = [value]
    if text.strip().endswith("%") and not gold.strip().endswith("%"):
        values.append(value * 100)
    return values


def number(pred: str | None, gold: str) -> bool:
    if pred is None:
        return False
    b = _to_float(gold)
    return b is not None and any(same_value(a, b) for a in _number_values(pred, gold))


def yes_no(pred: str | None, gold: str) -> bool:
    """Both words present ("yes and no") is wrong: hedging must not earn the reward."""
    if pred is None:
        return False
    words = set(re.findall(r"\b(yes|no)\b", pred.lower()))
    return len(words) == 1 and words.pop() == normalise(gold)


def _letter(text: str, letters: str = "ABCD") -> str | None:
    """An option letter alone ("B", "(b)", "C.", "D) a dog", "B: 12"); never the article in "a square"."""
    m = re.match(rf"\s*\(?([{letters}{letters.lower()}])(?:\)|\.|:|\s*$)", text)
    return m.group(1).upper() if m else None


def option(pred: str | None, gold: str) -> bool:
    return pred is not None and _letter(pred, _LETTERS) is not None and _letter(pred, _LETTERS) == _letter(gold, _LETTERS)


_LETTERS = "ABCDEFGHIJ"


def option_letters(n: int) -> str:
    return _LETTERS[:n]


_UNITS = r"(?:cm|mm|km|m|in|inches|ft|feet|units?|degrees?|°|\^\{?\\circ\}?|\\circ|sq\.?\s*\w+)"


def choice_key(text: str) -> str:
    """A choice's text and an answer compared after the same normalisation: lower case, `$` and LaTeX
    spacing commands and all whitespace removed, a leading `x =` and a trailing unit dropped, so `6 cm`,
    `x = 6` and `6` agree, and so do `2\\sqrt{3}` and `2 \\sqrt { 3 }`."""
    t = normalise(str(text).translate(MINUS_SIGNS)).replace("$", "")
    t = re.sub(r"\\[,;!: ]|\\(?:left|right)", "", t)
    t = re.sub(r"^[a-z]\w*\s*=\s*", "", t)
    t = re.sub(rf"\s*{_UNITS}$", "", t)
    return re.sub(r"\s+", "", t)


def stated_letter(pred: str, letters: str) -> str | None:
    """The letter an answer opens with (`B`, `(B)`, `B.`, `B is correct, not A`, `D, because ...`,
    `option b`), or None; None too when it names a second one right after (`B or C`, `A and B`, `A, B, C, D`,
    `E D C B A`): a hedge naming several options must not be credited with the gold among them."""
    lower = letters.lower()
    m = re.match(rf"\s*(?:(?:option|choice)\s*\(?([{letters}{lower}])\)?|\(?([{letters}])\)?"
                 rf"|\(?([{lower}])\)?(?=\s*[.):]?\s*$))(?=$|[\s.,:;)!?])", pred)
    if not m:
        return None
    letter = (m.group(1) or m.group(2) or m.group(3)).upper()
    rest = pred[m.end():]
    # "A triangle", "I think": an article or a pronoun opening a sentence, not the option
    if m.group(2) in ("A", "I") and not m.group(0).lstrip().startswith("(") and re.match(
            r" +(?!is\b|because\b|since\b|as\b|fits\b|matches\b)[a-z]", rest):
        return None
    if re.match(rf"\s*[.)]?\s*(?:,|/|&|\bor\b|\band\b)?\s*(?:option\s*)?\(?[{letters}]\)?(?=$|[\s.,:;)!?])", rest):
        return None
    return letter


def choose_option(pred: str | None, choices: Sequence[str]) -> str | None:
    """The option letter a final answer names, for a query with these choices (A, B, ... in order).

    In order: the answer opens with a letter (`stated_letter`: the stated answer wins over options named
    in its justification; a hedge naming several is None); the answer is one choice's text after the same
    normalisation (`choice_key`: units, `x =`, spacing) or the same number (`12.0` names `12`); exactly one
    choice's text appears inside the answer (`It is 6 cm long`); lmms-eval's Geometry3K patterns
    (`Answer: (B)`, then `B.` / `B)`, then a bare letter), counted only when they name one option. Anything
    else is None, counted wrong: never a random choice (lmms-eval's ScienceQA and MathVista's scorer guess
    one; a guess would reward unparseable chains here).
    """
    if pred is None or not choices:
        return None
    letters = option_letters(len(choices))
    letter = stated_letter(pred, letters)
    if letter:
        return letter
    keys = [choice_key(c) for c in choices]
    key = choice_key(pred)
    hits = [i for i, k in enumerate(keys) if k and k == key]
    if not hits:
        value = _to_float(key)
        hits = [i for i, k in enumerate(keys) if value is not None and _to_float(k) is not None
                and same_choice_value(value, _to_float(k))]
    if not hits:  # one choice's text inside a sentence, as a whole word or number
        lowered = normalise(pred.translate(MINUS_SIGNS))
        hits = [i for i, c in enumerate(choices) if normalise(str(c)) and re.search(
            rf"(?<![\w.]){re.escape(normalise(str(c)))}(?![\w]|\.\d)", lowered)]
    if len(hits) == 1:
        return letters[hits[0]]
    if hits:
        return None  # several choices named
    for pattern in (rf"[Aa]nswer\s*[:=]\s*\(?([{letters}])\b", rf"\b([{letters}])[.)]", rf"\b([{letters}])\b"):
        found = re.findall(pattern, pred)
        if found:
            return found[0] if len(set(found)) == 1 else None
    return None


# --- medical VQA (SLAKE, VQA-RAD): closed and open answers, LLaVA-Med style -----------------------------

# numbers in words and articles: the medical normaliser's (number words to twelve, as LLaVA-Med's) and the
# train verdict's words (tasks/train_verifier.py)
NUMBER_WORDS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen".split())}
ARTICLES = {"a", "an", "the"}
_MEDICAL_NUMBER_WORDS = {w: str(i) for w, i in NUMBER_WORDS.items() if i <= 12}


def medical_normalise(text: str) -> str:
    """Lower case, parenthesised text and punctuation removed, whitespace collapsed; then, as LLaVA-Med's and
    lmms-eval's answer normalisers do, articles dropped (`the right lung`), number words as digits (`two`)
    and `x-ray` / `x ray` as `xray`."""
    text = re.sub(r"\([^)]*\)", " ", text.lower())
    text = re.sub(r"\bx[\s-]+rays?\b", "xray", text)
    text = text.translate(str.maketrans({c: " " for c in string.punctuation}))
    words = [_MEDICAL_NUMBER_WORDS.get(w, w) for w in text.split() if w not in ARTICLES]
    return " ".join(words)


def open_exact(pred: str | None, gold: str) -> bool:
    return pred is not None and medical_normalise(pred) == medical_normalise(gold) != ""


def closed_answer(pred: str | None, gold: str) -> bool:
    """Yes/no golds: exactly one of yes/no in the answer, and it is the gold ("yes and no" is wrong).
    Closed questions with another gold (SLAKE's "Which is bigger, ...?"): normalised exact match."""
    if medical_normalise(gold) in ("yes", "no"):
        return yes_no(pred, medical_normalise(gold))
    return open_exact(pred, gold)


def token_recall(pred: str | None, gold: str) -> float:
    """Share of the gold's words found in the answer (LLaVA-Med's open-question recall), on normalised words."""
    gold_words = medical_normalise(gold).split()
    if not gold_words:
        return 0.0
    pred_words = set(medical_normalise(pred or "").split())
    return sum(w in pred_words for w in gold_words) / len(gold_words)


def is_yes_no(answer: str) -> bool:
    return medical_normalise(answer) in ("yes", "no")


# --- charts: ChartQA's relaxed accuracy -----------------------------------------------------------------

def relaxed_correctness(pred: str | None, gold: str, max_relative_change: float = 0.05) -> bool:
    """lmms-eval's `relaxed_correctness` (from Qwen-VL's ChartQA evaluation), unchanged: both sides read as
    floats ("x%" -> x/100); a nonzero numeric gold is matched within 5% relative error; otherwise (a word,
    or a gold of 0) case-insensitive exact match. So "12%" matches "0.12", "1,200" does not read as a number."""
    if pred is None:
        return False

    def as_float(text: str) -> float | None:
        try:
            return float(text.rstrip("%")) / 100.0 if text.endswith("%") else float(text)
        except ValueError:
            return None

    p, g = as_float(pred.strip()), as_float(gold.strip())
    if p is not None and g:
        return within_relative(p, g, max_relative_change)
    return pred.strip().lower() == gold.strip().lower()


# --- maths: equivalence via math-verify, with a small fallback ------------------------------------------

def _arithmetic(node) -> float:
    """Evaluate +, -, *, / and square roots (`** 0.5`) of numbers; anything else raises ValueError."""
    if isinstance(node, ast.Expression):
        return _arithmetic(node.body)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return float(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _arithmetic(node.operand)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp):
        if isinstance(node.op, ast.Pow):  # only the square roots this module writes: no 9**9**9
            if not (isinstance(node.right, ast.Constant) and node.right.value == 0.5):
                raise ValueError("power")
            return _arithmetic(node.left) ** 0.5
        ops = {ast.Add: float.__add__, ast.Sub: float.__sub__, ast.Mult: float.__mul__, ast.Div: float.__truediv__}
        if type(node.op) in ops:
            return ops[type(node.op)](_arithmetic(node.left), _arithmetic(node.right))
    raise ValueError("not arithmetic")


def latex_number(text: str) -> float | None:
    """Fallback reader: a number, `a/b`, `\\frac{a}{b}`, `k\\sqrt{n}`, `\\pi` (degree signs, `x=` dropped)."""
    t = re.sub(r"\\(?:left|right|,|!|;)|\^\{?\\circ\}?|°|\\%|\$|\s", "", text)
    t = re.sub(r"^[a-zA-Z]\w*=", "", t)  # "x=5"
    t = re.sub(r"\\[dt]?frac\{([^{}]+)\}\{([^{}]+)\}", r"(\1)/(\2)", t)
    t = re.sub(r"(\d*\.?\d+)?\\sqrt\{([^{}]+)\}", lambda m: f"({m.group(1) or 1})*(({m.group(2)})**0.5)", t)
    t = re.sub(r"(\d*\.?\d+)?\\sqrt(\d+)", lambda m: f"({m.group(1) or 1})*(({m.group(2)})**0.5)", t)
    t = re.sub(r"(\d*\.?\d+)?\\pi", lambda m: f"({m.group(1) or 1})*3.141592653589793", t)
    if not t or not re.fullmatch(r"[\d.+\-*/()]+", t):
        return None
    try:
        return _arithmetic(ast.parse(t, mode="eval"))
    except (ValueError, SyntaxError, ZeroDivisionError, OverflowError, TypeError):
        return None


def fallback_math_equal(pred: str, gold: str) -> bool:
    a, b = re.sub(r"\s+", "", pred), re.sub(r"\s+", "", gold)
    if a == b:
        return True
    x, y = latex_number(pred), latex_number(gold)
    return x is not None and y is not None and same_value(x, y)


def math_equal(pred: str | None, gold: str) -> bool:
    """Mathematical equivalence with math-verify (`verify(parse(gold), parse(pred))`, gold first: the order
    matters to it), both sides wrapped in `$...$` (unwrapped, `3\\sqrt{2}` parses as 3). Without math-verify
    installed (`pip install 'vistakit[bench]'`), a fallback compares the strings, then simple numeric forms."""
    if pred is None:
        return False
    try:
        from math_verify import parse, verify as mv_verify
    except ImportError:
        return fallback_math_equal(pred, gold)
    gold_parsed, pred_parsed = parse(f"${gold}$"), parse(f"${pred}$")
    if not gold_parsed or not pred_parsed:
        return fallback_math_equal(pred, gold)
    return bool(mv_verify(gold_parsed, pred_parsed))


def at_gold_precision(pred: str | None, gold: str) -> bool:
    """MathVista's rule for numeric answers: the prediction rounded to the gold's decimal places equals the
    gold (golds are written at the question's `precision`); other forms (`\\frac{3}{2}`) by math_equal."""
    if pred is None:
        return False
    try:
        g = float(gold)
    except ValueError:
        return math_equal(pred, gold)
    values = _number_values(pred, gold)
    if not values:  # `2/3`, `\\frac{2}{3}`, `2\\sqrt{3}`: their value, rounded like a decimal answer
        value = latex_number(pred.translate(MINUS_SIGNS))
        if value is None:
            return math_equal(pred, gold)
        values = [value]
    return any(equal_at_decimals(p, g, decimal_places(gold)) for p in values)


# --- registry -------------------------------------------------------------------------------------------

MODES = ("official", "train")


@dataclass(frozen=True)
class Verdict:
    pred: str | None
    correct: bool
    scores: dict[str, float]
    # why: the matcher that accepted (`relaxed_correctness`, `option`, a train rule such as `number_form`), or
    # why not (`no_answer`, `no_match`, `hedge`)
    rule: str | None = None


class TrainVerifier(Protocol):
    """A task's `train` verifier (`vistakit.tasks.train_verifier.TrainRules`): the official verdict, the
    response, and `judge` (the official matcher applied to another reading of the answer) in; a verdict out."""

    def __call__(self, response: str, gold: str, choices: Sequence[str] | None, official: Verdict,
                 judge: Callable[[str | None], Verdict], answer_type: str | None = None) -> Verdict: ...


@dataclass(frozen=True)
class Verifier:
    extract: Extractor
    match: Matcher
    # a task whose rows mix answer kinds picks its matcher (or a whole Verifier, with its own extractor) by
    # the row's `answer_type`; `match` is the default
    by_answer_type: Mapping[str, "Matcher | Verifier"] = field(default_factory=dict)
    # tasks with options: turns the extracted answer into the option letter, given the query's choices
    choose: Callable[[str | None, Sequence[str]], str | None] | None = None
    # extra per-response scores reported beside accuracy, never used for correctness (e.g. token recall)
    scores: Mapping[str, Callable[[str | None, str], float]] = field(default_factory=dict)
    # the `train` verdict (equivalent forms a careful grader accepts); None: the official verdict in both modes
    train: TrainVerifier | None = None


_REGISTRY: dict[str, Verifier] = {}


def register(task: str, verifier: Verifier) -> None:
    _REGISTRY[task] = verifier


def get(task: str) -> Verifier:
    if task not in _REGISTRY:
        raise KeyError(f"no verifier for task {task!r}; known tasks: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[task]


def _judge(verifier: Verifier, match: Matcher, pred: str | None, gold: str,
           choices: Sequence[str] | None) -> Verdict:
    """The official verdict on an answer already read: (map to an option letter,) match, extra scores."""
    if verifier.choose is not None and choices:
        pred = verifier.choose(pred, choices)
    scores = {name: float(fn(pred, gold)) for name, fn in verifier.scores.items()}
    correct = bool(match(pred, gold))
    rule = getattr(match, "__name__", "match") if correct else "no_answer" if pred is None else "no_match"
    return Verdict(pred, correct, scores, rule)


def check(task: str, response: str, gold: str, answer_type: str | None = None,
          choices: Sequence[str] | None = None, mode: str = "official") -> Verdict:
    """Extract, (map to an option letter,) match, and the task's extra scores, for one response. `mode`:
    official (the benchmark's reference scorer) or train (the task's train verifier, which also accepts the
    equivalent forms a careful grader does; the official verdict where the task has none)."""
    if mode not in MODES:
        raise ValueError(f"verify mode must be one of {', '.join(MODES)}, got {mode!r}")
    both = verdicts(task, response, gold, answer_type, choices, modes=(mode,))
    return both.get(mode, both["official"])


def _resolve(task: str, answer_type: str | None) -> tuple[Verifier, Matcher, "TrainVerifier | None"]:
    """The verifier, matcher and train verifier for a row: the row's `answer_type` entry (a matcher, or a
    whole Verifier with its own train verifier) over the task's defaults."""
    top = verifier = get(task)
    sub = verifier.by_answer_type.get(answer_type) if answer_type else None
    if isinstance(sub, Verifier):
        return sub, sub.match, sub.train or top.train
    return verifier, sub or verifier.match, top.train


def verdicts(task: str, response: str, gold: str, answer_type: str | None = None,
             choices: Sequence[str] | None = None, modes: Sequence[str] = MODES) -> dict[str, Verdict]:
    """The verdicts of `modes`, by mode; `official` always, and `train` only where the task has a train
    verifier (elsewhere the train verdict is the official one)."""
    verifier, match, train = _resolve(task, answer_type)
    official = _judge(verifier, match, verifier.extract(response), gold, choices)
    if "train" not in modes or train is None:
        return {"official": official}
    judge = functools.partial(_judge, verifier, match, gold=gold, choices=choices)
    return {"official": official,
            "train": train(response, gold, choices, official, judge, answer_type=answer_type)}


def verify(task: str, response: str, gold: str, answer_type: str | None = None,
           choices: Sequence[str] | None = None, mode: str = "official") -> tuple[str | None, bool]:
    """(extracted answer, correct) for one response."""
    verdict = check(task, response, gold, answer_type, choices, mode)
    return verdict.pred, verdict.correct


for _name, _match in {"exact": exact, "number": number, "yes_no": yes_no, "option": option}.items():
    register(_name, Verifier(answer_line, _match))
# the generic `answer` task's matchers by the row's answer_type; it is registered with its train verdict in
# tasks/answer_task.py (the train rules import this module)
ANSWER_TYPES = {"number": number, "yes_no": yes_no, "word": exact, "option": option}
