"""The `train` verifier: the official verdict, plus the answer forms a careful grader counts as the gold.

Why two verdicts: evaluation must report each benchmark's reference number (ChartQA's relaxed accuracy reads
`1,200` as text and `0.0` as not `0`), but the loop trains only on the chains its verifier accepts, so every
correct answer written in a form the reference does not read is a positive lost. A format slip is not a
reasoning error: the `train` verdict (config `verify.mode`) accepts what the official one does, then tries
the rules below on the same final answer; evaluation keeps the official verdict (`verify.eval_mode`).

Each accepted form is a named rule, recorded with the verdict (`rule`), so a kept chain says why:
- `bare_answer`: a response that is only the answer (one short line: `B.`, `Yes, it is.`, `12`) has no
  answer line to find; it is read as its own answer (prefixed to the rule that then accepts it). A longer
  response without an explicit answer stays wrong: its last line is never taken for one.
- `normalised_form`: the official matcher on the answer with full-width characters (`Ｂ`), markdown, quotes,
  `\\text{}` and `\\boxed{}` taken off.
- `number_form`: numbers as charts and people write them: `%` on either side, a currency sign or code,
  thousands separators (`1,200`, `1\\,200`), `0.0` for `0`, e-notation, a trailing unit or word (`12 apples`,
  `12 million`: both 12 and 12e6 are read), compared as the reader compares numbers (ChartQA: 5% relative;
  MathVista floats: at the gold's decimal places; others: equal).
- `number_words`: a number in words (`twenty-five`, `one hundred and five`), not only the few the medical
  normaliser knows, compared the same way.
- `yes_no_form`: yes/no said as a sentence or a synonym (`Yes, it is.`, `Nope`, `Correct`): the opening word
  decides, and an answer that also says the other (`yes or no`, `Yes, it isn't`) is not read.
- `option_letter` (function `option_letter_form`): an option letter alone or decorated (`B`, `(C)`, `option b`,
  `B is correct`, `Ｂ`), when the row has its choices.
- `option_text`: the answer is one option's text after the looser normalisation (articles, punctuation, number
  words, `12` for `$12`, `\\sqrt{12}` for `2\\sqrt{3}`, `Nope` for `No`), and no other option's.
- `words`: free text equal after lower case, articles, punctuation and number words (`The Democrats.`).
- `math_form`: math-verify on the normalised answer (Geometry3K values, MathVista lists).

Hedges and option lists are wrong in both modes: the references already reject the ones this package tests
(`A, B, C, D`, `B or C`, `12 or 13`, `yes or no`), and the train verdict rejects every answer `hedged` calls a
hedge (also `maybe`, `possibly`, `not sure`) before anything else, even one the official verdict accepts (the
generic `answer` task's letter matcher reads `(A) (B)` as A).

Where math-verify is used and where ours is kept, measured on the 73 number forms of
`scripts/measure_math_verify.py` (final answers against golds as our readers see them, each labelled by a
careful grader; written for this check, so the shares say which forms each reads, not how often a model
writes them): math-verify alone agrees on 52 (71%): it misses number words, currency codes and `€`,
magnitudes (`12 million`, `1.2k`), thin-space thousands (`1\\,200` parses as 201), e-notation and units it does
not know (`2 lesions`). Our number reader alone (with verify.py's small LaTeX fallback) agrees on 68 (93%): it
misses nested and symbolic LaTeX (`\\frac{\\sqrt{3}}{2}`, `1+x^2`, `2^{3}`), which math-verify reads. So the
numbers of every reader are ours, and LaTeX is math-verify's: the Geometry3K train verdict (math-verify's
official verdict, then `number_form`, `number_words`, then `math_form`) agrees on all 73.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

from vistakit.tasks.verify import (ARTICLES, MINUS_SIGNS, NUMBER_WORDS, Verdict, answer_line, boxed, clean_answer,
                                   decimal_places, equal_at_decimals, final_answer, latex_number, math_equal,
                                   option_letters, same_choice_value, same_value, stated_letter, within_relative)

# --- the answer as written -----------------------------------------------------------------------------------

_WRAPPERS = re.compile(r"\\(?:text|textbf|textit|mathrm|mathbf|operatorname|mbox)\s*\{([^{}]*)\}")


def unify(text: str) -> str:
    """The answer without what models wrap it in: full-width and other compatibility characters (NFKC:
    `Ｂ` -> `B`, `（Ｃ）` -> `(C)`), Unicode minus signs, `\\text{}` and friends, a whole `\\boxed{}`,
    markdown emphasis and code marks, quotes, `$...$` / `\\(...\\)`, a trailing full stop."""
    t = unicodedata.normalize("NFKC", text).translate(MINUS_SIGNS).replace("\u2044", "/")
    for _ in range(3):
        t = _WRAPPERS.sub(r"\1", t)
    t = t.strip()
    if t.startswith("\\boxed{") and boxed(t) is not None and t.endswith("}"):
        t = boxed(t)
    for _ in range(2):
        t = t.strip().strip("*_`").strip().strip("\"'“”‘’").strip()
        if len(t) > 1 and ((t[0] == t[-1] == "$") or (t.startswith("\\(") and t.endswith("\\)"))):
            t = t[2:-2] if t.startswith("\\(") else t.strip("$")
        t = t.rstrip(".").rstrip()
    return t


def bare_answer(response: str, max_words: int = 4) -> str | None:
    """The whole response, when it is only an answer: one line of at most `max_words` words (`B.`, `(C)`,
    `Yes, it is.`, `$1,200`). None otherwise: a chain's last line is never read as its answer."""
    text = response.strip()
    if not text or "\n" in text or len(text) > 48 or len(text.split()) > max_words:
        return None
    return text


