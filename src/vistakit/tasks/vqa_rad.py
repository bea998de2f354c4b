"""VQA-RAD (Lau et al., 2018): radiology VQA.

Sources: the hub copy `flaviagiammarino/vqa-rad` (columns `image`, `question`, `answer`; splits train 1,793 /
test 451), or the original release (https://osf.io/89kps/): `VQA_RAD Dataset Public.json`, a list of records
`qid, image_name, image_organ, question, answer, answer_type, phrase_type, ...`, with the images in
`VQA_RAD Image Folder/`; its test split is `phrase_type` test_freeform / test_para (451 questions).

Closed vs open: the hub copy has no answer-type column, so for both sources a question is closed iff its
answer is yes/no (one rule, so both copies give the same breakdown; the release's own `answer_type` is kept
in the row as `release_answer_type`). Scoring and prompt: `tasks/medvqa.py`.
"""

from __future__ import annotations

from pathlib import Path

from vistakit.tasks.benchmark import Benchmark, answer_text, hub_image, need, read_json, register_benchmark
from vistakit.tasks.medvqa import answer_kind, register_medical_task

RELEASE_JSON = "VQA_RAD Dataset Public.json"
RELEASE_IMAGES = "VQA_RAD Image Folder"


def is_release(path: Path) -> bool:
    return (path / RELEASE_JSON).exists()


def from_release(root: Path, split: str):
    path = root / RELEASE_JSON
    records = read_json(path, list)
    for i, r in enumerate(records):
        where = f"{path}: record {i}"
        is_test = need(r, "phrase_type", where).startswith("test")
        if is_test != (split == "test"):
            continue
        qid = need(r, "qid", where, (int, str))
        where = f"{where} (qid {qid})"
        answer = answer_text(r, "answer", where)
        row = {"id": f"vqa-rad-{split}-{qid}", "question": need(r, "question", where).strip(), "answer": answer,
               "answer_type": answer_kind(answer), "release_answer_type": str(r.get("answer_type", "")).strip(),
               "organ": r.get("image_organ")}
        yield row, [root / RELEASE_IMAGES / need(r, "image_name", where)], where


def from_hub(ds, split: str, where: str):
    for i, r in enumerate(ds):
        at = f"{where} row {i}"
        answer = answer_text(r, "answer", at)
        row = {"id": f"vqa-rad-{split}-{i:05d}", "question": need(r, "question", at).strip(), "answer": answer,
               "answer_type": answer_kind(answer)}
        yield row, [hub_image(r.get("image"), at, "image")], at


register_medical_task("vqa-rad")
register_benchmark(Benchmark(
    name="vqa-rad", title="VQA-RAD", hf_id="flaviagiammarino/vqa-rad", release_url="https://osf.io/89kps/",
    release_files=f"'{RELEASE_JSON}' and '{RELEASE_IMAGES}/'", splits=("train", "test"), eval_split="test",
    is_release=is_release, from_release=from_release, from_hub=from_hub,
))
