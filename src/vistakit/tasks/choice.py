"""Multiple-choice questions (ScienceQA, Geometry3K with options, MathVista, WeMath): the options block of the
prompt and the option-letter verifier.

Prompt: LLaVA's ScienceQA layout (`Context:` / question / `Options: (A) ...`) with R3V's chain-of-thought
instruction, asking for the letter on our `Answer:` line. Scoring: the final answer is turned into a letter by
`verify.choose_option` (a letter, else the text of one choice, else lmms-eval's letter patterns inside the
answer), then compared with the gold letter; an answer that names no option counts wrong, never a guess.
"""

from __future__ import annotations

from vistakit.tasks.train_verifier import OPTIONS, TrainRules
from vistakit.tasks.verify import Verifier, choose_option, final_answer, option, option_letters

# train verdict: also a bare or decorated letter (`B.`, `Ｂ`, `option b`) and an option's text in looser forms
OPTION = Verifier(final_answer, option, choose=choose_option, train=TrainRules(OPTIONS))
COT = "First generate a step-by-step solution, then"


def options_text(choices: list[str]) -> str:
    return "\n".join(f"({letter}) {text}" for letter, text in zip(option_letters(len(choices)), choices))


def option_prompt(question: str, choices: list[str], context: str | None = None) -> str:
    head = f"Context: {context}\n" if context else ""
    return (f"{head}{question}\nOptions:\n{options_text(choices)}\n"
            f'{COT} give the letter of the correct option on a last line as "Answer: <letter>".')


def letter_of(index: int) -> str:
    return option_letters(index + 1)[index]