_HEDGE_WORDS = re.compile(
    r"\b(?:maybe|perhaps|possibly|either|unsure|uncertain|unclear|not\s+sure|not\s+certain|undetermined|"
    r"can(?:not|'t|’t)\s+(?:be\s+)?(?:tell|told|say|know|determined?)|"
    r"(?:hard|impossible)\s+to\s+(?:tell|say|determine)|"
    r"not\s+enough|insufficient|unknown|and/or|approx\w*)\b"
    r"|(?:\b(?:about|around|roughly|nearly|almost|circa)\b|~)\s*[-+$€£]?\d", re.IGNORECASE)
_ALTERNATIVE = re.compile(r"\bor\b", re.IGNORECASE)
_POLAR_PAIR = re.compile(r"\b(?:yes|no)\b\s*(?:,|/|\bor\b|\band\b)\s*\b(?:yes|no)\b|\byes\s+no\b|\bno\s+yes\b",
                         re.IGNORECASE)  # `yes or no`, `yes/no`, and `yes no` (polarity reads its first word)
_NUMBER_LIST = re.compile(r"\d\s*(?:,\s+|;|\band\b|\bto\b)\s*[-+$]?\d", re.IGNORECASE)


def _letter_list(text: str, letters: str) -> bool:
    """Two or more option letters and nothing else: `A, B, C, D`, `B/C`, `A and B`, `E D C B A`, `(A) (B)`."""
    tokens = [t for t in re.split(r"[\s,;/&]+|\band\b|\bor\b|\boptions?\b", text, flags=re.IGNORECASE) if t]
    found = [re.fullmatch(rf"\(?([{letters}])\)?\.?", t) for t in tokens]
    return len(tokens) >= 2 and all(found) and len({m.group(1) for m in found}) >= 2


