"""math-verify against our number reader on the number forms our readers meet, each labelled by a careful grader.

    .venv/bin/python scripts/measure_math_verify.py

Why: the issue asks to prefer a maintained library where it does the job better than our code. Each case is a
final answer (already extracted) and a gold as the readers see them (ChartQA labels, MathVista integers,
Geometry3K values, medical open answers). Three verdicts are compared with the grader's:
- math-verify: `verify(parse("$gold$"), parse("$answer$"))`, as `verify.math_equal` calls it;
- ours: `train_verifier`'s number rules (`number_form`, `number_words`, exact comparison), then the small
  LaTeX reader `verify.py` falls back to without math-verify (`\\frac`, `\\sqrt`, `\\pi`);
- the Geometry3K train verdict (`check(..., mode="train")` on `Answer: <answer>`), which has both: a hedge is
  wrong; else math-verify (the official verdict), our number rules, then math-verify on the normalised answer.
Prints the agreement of each and the cases where each disagrees. tests/test_verify_modes.py checks the train
verdict on every case. The figures are quoted in tasks/train_verifier.py's docstring.
"""

from __future__ import annotations

import logging
import sys

CASES = [  # (gold, final answer, a careful grader's verdict)
    # thousands separators, currency, spacing
    ("1200", "1,200", True), ("1200", "$1,200", True), ("1200", "1\\,200", True), ("1200", "1 200", True),
    ("1200", "USD 1,200", True), ("1200", "1,200 dollars", True), ("12", "€12", True), ("12", "£12.00", True),
    ("12", "\\$12", True), ("12", "12 USD", True), ("3500000", "3,500,000", True), ("1200", "1,300", False),
    # percentages on either side
    ("45", "45%", True), ("45%", "45", True), ("45", "45 percent", True), ("0.45", "45%", True),
    ("45%", "0.45", True), ("45", "0.45", False), ("45%", "46%", False),
    # zero, decimals, signs, e-notation
    ("0", "0.0", True), ("0.0", "0", True), ("0", "0.00", True), ("12", "12.0", True), ("12", "+12", True),
    ("-3", "\u22123", True), ("12", "1.2e1", True), ("12", "-12", False), ("0", "0.1", False), ("12", "12.5", False),
    # a trailing unit or word, magnitudes
    ("12", "12 apples", True), ("12", "12 cm", True), ("60", "60°", True), ("60", "60^\\circ", True),
    ("60", "60 degrees", True), ("2", "2 lesions", True), ("12", "12 million", True), ("12000000", "12 million", True),
    ("1200", "1.2k", True), ("5", "5 years old", True), ("12", "12 cm^2", True), ("12", "13 apples", False),
    # number words
    ("12", "twelve", True), ("25", "twenty-five", True), ("105", "one hundred and five", True),
    ("15", "fifteen", True), ("3000", "three thousand", True), ("12", "a dozen", True), ("13", "twelve", False),
    ("2", "two lesions", True),
    # LaTeX values (Geometry3K)
    ("0.5", "\\frac{1}{2}", True), ("1.5", "3/2", True), ("2\\sqrt{3}", "\\sqrt{12}", True),
    ("3\\sqrt{2}", "\\sqrt{18}", True), ("5", "x = 5", True), ("5", "x=5 cm", True), ("2\\pi", "2\\pi", True),
    ("0.5\\sqrt{3}", "\\frac{\\sqrt{3}}{2}", True), ("x^2+1", "1+x^2", True), ("2", "\\sqrt[3]{8}", True),
    ("8", "2^{3}", True), ("\\frac{\\pi}{2}", "\\pi/2", True), ("2x", "x+x", True),
    ("\\frac{40}{3}", "13.3", False), ("3\\sqrt{2}", "4.24", False), ("2\\sqrt{3}", "2\\sqrt{2}", False),
    # hedges and ranges stay wrong
    ("12", "12 or 13", False), ("12", "12, 13", False), ("3", "x = 3 or x = 5", False), ("12", "12 to 13", False),
    ("12", "about 12", False), ("12", "12, maybe 13", False), ("12", "12 and 13", False), ("12", "maybe 12", False),
]


def math_verify(gold: str, answer: str) -> bool:
    from math_verify import parse, verify

    g, a = parse(f"${gold}$"), parse(f"${answer}$")
    return bool(g and a and verify(g, a))


def ours(gold: str, answer: str) -> bool | None:
    """True / False where our readers read the answer as a number; None where they do not read it."""
    from vistakit.tasks.train_verifier import number_form, number_words, read_number, unify
    from vistakit.tasks.verify import fallback_math_equal, latex_number

    answer = unify(answer)
    if number_form(answer, gold) or number_words(answer, gold):
        return True
    if read_number(answer) is not None:
        return False
    if latex_number(answer) is not None:
        return fallback_math_equal(answer, gold)
    return None


def train_verdict(gold: str, answer: str) -> bool:
    from vistakit.tasks.verify import check

    return check("geometry3k", f"Answer: {answer}", gold, mode="train").correct


def main() -> None:
    logging.disable(logging.WARNING)  # math-verify warns on every answer it cannot parse
    verdicts = (("math-verify", math_verify), ("ours", lambda g, a: bool(ours(g, a))),
                ("the train verdict (Geometry3K)", train_verdict))
    for name, fn in verdicts:
        wrong = [(g, a, label) for g, a, label in CASES if fn(g, a) != label]
        print(f"{name}: {len(CASES) - len(wrong)}/{len(CASES)} agree ({100 * (1 - len(wrong) / len(CASES)):.0f}%)")
        for g, a, label in wrong:
            print(f"    gold {g!r:14} answer {a!r:24} grader: {label}")


if __name__ == "__main__":
    sys.exit(main())
