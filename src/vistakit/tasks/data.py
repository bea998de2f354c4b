"""Queries of a task split, read from JSONL and checked before any work starts.

A row needs `id`, `question`, `answer` and `image` (a path, or a list of paths, relative to the JSONL's
folder). Bad input stops here with the file, the line and the field, never halfway through a round.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from vistakit.tasks.registry import get_task

REQUIRED = ("id", "question", "answer", "image")


class DataError(ValueError):
    pass


@dataclass
class Query:
    id: str
    question: str
    answer: str
    images: list[Path]
    task: str = "exact"
    level: int | None = None
    answer_type: str | None = None
    cot: str | None = None  # gold chain of thought (used for the seed split only)
    choices: list[str] | None = None  # multiple-choice options, in letter order (A, B, ...)
    scene: dict | None = None  # synthetic task: ground truth for grounded labels
    extra: dict = field(default_factory=dict)


def _check_image(path: Path, where: str) -> None:
    if not path.exists():
        raise DataError(f"{where}: field 'image': file not found: {path}")
    try:
        with Image.open(path) as im:
            im.load()  # decodes the pixels: verify() alone misses truncated JPEGs
    except (UnidentifiedImageError, OSError, SyntaxError) as e:
        raise DataError(f"{where}: field 'image': cannot read image {path}: {e}") from None


def json_rows(path: Path):
    """(line number, row) for each non-blank line of a JSONL file; a line that is not UTF-8, not JSON or not
    an object stops with its `file:line`."""
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            where = f"{path}:{lineno}"
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise DataError(f"{where}: not UTF-8 text (byte {e.start} of the line is {raw[e.start:e.start + 1]!r}); "
                                "JSONL files must be UTF-8, e.g. `iconv -f latin1 -t utf-8`") from None
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise DataError(f"{where}: not valid JSON: {e}") from None
            if not isinstance(row, dict):
                raise DataError(f"{where}: a row must be a JSON object, got {type(row).__name__}")
            yield lineno, row


def load_split(path: str | Path, task: str | None = None, check_images: bool = True) -> list[Query]:
    path = Path(path)
    if not path.exists():
        raise DataError(f"split file not found: {path}")
    queries, seen = [], set()
    for lineno, row in json_rows(path):
        where = f"{path}:{lineno}"
        for key in REQUIRED:
            if row.get(key) in (None, ""):
                raise DataError(f"{where}: row {row.get('id', '?')!r} has no field '{key}'")
        if not isinstance(row["id"], (str, int)) or isinstance(row["id"], bool):
            raise DataError(f"{where}: field 'id' must be a string or an integer, got {row['id']!r}")
        # compared as the string it becomes: 7 and "7" are the same query id downstream
        if str(row["id"]) in seen:
            raise DataError(f"{where}: duplicate id {row['id']!r} (ids are compared as strings)")
        seen.add(str(row["id"]))
        image_field = row["image"] if isinstance(row["image"], list) else [row["image"]]
        if not image_field or not all(isinstance(p, str) and p for p in image_field):
            raise DataError(f"{where}: field 'image' must be a path or a non-empty list of paths")
        if not isinstance(row["question"], str):
            raise DataError(f"{where}: field 'question' must be a string, got {type(row['question']).__name__}")
        if isinstance(row["answer"], bool) or not isinstance(row["answer"], (str, int, float)):
            raise DataError(f"{where}: field 'answer' must be a string or a number, got {row['answer']!r}")
        row_task = task or row.get("task", "exact")
        try:
            verifier = get_task(row_task).verifier
        except KeyError as e:
            raise DataError(f"{where}: field 'task': {e.args[0]}") from None
        kind = row.get("answer_type")
        if kind is not None and verifier.by_answer_type and kind not in verifier.by_answer_type:
            # an unknown type would fall back to the task's default matcher: "2.0" vs "2" marked wrong
            raise DataError(f"{where}: field 'answer_type' must be one of "
                            f"{', '.join(sorted(verifier.by_answer_type))} for task {row_task!r}, got {kind!r}")
        choices = row.get("choices")
        if choices is not None and (not isinstance(choices, list) or not all(isinstance(c, str) for c in choices)):
            raise DataError(f"{where}: field 'choices' must be a list of strings")
        images = [path.parent / p for p in image_field]
        if check_images:
            for p in images:
                _check_image(p, where)
        queries.append(Query(
            id=str(row["id"]), question=row["question"], answer=str(row["answer"]), images=images,
            task=row_task, level=row.get("level"), answer_type=row.get("answer_type"),
            cot=row.get("cot"), choices=choices, scene=row.get("scene"),
            extra={k: v for k, v in row.items() if k not in REQUIRED and k not in
                   ("task", "level", "answer_type", "cot", "choices", "scene")},
        ))
    if not queries:
        raise DataError(f"{path}: no rows")
    return queries


def instruction_for(query: Query) -> str:
    """The instruction text the model sees: its task's prompt (`vistakit.tasks`; by default the question and
    an answer-line hint)."""
    return get_task(query.task).prompt(query)