def hedged(pred: str, gold: str, choices: Sequence[str] | None = None) -> bool:
    """An answer that names several candidates or says it is unsure: `B or C`, `A, B, C, D`, `12 or 13`,
    `12, 13`, `12 to 13`, `yes or no`, `maybe 12`, `not sure`, `about 12`, `12 (approx.)`, a negated option
    (`not B`). A form the gold itself has (a gold list `1, 2`, a gold `either`, an option `solid or liquid`) is
    not a hedge. Letter lists and negated letters count where the row has choices, or where its gold is a lone
    option letter (a row of the generic `answer` task whose options are in the question text)."""
    own = [unify(gold), *(unify(str(c)) for c in choices or ())]
    for pattern in (_HEDGE_WORDS, _ALTERNATIVE, _POLAR_PAIR, _NUMBER_LIST):
        if pattern.search(pred) and not any(pattern.search(t) for t in own):
            return True
    options = bool(choices) or re.fullmatch(r"\(?[A-J]\)?", own[0]) is not None
    if options and re.match(r"\s*(?:not|never|no)\s+(?:option\s+)?\(?[A-J]\)?(?:$|[\s.,;:)])", pred, re.IGNORECASE):
        return True  # `not B`: a negated option names none
    if not options or any(pred.lower() == t.lower() for t in own[1:]):  # an option's own text (`A and B`)
        return False
    return _letter_list(pred, option_letters(10))  # `E D C B A` names five of four too


# --- numbers -------------------------------------------------------------------------------------------------

_TENS = {w: 10 * i for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split(), 2)}
_SCALES = {"hundred": 100, "thousand": 10**3, "million": 10**6, "billion": 10**9, "trillion": 10**12}


def words_number(text: str) -> tuple[float, str] | None:
    """A number written in words at the start of `text` and what follows it: `twenty-five apples` ->
    (25, 'apples'), `one hundred and five` -> (105, ''), `a dozen` -> (12, ''), `minus three` -> (-3, '').
    None when `text` does not open with a number word."""
    tokens = re.split(r"[\s-]+", text.strip().lower())
    sign, i = 1, 0
    if tokens and tokens[0] in ("minus", "negative"):
        sign, i = -1, 1
    total = current = 0
    read = False
    while i < len(tokens):
        tok = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        if tok in NUMBER_WORDS:
            current += NUMBER_WORDS[tok]
        elif tok in _TENS:
            current += _TENS[tok]
        elif tok == "dozen":
            current = max(current, 1) * 12
        elif tok in _SCALES:
            if not read:
                break
            if tok == "hundred":
                current = max(current, 1) * 100
            else:
                total, current = total + max(current, 1) * _SCALES[tok], 0
        elif tok in ("a", "an") and nxt in (*_SCALES, "dozen") and not read:
            current = 1
        elif tok == "and" and read and (nxt in NUMBER_WORDS or nxt in _TENS):
            pass
        else:
            break
        read = read or tok not in ("a", "an", "and")
        i += 1
    if not read:
        return None
    return sign * float(total + current), " ".join(tokens[i:])


_CURRENCY = r"(?:[$€£¥₹₩]|\\\$|us\$|usd|eur|gbp|jpy|cny|rmb|inr|rs\.?)"
_NUM = (r"(?P<num>\d{1,3}(?:(?:,|\\,|\\ |[ \u2009\u202f\u00a0])\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)"
        r"(?P<exp>[eE][-+]?\d+)?")
_PERCENT = r"(?P<pct>%|\\%|percent|per\s*cent|pct)"
# (not `m` or `b` alone: metres and bytes)
_MAGNITUDE = {"thousand": 1e3, "k": 1e3, "million": 1e6, "mn": 1e6, "billion": 1e9, "bn": 1e9, "trillion": 1e12,
              "tn": 1e12}
# a unit or a word after the number: up to four words of letters (`cm2` after NFKC, `km/h`, `°`, `years old`)
_UNIT = r"(?P<unit>(?:[^\W\d_]|°)(?:[^\W_]|[°'’/.·^-])*(?:\s+(?:[^\W\d_]|°)(?:[^\W_]|[°'’/.·^-])*){0,3})"
_NUMBER_FORM = re.compile(
    rf"(?P<sign>[-+]?)\s*(?:{_CURRENCY}\s*)?(?P<sign2>[-+]?)\s*{_NUM}\s*(?:{_PERCENT})?"
    rf"(?:\s*{_CURRENCY})?(?:\s*{_UNIT})?", re.IGNORECASE)
