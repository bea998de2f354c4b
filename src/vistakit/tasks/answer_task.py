"""Registers the generic `answer` task, the one users' own rows go through (docs/guide.md, "Your own data"): the
`Answer:` line, matched by the row's `answer_type` (`verify.ANSWER_TYPES`: number, yes_no, word, option;
exact match without one).

Its train verdict (`verify.mode: train`, docs/verification.md) reads the same answer line (or a response that
is only the answer, `bare_answer`), then the rules the benchmark readers use for the row's answer type:
- number: `number_form` (`$1,200`, `12 apples`, `1\\,200`), `number_words` (`twelve`), compared exactly;
- yes_no: `yes_no_form` (`Nope`, `Correct.`);
- word: `words` (`The left lung.` for `left lung`);
- option: `option_letter` (`option b`, `B is correct`) and `option_text` (`The left lung.` for the option
  `left lung`), both only when the row has its `choices`; without them the letter matcher alone, after
  `normalised_form` (`Ｂ`, `**B**`);
- no answer_type: the number, yes/no and word rules, each only where the gold is of its kind.
Hedges and option lists (`2 or 3`, `yes or no`, `A, B, C, D`, `(A) (B)`) are wrong. The official verdict is the
matcher alone, unchanged.
"""

from __future__ import annotations

from vistakit.tasks.train_verifier import ANSWER_LINE
from vistakit.tasks.verify import ANSWER_TYPES, Verifier, answer_line, exact, register

register("answer", Verifier(answer_line, exact, ANSWER_TYPES, train=ANSWER_LINE))
