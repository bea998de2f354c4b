"""Tiny copies of the papers' benchmarks, written by the tests in each dataset's public formats: the hub
copy (parquet files as in the hub repository, or a `save_to_disk` folder) and the original release layout.
Field names and types follow the public formats (docs/benchmarks.md); every record and image is synthetic.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

from PIL import Image

COLORS = [(200, 40, 40), (40, 160, 60), (40, 70, 200), (220, 200, 40), (150, 60, 160), (20, 160, 170)]


def image_bytes(i: int, fmt: str = "PNG") -> bytes:
    """A distinct small picture per i (two shapes on a coloured background), of one of three sizes."""
    im = Image.new("RGB", ((48, 36), (56, 56), (40, 64))[i % 3], COLORS[i % len(COLORS)])
    im.paste(COLORS[(i + 1) % len(COLORS)], (4 + i % 7, 4, 20 + i % 7, 20))
    im.paste(COLORS[(i + 3) % len(COLORS)], (26, 10 + i % 5, 40, 30))
    buf = io.BytesIO()
    im.save(buf, fmt)
    return buf.getvalue()


def _write(path: Path, data: bytes | str | object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data if isinstance(data, str) else json.dumps(data, indent=1))
    return path


def hub_copy(root: Path, features: dict, splits: dict[str, dict[str, list]], save_to_disk: bool = False) -> Path:
    """The hub repository's files (`data/<split>-00000-of-00001.parquet`), or a `save_to_disk` folder."""
    from datasets import Dataset, DatasetDict, Features

    sets = {split: Dataset.from_dict(cols, features=Features(features)) for split, cols in splits.items()}
    if save_to_disk:
        DatasetDict(sets).save_to_disk(str(root))
    else:
        for split, ds in sets.items():
            (root / "data").mkdir(parents=True, exist_ok=True)
            ds.to_parquet(str(root / "data" / f"{split}-00000-of-00001.parquet"))
    return root


def _img(i: int, fmt: str = "PNG") -> dict:
    return {"bytes": image_bytes(i, fmt), "path": None}


# --- SLAKE: the release (= the hub repo BoKelvin/SLAKE): {split}.json + imgs/ or imgs.zip ----------------

def slake_record(qid, img, question, answer, answer_type, lang="en"):
    return {"img_id": img, "img_name": f"xmlab{img}/source.jpg", "question": question, "answer": answer,
            "q_lang": lang, "location": "Lung", "modality": "CT", "answer_type": answer_type, "base_type": "vqa",
            "content_type": "Organ", "triple": ["vhead", "_", "_"], "qid": qid}


SLAKE = {
    "train": [slake_record(1, 1, "Is the lung healthy?", "Yes", "CLOSED"),
              slake_record(2, 1, "肺部健康吗?", "是", "CLOSED", lang="zh"),
              slake_record(3, 2, "Which organ is abnormal?", "Left Lung", "OPEN"),
              slake_record(4, 2, "Does the picture contain the heart?", "No", "CLOSED")],
    "validation": [slake_record(10, 3, "What modality is used?", "CT", "OPEN")],
    "test": [slake_record(20, 4, "Is this a chest image?", "yes", "CLOSED"),
             slake_record(21, 4, "Where is the abnormality?", "Right lung, lower", "OPEN"),
             slake_record(22, 5, "Which is bigger, the liver or the spleen?", "Liver", "CLOSED"),
             slake_record(23, 5, "这是什么成像?", "CT", "OPEN", lang="zh")],
}


def slake_release(root: Path, zipped: bool = False) -> Path:
    for split, records in SLAKE.items():
        _write(root / f"{split}.json", records)
    images = {f"xmlab{i}/source.jpg": image_bytes(i, "JPEG") for i in range(1, 6)}
    if zipped:
        with zipfile.ZipFile(root / "imgs.zip", "w") as z:
            for name, data in images.items():
                z.writestr(f"imgs/{name}", data)
            z.writestr("__MACOSX/imgs/xmlab1/._source.jpg", b"junk")
    else:
        for name, data in images.items():
            _write(root / "imgs" / name, data)
    return root


# --- VQA-RAD: hub flaviagiammarino/vqa-rad; release 'VQA_RAD Dataset Public.json' + 'VQA_RAD Image Folder/' -