_DEGREES = re.compile(r"\s*\^\s*\{?\s*\\circ\s*\}?|\\degree")
_VARIABLE = re.compile(r"^[a-z]{1,3}(?:_\{?\w+\}?)?\s*=\s*(?=[-+$€£¥\d.])", re.IGNORECASE)


@dataclass(frozen=True)
class Reading:
    """A number as written: its values (`12 million` is both 12 and 12e6), whether it was a percentage, and
    its decimal places as written (MathVista compares floats at the gold's)."""
    values: tuple[float, ...]
    percent: bool
    decimals: int


def read_number(text: str) -> Reading | None:
    """`text` (an answer, already `unify`-ed) as one number in the forms of this module's docstring, or None:
    text around it other than a unit (`about 12`, `12 (approx.)`, `12, 13`) is not a number form."""
    t = _DEGREES.sub("°", text.strip())
    t = _VARIABLE.sub("", t).strip()
    fraction = re.fullmatch(r"([-+]?\d+)\s*/\s*(\d+)", t)
    if fraction and int(fraction.group(2)):  # `1/2`: its value, compared like a decimal answer
        return Reading((int(fraction.group(1)) / int(fraction.group(2)),), False, 0)
    m = _NUMBER_FORM.fullmatch(t)
    if m:
        if m.group("sign") and m.group("sign2"):
            return None
        sign = -1.0 if "-" in (m.group("sign") + m.group("sign2")) else 1.0
        digits = re.sub(r"\\,|\\ |[, \u2009\u202f\u00a0]", "", m.group("num"))
        try:
            value = sign * float(digits + (m.group("exp") or ""))
        except ValueError:
            return None
        decimals = decimal_places(digits)
        unit, pct = (m.group("unit") or "").strip(), bool(m.group("pct"))
    else:
        spelled = words_number(t)
        if spelled is None:
            return None
        value, rest = spelled
        decimals, pct, unit = 0, False, rest
        p = re.match(rf"{_PERCENT}\s*", rest, re.IGNORECASE)
        if p:
            pct, unit = True, rest[p.end():]
        if unit and not re.fullmatch(_UNIT, unit, re.IGNORECASE):
            return None
    if unit and (re.search(r"\bor\b|\band\b", unit, re.IGNORECASE) or _HEDGE_WORDS.search(unit)):
        return None
    values = [value]
    first = unit.split()[0].lower().rstrip(".") if unit else ""
    if first in _MAGNITUDE:
        values.append(value * _MAGNITUDE[first])
    return Reading(tuple(values), pct, decimals)


def _pairs(pred: Reading, gold: Reading):
    """The (pred, gold) values to compare: as written, and a percentage also as a fraction (`12%` = 0.12)."""
    ps = list(pred.values) + ([v / 100 for v in pred.values] if pred.percent and not gold.percent else [])
    gs = list(gold.values) + ([v / 100 for v in gold.values] if gold.percent and not pred.percent else [])
    return [(p, g) for p in ps for g in gs]


def same_number(pred: Reading, gold: Reading, how: str) -> bool:
    """`how`: exact (equal up to float noise), relaxed (ChartQA: within 5% of a nonzero gold, else exactly
    0), precision (MathVista floats: equal when rounded to the gold's decimal places)."""
    for p, g in _pairs(pred, gold):
        if how == "relaxed" and (within_relative(p, g) if g else p == 0):
            return True
        if how == "precision" and equal_at_decimals(p, g, gold.decimals):
            return True
        if how == "exact" and same_value(p, g):
            return True
    return False


# --- words and yes/no ----------------------------------------------------------------------------------------

