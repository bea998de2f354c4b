"""The embedded default task: coloured shapes on a 3x3 grid, questions at three levels, gold chains of thought.

Every scene statement in a chain is a claim `<row> <col>: <color> <shape>`, so a response is labelled
grounded (all its claims are true of the scene) as well as correct (its answer line). Colours, shapes and the
yes/no answers are skewed on purpose: a model can then guess some answers without looking, which is what
produces the correct-but-ungrounded chains the VISTA steps must find.

    python -c "from vistakit.tasks.shapes import write_dataset; write_dataset('data', 0, 2000, 200, 500)"

Each image is 84x84: one 28x28 cell is one image token of the tiny Qwen2.5-VL, so objects stay inside cells.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, TypedDict

from PIL import Image, ImageDraw

from vistakit.runfolder import write_jsonl

COLORS = {"red": 0.4, "blue": 0.3, "green": 0.2, "yellow": 0.1}  # priors: skewed so guessing pays a little
SHAPES = {"circle": 0.5, "square": 0.3, "triangle": 0.2}
ROWS = ("top", "middle", "bottom")
COLS = ("left", "center", "right")
RGB = {"red": (230, 40, 40), "green": (40, 200, 40), "blue": (40, 80, 230), "yellow": (230, 220, 40)}
CELL, GRID, OBJECT_PX = 28, 3, 22
MIN_OBJECTS, MAX_OBJECTS = 2, 6
P_EXISTS_YES = 0.3  # "Is there a ...?" is answered "no" about 70% of the time
P_MORE_YES = 0.67  # "Are there more ...?" is answered "yes" about 67% of the time
DIRECTIONS = {"right of": (0, 1), "left of": (0, -1), "above": (-1, 0), "below": (1, 0)}

CLAIM_RE = re.compile(  # "top left: red circle"
    rf"\b({'|'.join(ROWS)})\s+({'|'.join(COLS)})\s*:\s*({'|'.join(COLORS)})\s+({'|'.join(SHAPES)})\b",
    re.IGNORECASE,
)


class Obj(TypedDict):
    color: str
    shape: str
    row: int  # 0..2, top to bottom
    col: int  # 0..2, left to right


class Scene(TypedDict):
    """Plain dicts, so a scene round-trips through the JSONL rows unchanged; objects in reading order."""

    objects: list[Obj]


@dataclass(frozen=True)
class Question:
    question: str
    answer: str
    answer_type: str  # "number" | "yes_no" | "word"
    steps: tuple[str, ...]  # CoT lines before the answer line

    @property
    def cot(self) -> str:
        return "\n".join([*self.steps, f"Answer: {self.answer}"])


# --- scenes and pictures --------------------------------------------------------------------------------

def _draw(rng: random.Random, prior: dict[str, float]) -> str:
    return rng.choices(list(prior), weights=list(prior.values()))[0]


def random_scene(rng: random.Random) -> Scene:
    cells = sorted(rng.sample(range(GRID * GRID), rng.randint(MIN_OBJECTS, MAX_OBJECTS)))
    return {"objects": [{"color": _draw(rng, COLORS), "shape": _draw(rng, SHAPES), "row": c // GRID, "col": c % GRID}
                        for c in cells]}


def cell_shade(row: int, col: int) -> tuple[int, int, int]:
    """A distinct dark grey per cell. Qwen2.5-VL's vision tower has no absolute position embedding (only
    2-D RoPE), so a tiny randomly initialised one learns "which cell" far faster from the cell's own shade."""
    v = 25 * (row * GRID + col)
    return (v, v, v)


def render(scene: Scene) -> Image.Image:
    image = Image.new("RGB", (GRID * CELL, GRID * CELL))
    draw = ImageDraw.Draw(image)
    for r in range(GRID):
        for c in range(GRID):
            draw.rectangle((c * CELL, r * CELL, (c + 1) * CELL - 1, (r + 1) * CELL - 1), fill=cell_shade(r, c))
    margin = (CELL - OBJECT_PX) // 2
    for o in scene["objects"]:
        x0, y0 = o["col"] * CELL + margin, o["row"] * CELL + margin
        x1, y1 = x0 + OBJECT_PX - 1, y0 + OBJECT_PX - 1
        fill = RGB[o["color"]]
        if o["shape"] == "circle":
            draw.ellipse((x0, y0, x1, y1), fill=fill)
        elif o["shape"] == "square":
            draw.rectangle((x0, y0, x1, y1), fill=fill)
        else:
            draw.polygon([((x0 + x1) / 2, y0), (x0, y1), (x1, y1)], fill=fill)
    return image


def position(o: Obj) -> str:
    return f"{ROWS[o['row']]} {COLS[o['col']]}"


