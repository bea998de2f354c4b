"""Geometry3K (Lu et al., 2021, Inter-GPS): geometry problems on diagrams. Two benchmarks:

- `geometry3k`: free-form values (EasyR1's setting, `hiyouga/geometry3k`): the answer is a number or a LaTeX
  expression, matched by math equivalence (math-verify, `verify(parse(gold), parse(pred))`; `verify.math_equal`).
- `geometry3k-mc`: the four options of the original release, answered by letter (lmms-eval's setting;
  `tasks/choice.py`).

Sources: the hub copy `hiyouga/geometry3k` (columns `images` (a list), `problem` ("<image>Find x."), `answer`
(the value); a later revision adds `id`, `choices`, `ground_truth` (the letter); splits train 2,101 /
validation 300 / test 601), or the Inter-GPS release (https://github.com/lupantech/InterGPS): a folder per
split (`train/`, `val/`, `test/`), one folder per problem holding `data.json` (`id, problem_text, choices`
(4 values), `answer` (a letter A-D), ...) and `img_diagram.png`. From the release, a problem's value is the
text of its correct choice.

Prompts: values: R3V's chain-of-thought instruction asking for the value on the `Answer:` line (the extractor
also reads EasyR1's `\\boxed{}`); options: `tasks/choice.py`.
"""

from __future__ import annotations

from pathlib import Path

from vistakit.tasks.data import DataError
from vistakit.tasks.benchmark import (Benchmark, answer_text, hub_image, need, read_json, register_benchmark,
                                      strip_image_tags)
from vistakit.tasks.choice import COT, OPTION, letter_of, option_prompt
from vistakit.tasks.registry import Task, register_task
from vistakit.tasks.train_verifier import NUMBERS, TrainRules, math_form, rule
from vistakit.tasks.verify import Verifier, final_answer, math_equal, option_letters

RELEASE_SPLITS = {"train": "train", "validation": "val", "test": "test"}
HUB = "hiyouga/geometry3k"
RELEASE = "https://github.com/lupantech/InterGPS"
RELEASE_FILES = "train/, val/, test/ with <id>/data.json and <id>/img_diagram.png"


def value_prompt(query) -> str:
    return (f"{query.question}\n{COT} give the final answer (a number or a LaTeX expression, without units) "
            f'on a last line as "Answer: <answer>".')


def is_release(path: Path) -> bool:
    return any(True for _ in path.glob("test/*/data.json")) or any(True for _ in path.glob("train/*/data.json"))


def _choices(record, where: str) -> list[str]:
    choices = need(record, "choices", where, (list,))
    if len(choices) < 2 or not all(isinstance(c, (str, int, float)) for c in choices):
        raise DataError(f"{where}: field 'choices' must be a list of at least 2 values, got {choices!r}")
    return [str(c) for c in choices]


def _letter_index(letter: str, choices: list[str], where: str, key: str) -> int:
    letters = option_letters(len(choices))
    if len(letter) != 1 or letter.upper() not in letters:
        raise DataError(f"{where}: field '{key}' must be one of {', '.join(letters)}, got {letter!r}")
    return letters.index(letter.upper())


def _release_rows(root: Path, split: str, with_options: bool):
    folder = root / RELEASE_SPLITS[split]
    if not folder.is_dir():
        raise DataError(f"{folder}: split folder not found (Inter-GPS release: {RELEASE_FILES})")
    problems = sorted((p for p in folder.iterdir() if (p / "data.json").exists()),
                      key=lambda p: (not p.name.isdigit(), int(p.name) if p.name.isdigit() else 0, p.name))
    for problem in problems:
        path = problem / "data.json"
        r = read_json(path)
        where = str(path)
        choices = _choices(r, where)
        index = _letter_index(need(r, "answer", where), choices, where, "answer")
        pid = r.get("id", problem.name)
        row = {"id": f"geometry3k-{split}-{pid}", "question": need(r, "problem_text", where).strip()}
        if with_options:
            row.update(answer=letter_of(index), answer_type="option", choices=choices)
        else:
            row.update(answer=choices[index], answer_type="math")
        yield row, [problem / "img_diagram.png"], where


def _hub_rows(ds, split: str, where: str, with_options: bool):
    for i, r in enumerate(ds):
        at = f"{where} row {i}"
        images = need(r, "images", at, (list,))
        row = {"id": f"geometry3k-{split}-{r.get('id', f'{i:05d}')}",
               "question": strip_image_tags(need(r, "problem", at))}
        if with_options:
            if not r.get("choices") or not r.get("ground_truth"):
                raise DataError(f"{at}: no 'choices' / 'ground_truth': this revision of {HUB} has values only; "
                                f"use benchmark geometry3k (values), or the Inter-GPS release ({RELEASE})")
            choices = _choices(r, at)
            row.update(answer=letter_of(_letter_index(r["ground_truth"], choices, at, "ground_truth")),
                       answer_type="option", choices=choices)
        else:
            row.update(answer=answer_text(r, "answer", at), answer_type="math")
        yield row, [hub_image(im, at, "images") for im in images], at


# train verdict (tasks/train_verifier.py): our number reader first (currency, words, magnitudes), then
# math-verify on the normalised answer
TRAIN = TrainRules((*NUMBERS, rule("math_form", math_form)))
register_task(Task("geometry3k", Verifier(final_answer, math_equal, train=TRAIN), prompt=value_prompt))
register_task(Task("geometry3k-mc", OPTION, prompt=lambda q: option_prompt(q.question, q.choices or [])))
for _name, _options in (("geometry3k", False), ("geometry3k-mc", True)):
    register_benchmark(Benchmark(
        name=_name, title="Geometry3K" + (" (multiple choice)" if _options else ""), hf_id=HUB, release_url=RELEASE,
        release_files=RELEASE_FILES, splits=("train", "validation", "test"), eval_split="test", is_release=is_release,
        from_release=lambda root, split, o=_options: _release_rows(root, split, o),
        from_hub=lambda ds, split, where, o=_options: _hub_rows(ds, split, where, o),
    ))
