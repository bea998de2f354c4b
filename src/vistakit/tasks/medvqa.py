"""Medical VQA (SLAKE, VQA-RAD): the prompt and the scoring both benchmarks share.

Scoring follows LLaVA-Med's evaluation: questions are closed (yes/no) or open. Closed: correct iff exactly one
of yes/no appears in the final answer and it is the gold ("yes and no" is wrong); a closed question with
another gold (SLAKE's "Which is bigger, the liver or the spleen?") by normalised exact match. Open: normalised
exact match (lower case, parenthesised text and punctuation removed), with LLaVA-Med's token recall (share of
the gold's words in the answer) reported beside it. The rows' `answer_type` ("closed" / "open") picks the
matcher and splits the metrics; the benchmark's headline number is the mean of closed and open accuracy.

Prompt: R3V's chain-of-thought instruction ("First generate a step-by-step solution, then answer ...") with
MedEvalKit's split of the answer format by question type (yes/no, or a word or phrase), written as our
`Answer:` line.
"""

from __future__ import annotations

from vistakit.tasks.registry import Task, register_task
from vistakit.tasks.train_verifier import NUMBERS, YES_NO, TrainRules, rule, words
from vistakit.tasks.verify import Verifier, closed_answer, final_answer, is_yes_no, open_exact, token_recall

# train verdicts (tasks/train_verifier.py): yes/no as a sentence or a synonym (`Nope`); numbers with a unit or
# in words beyond twelve (`fifteen`, `2 lesions`); words as the normaliser compares them, abbreviations too
CLOSED = Verifier(final_answer, closed_answer, train=TrainRules((*YES_NO, rule("words", words))))
OPEN = Verifier(final_answer, open_exact, scores={"token_recall": token_recall},
                train=TrainRules((*NUMBERS, rule("words", words))))


def prompt(query) -> str:
    if is_yes_no(query.answer):
        how = 'answer the question with yes or no on a last line as "Answer: yes" or "Answer: no"'
    else:
        how = 'answer the question with a word or a short phrase on a last line as "Answer: <answer>"'
    return f"{query.question}\nFirst generate a step-by-step solution, then {how}."


def answer_kind(answer: str) -> str:
    """VQA-RAD's hub copy has no answer type: a question is closed iff its answer is yes or no."""
    return "closed" if is_yes_no(answer) else "open"


def register_medical_task(name: str) -> Task:
    verifier = Verifier(final_answer, open_exact, {"closed": CLOSED, "open": OPEN}, train=OPEN.train)
    return register_task(Task(name, verifier, prompt=prompt, group_by="answer_type", headline="mean_of_groups"))