VQA_RAD_HUB = {
    "train": [("Is there a fracture?", "yes"), ("What organ is shown?", "brain"), ("How many lesions?", "2")],
    "test": [("Is the heart enlarged?", "no"), ("Where is the mass?", "left lobe (upper)"), ("Is this an MRI?", "Yes")],
}


def vqa_rad_hub(root: Path, save_to_disk: bool = False) -> Path:
    from datasets import Image as HFImage, Value

    splits = {split: {"image": [_img(i + 7 * k) for k, _ in enumerate(rows)],
                      "question": [q for q, _ in rows], "answer": [a for _, a in rows]}
              for i, (split, rows) in enumerate(VQA_RAD_HUB.items())}
    return hub_copy(root, {"image": HFImage(), "question": Value("string"), "answer": Value("string")}, splits,
                    save_to_disk)


def vqa_rad_record(qid, phrase_type, question, answer, answer_type, image):
    return {"qid": qid, "phrase_type": phrase_type, "qid_linked_id": f"link{qid}", "image_case_url": "",
            "image_name": f"synpic{image}.jpg", "image_organ": "HEAD", "evaluation": "given", "question": question,
            "question_rephrase": "NULL", "question_relation": "NULL", "question_frame": "NULL",
            "question_type": "PRES", "answer": answer, "answer_type": answer_type}


def vqa_rad_release(root: Path) -> Path:
    records = [vqa_rad_record(1, "freeform", "Is there a fracture?", "Yes", "CLOSED", 100),
               vqa_rad_record(2, "para", "How many lesions are there?", 2, "OPEN", 100),
               vqa_rad_record(3, "test_freeform", "Is the heart enlarged?", "no", "CLOSED ", 101),
               vqa_rad_record(4, "test_para", "Which lobe holds the mass?", "left", "CLOSED", 102)]
    _write(root / "VQA_RAD Dataset Public.json", records)
    for i in (100, 101, 102):
        _write(root / "VQA_RAD Image Folder" / f"synpic{i}.jpg", image_bytes(i, "JPEG"))
    return root


# --- Geometry3K: hub hiyouga/geometry3k (+ the later revision's id/choices/ground_truth); Inter-GPS release -

GEO = [("Find x.", "3\\sqrt{2}", ["3", "3\\sqrt{2}", "6", "9"], "B"),
       ("Find the area of the triangle.", "24", ["12", "18", "24", "30"], "C"),
       ("Find m \\angle 1.", "\\frac{40}{3}", ["10", "\\frac{40}{3}", "15", "20"], "B")]


def geometry3k_hub(root: Path, with_choices: bool = False) -> Path:
    from datasets import Image as HFImage, List, Value

    features = {"images": List(HFImage()), "problem": Value("string"), "answer": Value("string")}
    if with_choices:
        features.update(id=Value("string"), choices=List(Value("string")), ground_truth=Value("string"))
    splits = {}
    for s, split in enumerate(("train", "validation", "test")):
        cols = {"images": [[_img(10 * s + i)] for i in range(len(GEO))],
                "problem": [f"<image>{p}" for p, *_ in GEO], "answer": [a for _, a, *_ in GEO]}
        if with_choices:
            cols.update(id=[str(100 * s + i) for i in range(len(GEO))], choices=[c for *_, c, _ in GEO],
                        ground_truth=[g for *_, g in GEO])
        splits[split] = cols
    return hub_copy(root, features, splits)


def geometry3k_release(root: Path) -> Path:
    for s, folder in enumerate(("train", "val", "test")):
        for i, (problem, value, choices, letter) in enumerate(GEO):
            pid = 1000 * s + i
            _write(root / folder / str(pid) / "data.json", {
                "id": pid, "problem_text": problem, "choices": choices, "answer": letter,
                "precise_value": [1.0, 2.0, 3.0, 4.0], "rough_value": [1, 2, 3, 4],
                "problem_type_graph": ["Triangle"], "problem_type_goal": ["Length"], "annotat_text": problem,
                "compact_text": problem, "compact_choices": choices})
            _write(root / folder / str(pid) / "img_diagram.png", image_bytes(pid))
    return root