def claim(o: Obj) -> str:
    """Position first: the model names a cell, then reads that cell, which a tiny model learns far faster
    than recalling which cell an object it already named sits in."""
    return f"{position(o)}: {o['color']} {o['shape']}"


# --- questions ------------------------------------------------------------------------------------------

def _color_at(scene: Scene, rng: random.Random) -> Question:
    o = rng.choice(scene["objects"])
    return Question(f"What color is the shape at the {position(o)}?", o["color"], "word", (claim(o),))


def _shape_at(scene: Scene, rng: random.Random) -> Question:
    o = rng.choice(scene["objects"])
    return Question(f"What shape is at the {position(o)}?", o["shape"], "word", (claim(o),))


def _exists(scene: Scene, rng: random.Random) -> Question:
    objs = scene["objects"]
    present = sorted({(o["color"], o["shape"]) for o in objs})
    # an absent pair must share its shape or colour with some object, so the chain has something to list
    absent = [(c, s) for c in COLORS for s in SHAPES if (c, s) not in present
              and any(o["shape"] == s or o["color"] == c for o in objs)]
    color, shape = rng.choice(present if rng.random() < P_EXISTS_YES or not absent else absent)
    listed = [o for o in objs if o["shape"] == shape] or [o for o in objs if o["color"] == color]
    answer = "yes" if (color, shape) in present else "no"
    return Question(f"Is there a {color} {shape}?", answer, "yes_no", tuple(claim(o) for o in listed))


def _count(scene: Scene, rng: random.Random) -> Question:
    # only attributes that occur are asked about: a zero count has no claim to make, so it could not be grounded
    by_color = rng.random() < 0.5
    key = "color" if by_color else "shape"
    value = rng.choice(sorted({o[key] for o in scene["objects"]}))
    matches = [o for o in scene["objects"] if o[key] == value]
    question = f"How many {value} shapes are there?" if by_color else f"How many {value}s are there?"
    steps = (*map(claim, matches), f"count {len(matches)}")
    return Question(question, str(len(matches)), "number", steps)


def _compare(scene: Scene, rng: random.Random) -> Question:
    key, values = ("color", COLORS) if rng.random() < 0.5 else ("shape", SHAPES)
    noun = (lambda v: f"{v} shapes") if key == "color" else (lambda v: f"{v}s")
    n = Counter(o[key] for o in scene["objects"])
    pairs = [(a, b) for a in values for b in values if a != b and n[a] + n[b] > 0]
    want_yes = rng.random() < P_MORE_YES
    a, b = rng.choice([(a, b) for a, b in pairs if (n[a] > n[b]) == want_yes] or pairs)
    steps: list[str] = []
    for v in (a, b):
        steps += [claim(o) for o in scene["objects"] if o[key] == v] or ["none"]
        steps.append(f"{noun(v)} {n[v]}")
    steps.append(f"{n[a]} is more than {n[b]}" if n[a] > n[b] else f"{n[a]} is not more than {n[b]}")
    answer = "yes" if n[a] > n[b] else "no"
    return Question(f"Are there more {noun(a)} than {noun(b)}?", answer, "yes_no", tuple(steps))


def _relation(scene: Scene, rng: random.Random) -> Optional[Question]:
    at = {(o["row"], o["col"]): o for o in scene["objects"]}
    kinds = Counter((o["color"], o["shape"]) for o in scene["objects"])
    options = [(ref, words, at[(ref["row"] + dr, ref["col"] + dc)])
               for ref in scene["objects"] if kinds[(ref["color"], ref["shape"])] == 1
               for words, (dr, dc) in DIRECTIONS.items() if (ref["row"] + dr, ref["col"] + dc) in at]
    if not options:
        return None
    ref, words, other = rng.choice(options)
    question = f"What color is the shape {words} the {ref['color']} {ref['shape']}?"
    return Question(question, other["color"], "word", (claim(ref), claim(other)))


QUESTION_TYPES: dict[int, tuple[Callable[[Scene, random.Random], Optional[Question]], ...]] = {
    1: (_color_at, _shape_at, _exists),  # perception
    2: (_count,),  # counting
    3: (_relation, _compare),  # multi-step
}


def make_question(scene: Scene, level: int, rng: random.Random) -> Question:
    """A random question type of the level; one that cannot be asked of this scene gives way to the next."""
    for make in rng.sample(QUESTION_TYPES[level], len(QUESTION_TYPES[level])):
        q = make(scene, rng)
        if q is not None:
            return q
    raise ValueError(f"no level-{level} question fits scene {scene}")  # unreachable: _compare always fits


