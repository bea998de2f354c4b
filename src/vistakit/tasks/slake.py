"""SLAKE (Liu et al., 2021), English subset: medical VQA on CT, MRI and X-ray images.

Sources: the hub repository `BoKelvin/SLAKE` is the original release itself (`train.json`, `validation.json`,
`test.json`, `imgs.zip`; downloaded with huggingface_hub), as is https://www.med-vqa.com/slake/. A local
folder holds the three JSON files and the images either unzipped (`imgs/xmlab0/source.jpg`) or as `imgs.zip`.
Each record: `img_id, img_name ("xmlab0/source.jpg"), question, answer, q_lang ("en"/"zh"), location,
modality, answer_type ("OPEN"/"CLOSED"), base_type, content_type, triple, qid`; rows with `q_lang != "en"`
are skipped. Scoring and prompt: `tasks/medvqa.py`; closed/open from the record's `answer_type`.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from vistakit.tasks.data import DataError
from vistakit.tasks.benchmark import Benchmark, answer_text, need, read_json, register_benchmark
from vistakit.tasks.medvqa import register_medical_task

SPLITS = ("train", "validation", "test")


def is_release(path: Path) -> bool:
    return any((path / f"{s}.json").exists() for s in SPLITS) and ((path / "imgs").is_dir() or (path / "imgs.zip").exists())


class _Images:
    """`imgs/<img_name>`, or the same member of `imgs.zip` (which may nest it under `imgs/`)."""

    def __init__(self, root: Path):
        self.root, self.zip, self.members = root, None, {}
        if not (root / "imgs").is_dir() and (root / "imgs.zip").exists():
            self.zip = zipfile.ZipFile(root / "imgs.zip")
            for member in self.zip.namelist():
                parts = member.split("/")
                if len(parts) >= 2 and parts[-1] and "__MACOSX" not in parts:
                    self.members["/".join(parts[-2:])] = member

    def get(self, img_name: str, where: str) -> bytes | Path:
        if self.zip is None:
            return self.root / "imgs" / img_name
        member = self.members.get(img_name)
        if member is None:
            raise DataError(f"{where}: field 'img_name': {img_name} is not in {self.root / 'imgs.zip'}")
        return self.zip.read(member)


def from_release(root: Path, split: str):
    path = root / f"{split}.json"
    records = read_json(path, list)
    images = _Images(root)
    for i, r in enumerate(records):
        where = f"{path}: record {i}"
        if need(r, "q_lang", where) != "en":
            continue
        qid = need(r, "qid", where, (int, str))
        kind = need(r, "answer_type", where).strip().upper()
        if kind not in ("OPEN", "CLOSED"):
            raise DataError(f"{where} (qid {qid}): field 'answer_type' must be OPEN or CLOSED, got {kind!r}")
        img_name = need(r, "img_name", where)
        row = {"id": f"slake-{split}-{qid}", "question": need(r, "question", where).strip(),
               "answer": answer_text(r, "answer", where), "answer_type": kind.lower(),
               "modality": r.get("modality"), "location": r.get("location"),
               "content_type": r.get("content_type"), "base_type": r.get("base_type")}
        yield row, [images.get(img_name, f"{where} (qid {qid})")], f"{where} (qid {qid})"


register_medical_task("slake")
register_benchmark(Benchmark(
    name="slake", title="SLAKE (English subset)", hf_id="BoKelvin/SLAKE",
    release_url="https://www.med-vqa.com/slake/",
    release_files="train.json, validation.json, test.json and imgs/ (or imgs.zip)",
    splits=SPLITS, eval_split="test", is_release=is_release, from_release=from_release,
    hub_files=("*.json", "imgs.zip"),
))
