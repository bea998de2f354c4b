"""ChartQA (Masry et al., 2022): questions about charts, human-written and machine-generated ("augmented").

Sources: the hub copy `HuggingFaceM4/ChartQA` (columns `image`, `query`, `label` (a list of strings; the
first is the answer), `human_or_machine` (0 human, 1 machine); splits train / val / test), or the original
release (https://github.com/vis-nlp/ChartQA): `<split>/<split>_human.json` and `<split>/<split>_augmented.json`
(lists of `{imgname, query, label}`) with the charts in `<split>/png/`, splits `train`, `val`, `test`.

Scoring: relaxed accuracy (lmms-eval's `relaxed_correctness`, from Qwen-VL: 5% relative tolerance on
numbers, exact match otherwise; `verify.relaxed_correctness`) on the final answer. Reported per subset
(human / augmented); the headline is their mean, as ChartQA papers report it. Prompt: R3V's ChartQA prompt
("First generate a step-by-step solution, then answer the question with a numerical value, Yes/No, or a word
or phrase.") with our `Answer:` line.
"""

from __future__ import annotations

from pathlib import Path

from vistakit.tasks.data import DataError
from vistakit.tasks.benchmark import Benchmark, hub_image, need, read_json, register_benchmark
from vistakit.tasks.choice import COT
from vistakit.tasks.registry import Task, register_task
from vistakit.tasks.train_verifier import YES_NO, TrainRules, number_form, number_words, rule, words
from vistakit.tasks.verify import Verifier, final_answer, relaxed_correctness

RELEASE_SPLITS = {"train": "train", "validation": "val", "test": "test"}


def prompt(query) -> str:
    return (f"{query.question}\n{COT} answer the question with a numerical value, Yes/No, or a word or phrase "
            f'on a last line as "Answer: <answer>".')


def _label(r, where: str) -> str:
    label = r.get("label")
    if isinstance(label, list):
        label = label[0] if label else None
    if not isinstance(label, (str, int, float)) or str(label).strip() == "":
        raise DataError(f"{where}: field 'label' must be a non-empty string (or a list of them), got {r.get('label')!r}")
    return str(label).strip()


def is_release(path: Path) -> bool:
    return any((path / s / f"{s}_human.json").exists() for s in RELEASE_SPLITS.values())


def from_release(root: Path, split: str):
    folder = root / RELEASE_SPLITS[split]
    for subset in ("human", "augmented"):
        path = folder / f"{RELEASE_SPLITS[split]}_{subset}.json"
        records = read_json(path, list)
        for i, r in enumerate(records):
            where = f"{path}: record {i}"
            row = {"id": f"chartqa-{split}-{subset}-{i:05d}", "question": need(r, "query", where).strip(),
                   "answer": _label(r, where), "subset": subset}
            yield row, [folder / "png" / need(r, "imgname", where)], where


def from_hub(ds, split: str, where: str):
    for i, r in enumerate(ds):
        at = f"{where} row {i}"
        source = r.get("human_or_machine")
        if source not in (0, 1):
            raise DataError(f"{at}: field 'human_or_machine' must be 0 or 1, got {source!r}")
        row = {"id": f"chartqa-{split}-{i:05d}", "question": need(r, "query", at).strip(), "answer": _label(r, at),
               "subset": "human" if source == 0 else "augmented"}
        yield row, [hub_image(r.get("image"), at, "image")], at


# train verdict (tasks/train_verifier.py): numbers as charts write them, still within the reference's 5%;
# yes/no as a sentence or a synonym; words up to case, articles and punctuation
TRAIN = TrainRules((rule("number_form", number_form, how="relaxed"), rule("number_words", number_words, how="relaxed"),
                    *YES_NO, rule("words", words)))
register_task(Task("chartqa", Verifier(final_answer, relaxed_correctness, train=TRAIN), prompt=prompt,
                   group_by="subset", headline="mean_of_groups"))
register_benchmark(Benchmark(
    name="chartqa", title="ChartQA", hf_id="HuggingFaceM4/ChartQA", release_url="https://github.com/vis-nlp/ChartQA",
    release_files="<split>/<split>_human.json, <split>/<split>_augmented.json and <split>/png/",
    splits=("train", "validation", "test"), eval_split="test", is_release=is_release, from_release=from_release,
    from_hub=from_hub, hub_splits={"validation": "val"},
))