def words_key(text: str) -> str:
    """Free text for comparison: lower case, parenthesised text, articles and punctuation removed (dots and
    apostrophes inside a word dropped: `U.S.` is `us`), number words as digits (`two lesions` -> `2 lesions`)."""
    t = re.sub(r"\([^)]*\)", " ", unify(text).lower())
    t = re.sub(r"(?<=[^\W\d])[.'’](?=[^\W\d])", "", t)
    t = re.sub(r"[^\w\s%.-]|_", " ", t)
    t = re.sub(r"(?<!\d)\.|\.(?!\d)|-(?!\d)", " ", t)
    words, out, i = t.split(), [], 0
    while i < len(words):
        if words[i] in NUMBER_WORDS or words[i] in _TENS:
            value, rest = words_number(" ".join(words[i:]))
            out.append(_fmt(value))
            i = len(words) - len(rest.split())
        else:
            if words[i] not in ARTICLES:
                out.append(words[i])
            i += 1
    return " ".join(out)


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e16 else f"{value:g}"


_YES = {"yes", "yeah", "yep", "yup", "yea", "correct", "true", "affirmative", "sure", "indeed", "absolutely",
        "certainly", "definitely"}
_NO = {"no", "nope", "nah", "not", "false", "incorrect", "negative"}
_INTERJECTIONS = {"yes": {"no", "nope", "nah"}, "no": {"yes", "yeah", "yep", "yup"}}


def polarity(text: str) -> str | None:
    """'yes' or 'no' for an answer that opens with one of them or a synonym (`Yes, it is.`, `Nope`,
    `Correct`, `Not present`), unless it says the other too (`yes or no`, `Yes. No`, `Yes, it isn't`).
    `Yes, there is no fracture` is yes: a `no` inside a clause is not the answer."""
    words = re.findall(r"[a-z']+", unify(text).lower())
    if not words or (words[0] not in _YES and words[0] not in _NO):
        return None
    said = "yes" if words[0] in _YES else "no"
    rest = words[1:]
    if any(w in _INTERJECTIONS[said] for w in rest if w != "no"):
        return None
    if said == "yes" and (re.search(r"(?:^|[,;/.!?]|\bor\b|\band\b|\bbut\b)\s*no\s*(?:[,.;!?]|$)", text.lower()[1:])
                          or any(w == "not" or w.endswith("n't") for w in rest)):
        return None
    return said


def strict_polarity(text: str) -> str | None:
    """A gold's (or an option's) yes/no: the whole text is `yes` or `no`."""
    key = words_key(text)
    return key if key in ("yes", "no") else None


# --- the rules: (answer, gold, choices) -> the reading that equals the gold, or None ------------------------------

def number_form(pred: str, gold: str, choices=None, how: str = "exact") -> str | None:
    p, g = read_number(pred), read_number(unify(gold))
    if p is None or g is None or words_number(pred) is not None:
        return None
    return _fmt(p.values[0]) if same_number(p, g, how) else None


def number_words(pred: str, gold: str, choices=None, how: str = "exact") -> str | None:
    p, g = read_number(pred), read_number(unify(gold))
    if p is None or g is None or words_number(pred) is None:
        return None
    return _fmt(p.values[0]) if same_number(p, g, how) else None


def yes_no_form(pred: str, gold: str, choices=None) -> str | None:
    want = strict_polarity(gold)
    return want if want is not None and polarity(pred) == want else None


def words(pred: str, gold: str, choices=None) -> str | None:
    key = words_key(pred)
    return key if key and key == words_key(gold) else None


def math_form(pred: str, gold: str, choices=None) -> str | None:
    return pred if math_equal(pred, gold) else None


_OPTION_WORD = re.compile(r"(?:the\s+)?(?:option|choice|letter|answer)\s*[:#]?\s*\(?([A-Ja-j])\)?\s*[.:)]?",
                          re.IGNORECASE)


def option_letter_form(pred: str, gold: str, choices=None) -> str | None:
    """The rule `option_letter` (not verify.py's lmms-eval extractor `option_letter`): an answer that states one
    of the row's option letters, `option b`, `Option (C)`, `choice D`, a bare `B`, `B.`, `(C)`, `B is correct`
    (after `unify`: `Ｂ`); a letter only, never an option's text (that is `option_text`)."""
    if not choices:
        return None
    m = _OPTION_WORD.fullmatch(pred.strip())
    letter = m.group(1).upper() if m else stated_letter(pred, option_letters(len(choices)))
    return letter if letter is not None and letter == gold.strip().upper() else None