# --- ScienceQA: hub derek-thomas/ScienceQA; release problems.json + images/<split>/<pid>/image.png -------

SQA = [  # (question, choices, answer index, hint, with image, subject)
    ("Which animal is a mammal?", ["frog", "dog"], 1, "Look at the picture.", True, "natural science"),
    ("Which word is a noun?", ["run", "table", "quickly"], 1, "", False, "language science"),
    ("Which state is farthest north?", ["Texas", "Ohio", "Maine", "Utah", "Iowa"], 2, "", True, "social science"),
]


def _sqa_fields(q, choices, answer, hint, subject):
    return {"question": q, "choices": choices, "answer": answer, "hint": hint, "task": "closed choice",
            "grade": "grade4", "subject": subject, "topic": "topic", "category": "category", "skill": "skill",
            "lecture": "A lecture.", "solution": "A solution."}


def scienceqa_hub(root: Path) -> Path:
    from datasets import Image as HFImage, List, Value

    features = {"image": HFImage(), "question": Value("string"), "choices": List(Value("string")),
                "answer": Value("int8"), "hint": Value("string"), "task": Value("string"), "grade": Value("string"),
                "subject": Value("string"), "topic": Value("string"), "category": Value("string"),
                "skill": Value("string"), "lecture": Value("string"), "solution": Value("string")}
    splits = {}
    for s, split in enumerate(("train", "validation", "test")):
        rows = [{"image": _img(20 + 5 * s + i) if img else None, **_sqa_fields(q, c, a, h, subj)}
                for i, (q, c, a, h, img, subj) in enumerate(SQA)]
        splits[split] = {k: [r[k] for r in rows] for k in features}
    return hub_copy(root, features, splits)


def scienceqa_release(root: Path) -> Path:
    problems, pid_splits = {}, {"train": [], "val": [], "test": []}
    for s, split in enumerate(("train", "val", "test")):
        for i, (q, c, a, h, img, subj) in enumerate(SQA):
            pid = str(100 * s + i + 1)
            problems[pid] = {**_sqa_fields(q, c, a, h, subj), "image": "image.png" if img else None, "split": split}
            pid_splits[split].append(pid)
            if img:
                _write(root / "images" / split / pid / "image.png", image_bytes(int(pid)))
    _write(root / "problems.json", problems)
    _write(root / "pid_splits.json", pid_splits)
    return root


# --- ChartQA: hub HuggingFaceM4/ChartQA; release <split>/<split>_{human,augmented}.json + <split>/png/ ----

CHART = [("What is the highest value?", "49", 0), ("What share is green?", "12%", 1), ("Is blue larger than red?", "Yes", 0)]


def chartqa_hub(root: Path) -> Path:
    from datasets import Image as HFImage, List, Value

    features = {"image": HFImage(), "query": Value("string"), "label": List(Value("string")),
                "human_or_machine": Value("int64")}
    splits = {split: {"image": [_img(30 + i) for i in range(len(CHART))], "query": [q for q, _, _ in CHART],
                      "label": [[a] for _, a, _ in CHART], "human_or_machine": [h for *_, h in CHART]}
              for split in ("train", "val", "test")}
    return hub_copy(root, features, splits)


def chartqa_release(root: Path) -> Path:
    for split in ("train", "val", "test"):
        for subset, rows in (("human", CHART[:2]), ("augmented", CHART[2:])):
            records = []
            for i, (q, a, _) in enumerate(rows):
                name = f"{subset}{i}.png"
                _write(root / split / "png" / name, image_bytes(40 + i + (10 if subset == "augmented" else 0)))
                records.append({"imgname": name, "query": q, "label": a})
            _write(root / split / f"{split}_{subset}.json", records)
    return root


# --- MathVista: hub AI4Math/MathVista (testmini); release testmini.json + images/ ------------------------

MATHVISTA = [  # pid, question, choices, unit, precision, answer, question_type, answer_type, task
    ("1", "What is the value of the bar for 2019?", None, None, None, "14", "free_form", "integer", "figure question answering"),
    ("2", "What is the length of side AB?", None, "cm", 1.0, "3.5", "free_form", "float", "geometry problem solving"),
    ("3", "Which shape is larger?", ["circle", "square"], None, None, "square", "multi_choice", "text", "visual question answering"),
    ("4", "What is the ratio of the two angles?", None, None, 2.0, "1.5", "free_form", "float", "math word problem"),
]


