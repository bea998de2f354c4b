"""ScienceQA (Lu et al., 2022), image subset (IMG): multiple-choice science questions with an image context.

Sources: the hub copy `derek-thomas/ScienceQA` (columns `image` (Image or null), `question`, `choices` (list),
`answer` (the correct choice's index), `hint`, `task, grade, subject, topic, category, skill, lecture,
solution`; splits train / validation / test), or the original release (https://scienceqa.github.io,
https://github.com/lupantech/ScienceQA): `problems.json` (pid -> the same fields + `split` ("train", "val",
"test") and `image` ("image.png" or null)) with images at `images/<split>/<pid>/image.png` (or
`<split>/<pid>/image.png`, the zip's own layout). Questions without an image are skipped (IMG subset:
6,218 / 2,097 / 2,017).

Prompt: `Context: <hint>` / question / options, LLaVA's ScienceQA layout; scoring: the option letter
(`tasks/choice.py`). The metrics are split by `subject` (natural / social / language science).
"""

from __future__ import annotations

from pathlib import Path

from vistakit.tasks.data import DataError
from vistakit.tasks.benchmark import Benchmark, hub_image, need, read_json, register_benchmark
from vistakit.tasks.choice import OPTION, letter_of, option_prompt
from vistakit.tasks.registry import Task, register_task

RELEASE_SPLITS = {"train": "train", "validation": "val", "test": "test"}


def _row(r, pid: str, split: str, where: str) -> dict:
    choices = need(r, "choices", where, (list,))
    if len(choices) < 2 or not all(isinstance(c, str) for c in choices):
        raise DataError(f"{where}: field 'choices' must be a list of at least 2 strings, got {choices!r}")
    answer = r.get("answer")
    if not isinstance(answer, int) or isinstance(answer, bool) or not 0 <= answer < len(choices):
        raise DataError(f"{where}: field 'answer' must be an index into the {len(choices)} choices, got {answer!r}")
    return {"id": f"scienceqa-{split}-{pid}", "question": need(r, "question", where).strip(), "choices": choices,
            "answer": letter_of(answer), "answer_type": "option", "context": (r.get("hint") or "").strip() or None,
            "subject": r.get("subject"), "grade": r.get("grade"), "topic": r.get("topic"), "category": r.get("category")}


def is_release(path: Path) -> bool:
    return (path / "problems.json").exists()


def from_release(root: Path, split: str):
    path = root / "problems.json"
    problems = read_json(path, dict)
    for pid, r in problems.items():
        where = f"{path}: problem {pid}"
        if need(r, "split", where) != RELEASE_SPLITS[split] or not r.get("image"):
            continue
        folder = RELEASE_SPLITS[split]
        image = root / "images" / folder / pid / r["image"]
        if not image.exists() and (root / folder / pid / r["image"]).exists():
            image = root / folder / pid / r["image"]
        yield _row(r, pid, split, where), [image], where


def from_hub(ds, split: str, where: str):
    for i, r in enumerate(ds):
        if r.get("image") is None:  # text-only question: not in the IMG subset
            continue
        at = f"{where} row {i}"
        yield _row(r, f"{i:05d}", split, at), [hub_image(r["image"], at, "image")], at


register_task(Task("scienceqa", OPTION, prompt=lambda q: option_prompt(q.question, q.choices or [], q.extra.get("context")),
                   group_by="subject"))
register_benchmark(Benchmark(
    name="scienceqa", title="ScienceQA (image subset)", hf_id="derek-thomas/ScienceQA",
    release_url="https://github.com/lupantech/ScienceQA",
    release_files="problems.json and images/<split>/<pid>/image.png",
    splits=("train", "validation", "test"), eval_split="test", is_release=is_release, from_release=from_release,
    from_hub=from_hub,
))