def _value(text: str) -> float | None:
    reading = read_number(unify(text))
    if reading is not None:
        return reading.values[0]
    return latex_number(unify(text))


def option_text(pred: str, gold: str, choices=None) -> str | None:
    """The option whose text the answer is, after the looser comparison (words, a number's value, LaTeX
    values, yes/no synonyms); only when exactly one option is."""
    if not choices:
        return None
    letters = option_letters(len(choices))
    key, value, polar = words_key(pred), _value(pred), polarity(pred)
    hits = set()
    for letter, choice in zip(letters, choices):
        choice_value = _value(str(choice))
        if (key and key == words_key(str(choice))) or (
                value is not None and choice_value is not None and same_choice_value(value, choice_value)) or (
                polar is not None and strict_polarity(str(choice)) == polar):
            hits.add(letter)
    if len(hits) != 1:
        return None
    letter = hits.pop()
    return letter if letter == gold.strip().upper() else None


@dataclass(frozen=True)
class Rule:
    name: str
    read: Callable[..., "str | None"]  # (answer, gold, choices) -> the reading that equals the gold, or None


def rule(name: str, fn: Callable, **kwargs) -> Rule:
    """A named rule; keyword arguments bound with functools.partial (picklable, unlike a closure)."""
    return Rule(name, functools.partial(fn, **kwargs) if kwargs else fn)


NUMBERS = (rule("number_form", number_form), rule("number_words", number_words))
OPTIONS = (rule("option_letter", option_letter_form), rule("option_text", option_text))
YES_NO = (rule("yes_no_form", yes_no_form),)
WORDS = (rule("words", words),)


@dataclass(frozen=True)
class TrainRules:
    """A task's train verifier: in order, a hedge is wrong; the official verdict; the official matcher on the
    normalised answer; then `rules` (by the row's `answer_type` where `by_answer_type` has it), the first
    that reads the gold naming the verdict's rule. The answer is the official extractor's, else the whole
    response when it is a bare answer."""
    rules: tuple[Rule, ...] = ()
    by_answer_type: Mapping[str, tuple[Rule, ...]] = field(default_factory=dict)
    extract: Callable[[str], "str | None"] = final_answer

    def __call__(self, response: str, gold: str, choices: Sequence[str] | None, official: Verdict,
                 judge: Callable[[str | None], Verdict], answer_type: str | None = None) -> Verdict:
        raw, bare = self.extract(response), False
        if raw is None:
            raw = bare_answer(response)
            bare = raw is not None
        if raw is None:
            return official
        answer = unify(raw)
        if hedged(answer, gold, choices):
            return Verdict(official.pred, False, official.scores, "hedge")
        if official.correct:
            return official
        tag = "bare_answer+" if bare else ""
        if answer != raw.strip() or bare:  # the official matcher on the bare or unwrapped answer
            again = judge(answer)
            if again.correct:
                # a bare answer that only lost what the official extractor strips anyway is just `bare_answer`
                name = "" if bare and answer == clean_answer(raw) else "normalised_form"
                return Verdict(again.pred, True, official.scores, f"{tag}{name}".rstrip("+"))
        for r in self.by_answer_type.get(answer_type, self.rules) if answer_type else self.rules:
            reading = r.read(answer, gold, choices)
            if reading is not None:
                return Verdict(reading, True, official.scores, f"{tag}{r.name}")
        return Verdict(official.pred if official.pred is not None else answer, False, official.scores,
                       official.rule)


# The train verdict of the tasks that read the `Answer:` line and match it by the row's answer_type (the synthetic
# `shapes` task, the generic `answer` task of users' own rows): the same line the official verdict reads, not
# final_answer's boxes and tags (a rule names why a chain is kept, and a different extractor would hide behind it)
ANSWER_LINE = TrainRules((*NUMBERS, *YES_NO, *WORDS),
                         {"number": NUMBERS, "yes_no": YES_NO, "word": WORDS, "option": OPTIONS}, extract=answer_line)