def question_prompt(question: str) -> str:
    return f'{question}\nList what you see, then answer as "Answer: <value>".'


# --- splits ---------------------------------------------------------------------------------------------

def pair_key(scene: Scene, question: str) -> str:
    return json.dumps(scene, sort_keys=True) + "|" + question


def build_split(seed: int, split: str, n: int, levels: tuple[int, ...] = (1, 2, 3),
                exclude: frozenset[str] = frozenset()) -> list[dict]:
    """Deterministic in (seed, split); levels take turns so each gets an equal share; `exclude` holds pair_keys."""
    rng = random.Random(f"{seed}-{split}")
    rows: list[dict] = []
    seen = set(exclude)
    while len(rows) < n:
        level = levels[len(rows) % len(levels)]
        scene = random_scene(rng)
        q = make_question(scene, level, rng)
        key = pair_key(scene, q.question)
        if key in seen:
            continue
        seen.add(key)
        row_id = f"shapes-{split}-{len(rows):06d}"
        rows.append({"id": row_id, "task": "shapes", "split": split, "level": level,
                     "image": f"images/{row_id}.png", "question": q.question, "answer": q.answer,
                     "answer_type": q.answer_type, "cot": q.cot, "scene": scene})
    return rows


def write_dataset(out_dir: str | Path, seed: int, n_train: int, n_seed: int, n_test: int,
                  levels: tuple[int, ...] = (1, 2, 3)) -> dict[str, Path]:
    """Images and {train,seed,test}.jsonl; the test split shares no (scene, question) with the others."""
    out_dir = Path(out_dir)
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    splits = {"train": build_split(seed, "train", n_train, levels), "seed": build_split(seed, "seed", n_seed, levels)}
    taken = frozenset(pair_key(r["scene"], r["question"]) for rows in splits.values() for r in rows)
    splits["test"] = build_split(seed, "test", n_test, levels, exclude=taken)
    paths = {}
    for split, rows in splits.items():
        for row in rows:
            render(row["scene"]).save(out_dir / row["image"])
        paths[split] = out_dir / f"{split}.jsonl"
        write_jsonl(paths[split], rows)
    return paths


# --- labels and baselines -------------------------------------------------------------------------------

def parse_claims(text: str) -> list[tuple[str, str, str, str]]:
    """(color, shape, row, col) of every claim, lower-cased."""
    return [(c.lower(), s.lower(), r.lower(), k.lower()) for r, k, c, s in CLAIM_RE.findall(text)]


def _truths(scene: Scene) -> set[tuple[str, str, str, str]]:
    return {(o["color"], o["shape"], ROWS[o["row"]], COLS[o["col"]]) for o in scene["objects"]}


def label_grounded(response: str, scene: Scene) -> bool:
    """A chain that claims nothing is ungrounded: it cannot have looked at the picture in any checkable way."""
    claims = parse_claims(response)
    return bool(claims) and set(claims) <= _truths(scene)


def claim_accuracy(response: str, scene: Scene) -> float | None:
    claims = parse_claims(response)
    if not claims:
        return None
    truths = _truths(scene)
    return sum(c in truths for c in claims) / len(claims)


def template(question: str) -> str:
    """The question with its colours, shapes and positions blanked: what a model knows without looking."""
    t = re.sub(rf"\b({'|'.join(ROWS)}) ({'|'.join(COLS)})\b", "<pos>", question)
    t = re.sub(rf"\b({'|'.join(COLORS)})\b", "<color>", t)
    return re.sub(rf"\b({'|'.join(SHAPES)})s?\b", "<shape>", t)


def _chance(row: dict) -> float:
    if row["answer_type"] == "yes_no":
        return 1 / 2
    if row["answer_type"] == "number":
        return 1 / (MAX_OBJECTS + 1)  # counts 0..MAX_OBJECTS
    return 1 / len(COLORS) if row["answer"] in COLORS else 1 / len(SHAPES)


def chance_accuracy(rows: list[dict]) -> float:
    """Expected accuracy of a uniform guess among each question's answer options."""
    return sum(map(_chance, rows)) / len(rows) if rows else 0.0


def prior_accuracy(rows: list[dict]) -> float:
    """Accuracy of always giving each template's most frequent answer (in-sample): the no-look baseline."""
    answers: dict[str, Counter] = defaultdict(Counter)
    for r in rows:
        answers[template(r["question"])][r["answer"]] += 1
    return sum(c.most_common(1)[0][1] for c in answers.values()) / len(rows) if rows else 0.0


def corpus(rows: list[dict]) -> list[str]:
    """Every prompt and chain, so the tiny model's tokenizer covers all the task's words."""
    return [text for r in rows for text in (question_prompt(r["question"]), r["cot"])]