def _metadata(task):
    return {"category": "math-targeted-vqa", "context": "bar chart", "grade": "high school", "img_height": 36,
            "img_width": 48, "language": "english", "skills": ["arithmetic reasoning"], "source": "synthetic",
            "split": "testmini", "task": task}


def mathvista_hub(root: Path) -> Path:
    from datasets import Image as HFImage, List, Value

    features = {"pid": Value("string"), "question": Value("string"), "image": Value("string"),
                "decoded_image": HFImage(), "choices": List(Value("string")), "unit": Value("string"),
                "precision": Value("float64"), "answer": Value("string"), "question_type": Value("string"),
                "answer_type": Value("string"),
                "metadata": {"category": Value("string"), "context": Value("string"), "grade": Value("string"),
                             "img_height": Value("int64"), "img_width": Value("int64"), "language": Value("string"),
                             "skills": List(Value("string")), "source": Value("string"), "split": Value("string"),
                             "task": Value("string")},
                "query": Value("string")}
    cols = {k: [] for k in features}
    for i, (pid, q, choices, unit, precision, answer, qtype, atype, task) in enumerate(MATHVISTA):
        row = {"pid": pid, "question": q, "image": f"images/{pid}.jpg", "decoded_image": _img(50 + i),
               "choices": choices, "unit": unit, "precision": precision, "answer": answer, "question_type": qtype,
               "answer_type": atype, "metadata": _metadata(task), "query": f"Hint: ...\nQuestion: {q}"}
        for k in cols:
            cols[k].append(row[k])
    return hub_copy(root, features, {"testmini": cols})


def mathvista_release(root: Path) -> Path:
    records = {}
    for i, (pid, q, choices, unit, precision, answer, qtype, atype, task) in enumerate(MATHVISTA):
        _write(root / "images" / f"{pid}.png", image_bytes(50 + i))
        records[pid] = {"question": q, "image": f"images/{pid}.png", "choices": choices, "unit": unit,
                        "precision": precision, "answer": answer, "question_type": qtype, "answer_type": atype,
                        "pid": pid, "metadata": _metadata(task), "query": q}
    _write(root / "testmini.json", records)
    return root


# --- WeMath: hub We-Math/We-Math (testmini); release testmini.json + image files ------------------------

WEMATH = [  # a 2-step problem's sub-questions share its ID; `key` says which step
    ("2steps_5", "What is the side length of the square (  ) cm?", "A. 2; B. 4; C. 6; D. 8", "B", "2steps_1"),
    ("2steps_5", "What is the perimeter of the square (  ) cm?", "A. 8;B. 12;C. 16;D. 20;E. No correct answer", "C", "2steps_multi"),
    ("1step_7", "How many right angles does the figure have?", "A. 1;B. 2;C. 4;D. 0", "C", "1step_1")]


def _wemath_fields(i, problem, q, option, answer, key):
    return {"ID": problem, "split": "testmini", "knowledge concept": "Perimeter of Squares", "question": q,
            "option": option, "answer": answer, "key": key, "question number": 100 + i,
            "knowledge concept description": "A square has four equal sides."}


def wemath_hub(root: Path) -> Path:
    from datasets import Image as HFImage, Value

    features = {"ID": Value("string"), "split": Value("string"), "knowledge concept": Value("string"),
                "question": Value("string"), "option": Value("string"), "answer": Value("string"),
                "image_path": HFImage(), "key": Value("string"), "question number": Value("int64"),
                "knowledge concept description": Value("string")}
    rows = [{**_wemath_fields(i, *w), "image_path": _img(60 + i)} for i, w in enumerate(WEMATH)]
    return hub_copy(root, features, {"testmini": {k: [r[k] for r in rows] for k in features}})


def wemath_release(root: Path) -> Path:
    records = []
    for i, w in enumerate(WEMATH):
        path = f"{w[0].split('_')[0]}/image/{i}.png"
        _write(root / path, image_bytes(60 + i))
        records.append({**_wemath_fields(i, *w), "image_path": path})
    _write(root / "testmini.json", records)
    return root
