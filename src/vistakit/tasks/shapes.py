"""The embedded default task: coloured shapes on a 3x3 grid, questions at three levels, gold chains of thought.

Every scene statement in a chain is a CLAIM about how many objects of a kind the picture holds:
`red circle: 2` (colour and shape), `red shapes: 3` (a colour), `circles: 1` (a shape). A response is
labelled grounded when it makes at least one claim and every claim is true of the scene, as well as correct
(its answer line). Colours, shapes and yes/no answers are skewed on purpose: a model can guess some answers
without looking, which produces the correct-but-ungrounded chains the VISTA steps must find.

Why counts and not positions: a tiny randomly initialised VLM learns what a picture contains (attention
spread over all image tokens already carries it) in a few hundred steps, but learning to pick out one cell
by name took thousands of steps more than a CPU demo has (measured with probes while building this task;
see the issue note). Questions are therefore about kinds, counts and comparisons of counts.

    python -c "from vistakit.tasks.shapes import write_dataset; write_dataset('data', 0, 2000, 200, 500)"

Each image is 84x84: one 28x28 cell is one image token of the tiny Qwen2.5-VL, so objects stay inside cells.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter, defaultdict
from math import comb
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
MIN_OBJECTS, MAX_OBJECTS = 2, 5
P_EXISTS_YES = 0.4  # "Is there a ...?" is answered "no" about 60% of the time
P_MORE_YES = 0.6  # "Are there more ...?" is answered "yes" about 60% of the time

_C, _S = "|".join(COLORS), "|".join(SHAPES)
CLAIM_RE = re.compile(  # one claim a line: "red circle: 2" | "red shapes: 3" | "circles: 1"
    rf"^\s*(?:({_C})\s+({_S})|({_C})\s+shapes|({_S})s)\s*:\s*(\d+)\b", re.IGNORECASE | re.MULTILINE,
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
    guess: tuple[str, ...] = ()  # the chain written without the image: GUESS_MARKER, typical claims, its answer

    @property
    def cot(self) -> str:
        return "\n".join([*self.steps, f"Answer: {self.answer}"])

    @property
    def guess_cot(self) -> str:
        return "\n".join(self.guess)


# --- scenes and pictures --------------------------------------------------------------------------------

def _draw(rng: random.Random, prior: dict[str, float]) -> str:
    return rng.choices(list(prior), weights=list(prior.values()))[0]


def random_scene(rng: random.Random) -> Scene:
    cells = sorted(rng.sample(range(GRID * GRID), rng.randint(MIN_OBJECTS, MAX_OBJECTS)))
    return {"objects": [{"color": _draw(rng, COLORS), "shape": _draw(rng, SHAPES), "row": c // GRID, "col": c % GRID}
                        for c in cells]}


def render(scene: Scene) -> Image.Image:
    image = Image.new("RGB", (GRID * CELL, GRID * CELL))  # black
    draw = ImageDraw.Draw(image)
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


def count(scene: Scene, color: str | None = None, shape: str | None = None) -> int:
    return sum((color is None or o["color"] == color) and (shape is None or o["shape"] == shape)
               for o in scene["objects"])


def kind_claim(scene: Scene, color: str, shape: str) -> str:
    return f"{color} {shape}: {count(scene, color, shape)}"


@dataclass(frozen=True)
class Attribute:
    """Counting by colour or by shape: the questions and claims differ only in these few words."""

    key: str  # "color" | "shape"
    values: tuple[str, ...]

    def total(self, scene: Scene, value: str) -> int:
        return count(scene, **{self.key: value})

    def noun(self, value: str) -> str:
        return f"{value} shapes" if self.key == "color" else f"{value}s"

    def claim(self, scene: Scene, value: str) -> str:
        """One claim, the total (`red shapes: 2`): with one claim per count, a correct count is almost
        always a grounded one, so the loop's answer filter selects what the model really saw."""
        return f"{self.noun(value)}: {self.total(scene, value)}"


BY_COLOR, BY_SHAPE = Attribute("color", tuple(COLORS)), Attribute("shape", tuple(SHAPES))


# --- the language-prior pathway -----------------------------------------------------------------------
# Real VLMs' correct-but-ungrounded chains are written from language priors, without looking. The seed split
# gives the tiny model that pathway: a share of its chains (`no_look_share`) are GUESSES, the chain the
# question's wording alone suggests (every count the most likely one under the generator's priors, the answer
# that follows from those counts), whatever the image shows. They start with a marker line, so a model that
# learns them has a mode whose tokens come from the text, not the image (without a marker, a probe found the
# mode invisible to attention: the choice hides inside one digit). The marker also makes a text-only
# detector easy, which is why the run reports one beside VAS.
GUESS_MARKER = "Guess:"


def _binom(n: int, k: int, p: float) -> float:
    return comb(n, k) * p**k * (1 - p) ** (n - k)


def typical_count(color: str | None = None, shape: str | None = None) -> int:
    """The most likely count of objects of a kind over random scenes: what the question suggests without looking."""
    p = (COLORS[color] if color else 1.0) * (SHAPES[shape] if shape else 1.0)
    sizes = range(MIN_OBJECTS, MAX_OBJECTS + 1)
    probs = [sum(_binom(n, k, p) for n in sizes if k <= n) for k in range(MAX_OBJECTS + 1)]
    return max(range(len(probs)), key=lambda k: (probs[k], -k))


TYPICAL_COLOR, TYPICAL_SHAPE = max(COLORS, key=COLORS.get), max(SHAPES, key=SHAPES.get)


def _guess(steps: tuple[str, ...], answer: str) -> tuple[str, ...]:
    return (GUESS_MARKER, *steps, f"Answer: {answer}")


def made_without_looking(response: str) -> bool:
    """The synthetic task's own label of a chain written in the guess mode (its first line is the marker)."""
    return response.lstrip().startswith(GUESS_MARKER)


def _pick_attribute(rng: random.Random) -> Attribute:
    return BY_COLOR if rng.random() < 0.5 else BY_SHAPE


def _kinds(scene: Scene) -> list[tuple[str, str]]:
    return sorted({(o["color"], o["shape"]) for o in scene["objects"]})


def _exists(scene: Scene, rng: random.Random) -> Question:
    present = _kinds(scene)
    absent = [(c, s) for c in COLORS for s in SHAPES if (c, s) not in present]
    color, shape = rng.choice(present if rng.random() < P_EXISTS_YES else absent)
    answer = "yes" if (color, shape) in present else "no"
    t = typical_count(color, shape)
    return Question(f"Is there a {color} {shape}?", answer, "yes_no", (kind_claim(scene, color, shape),),
                    _guess((f"{color} {shape}: {t}",), "yes" if t else "no"))


def _the_only(scene: Scene, rng: random.Random, key: str) -> Optional[dict]:
    """A random object that is the only one of its shape (`key` "shape") or colour ("color"), or None."""
    unique = [v for v in (SHAPES if key == "shape" else COLORS) if count(scene, **{key: v}) == 1]
    if not unique:
        return None
    value = rng.choice(unique)
    (o,) = [o for o in scene["objects"] if o[key] == value]
    return o


def _color_of(scene: Scene, rng: random.Random) -> Optional[Question]:
    o = _the_only(scene, rng, "shape")
    if o is None:
        return None
    shape = o["shape"]
    return Question(f"What color is the {shape}?", o["color"], "word",
                    (f"{shape}s: 1", kind_claim(scene, o["color"], shape)),
                    _guess((f"{shape}s: 1", f"{TYPICAL_COLOR} {shape}: 1"), TYPICAL_COLOR))


def _shape_of(scene: Scene, rng: random.Random) -> Optional[Question]:
    o = _the_only(scene, rng, "color")
    if o is None:
        return None
    color = o["color"]
    return Question(f"What shape is the {color} one?", o["shape"], "word",
                    (f"{color} shapes: 1", kind_claim(scene, color, o["shape"])),
                    _guess((f"{color} shapes: 1", f"{color} {TYPICAL_SHAPE}: 1"), TYPICAL_SHAPE))


def _count(scene: Scene, rng: random.Random) -> Question:
    attr = _pick_attribute(rng)
    value = rng.choice(sorted({o[attr.key] for o in scene["objects"]}))
    t = typical_count(**{attr.key: value})
    return Question(f"How many {attr.noun(value)} are there?", str(attr.total(scene, value)), "number",
                    (attr.claim(scene, value),), _guess((f"{attr.noun(value)}: {t}",), str(t)))


def _compare(scene: Scene, rng: random.Random) -> Question:
    attr = _pick_attribute(rng)
    n = {v: attr.total(scene, v) for v in attr.values}
    pairs = [(a, b) for a in attr.values for b in attr.values if a != b and n[a] + n[b] > 0]
    want_yes = rng.random() < P_MORE_YES
    a, b = rng.choice([(a, b) for a, b in pairs if (n[a] > n[b]) == want_yes] or pairs)
    steps = (attr.claim(scene, a), attr.claim(scene, b), _more(n[a], n[b]))
    ta, tb = typical_count(**{attr.key: a}), typical_count(**{attr.key: b})
    guess = _guess((f"{attr.noun(a)}: {ta}", f"{attr.noun(b)}: {tb}", _more(ta, tb)), "yes" if ta > tb else "no")
    return Question(f"Are there more {attr.noun(a)} than {attr.noun(b)}?", "yes" if n[a] > n[b] else "no",
                    "yes_no", steps, guess)


def _more(a: int, b: int) -> str:
    return f"{a} is more than {b}" if a > b else f"{a} is not more than {b}"


def _sum(scene: Scene, rng: random.Random) -> Question:
    """Two totals added: hard to guess, so a correct answer here usually means the chain looked."""
    attr = _pick_attribute(rng)
    n = {v: attr.total(scene, v) for v in attr.values}
    a = rng.choice([v for v in attr.values if n[v]])
    b = rng.choice([v for v in attr.values if v != a])
    steps = (attr.claim(scene, a), attr.claim(scene, b), f"{n[a]} plus {n[b]} is {n[a] + n[b]}")
    ta, tb = typical_count(**{attr.key: a}), typical_count(**{attr.key: b})
    guess = _guess((f"{attr.noun(a)}: {ta}", f"{attr.noun(b)}: {tb}", f"{ta} plus {tb} is {ta + tb}"), str(ta + tb))
    return Question(f"How many {attr.noun(a)} and {attr.noun(b)} are there?", str(n[a] + n[b]), "number", steps,
                    guess)


QUESTION_TYPES: dict[int, tuple[Callable[[Scene, random.Random], Optional[Question]], ...]] = {
    1: (_exists, _color_of, _shape_of),  # perception: one kind
    2: (_count,),  # counting: the total of a colour or a shape
    3: (_compare, _sum),  # multi-step: two totals, then their comparison or their sum
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
                exclude: frozenset[str] = frozenset(), no_look_share: float = 0.0) -> list[dict]:
    """Deterministic in (seed, split); levels take turns so each gets an equal share; `exclude` holds pair_keys.
    `no_look_share` of the rows get the guess chain as `cot` (`cot_source: "guess"`; the `answer` stays the
    true one): the language-prior pathway. Drawn from their own generator, so the scenes and questions
    are the same whatever the share."""
    rng = random.Random(f"{seed}-{split}")
    guess_rng = random.Random(f"{seed}-{split}-guess")
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
        guess = guess_rng.random() < no_look_share
        rows.append({"id": row_id, "task": "shapes", "split": split, "level": level,
                     "image": f"images/{row_id}.png", "question": q.question, "answer": q.answer,
                     "answer_type": q.answer_type, "cot": q.guess_cot if guess else q.cot,
                     "cot_source": "guess" if guess else "look", "scene": scene, "caption": caption(scene),
                     "prior_answer": q.guess[-1].removeprefix("Answer: ") if q.guess else None})
    return rows


def caption(scene: Scene) -> str:
    """The scene in words, objects in reading order: what round 0's alignment (`align_epochs`) teaches a
    pretrained VLM's new projector to say ("Objects: red circle, blue square.")."""
    return "Objects: " + ", ".join(f"{o['color']} {o['shape']}" for o in scene["objects"]) + "."


def write_dataset(out_dir: str | Path, seed: int, n_train: int, n_seed: int, n_test: int,
                  levels: tuple[int, ...] = (1, 2, 3), no_look_share: float = 0.0) -> dict[str, Path]:
    """Images and {train,seed,test}.jsonl; the test split shares no (scene, question) with the others.
    `no_look_share`: of the seed split's chains, the share written without looking (`build_split`)."""
    out_dir = Path(out_dir)
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    splits = {"train": build_split(seed, "train", n_train, levels),
              "seed": build_split(seed, "seed", n_seed, levels, no_look_share=no_look_share)}
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

def parse_claims(text: str) -> list[tuple[str | None, str | None, int]]:
    """(color or None, shape or None, n) for every claim, lower-cased."""
    out = []
    for c1, s1, c2, s2, n in CLAIM_RE.findall(text):
        out.append(((c1 or c2).lower() or None, (s1 or s2).lower() or None, int(n)))
    return out


def _claim_true(scene: Scene, claim: tuple[str | None, str | None, int]) -> bool:
    color, shape, n = claim
    return count(scene, color, shape) == n


def label_grounded(response: str, scene: Scene) -> bool:
    """A chain that claims nothing is ungrounded: it cannot have looked at the picture in any checkable way."""
    claims = parse_claims(response)
    return bool(claims) and all(_claim_true(scene, c) for c in claims)


def claim_accuracy(response: str, scene: Scene) -> float | None:
    claims = parse_claims(response)
    if not claims:
        return None
    return sum(_claim_true(scene, c) for c in claims) / len(claims)


def template(question: str) -> str:
    """The question with its colours, shapes and positions blanked: what a model knows without looking."""
    t = re.sub(rf"\b({'|'.join(COLORS)})\b", "<color>", question)
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


def baselines(data_dir: Path | None, split: str = "test") -> tuple[float | None, float | None]:
    """Chance accuracy and the answer prior's (always the question's most frequent answer: answering without
    looking) on the synthetic task's `split`; (None, None) for other data, or a folder that is gone."""
    path = Path(data_dir) / f"{split}.jsonl" if data_dir else None
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path and path.exists() else []
    if not rows or any(r.get("task", "shapes") != "shapes" for r in rows):
        return None, None
    return chance_accuracy(rows), prior_accuracy(rows)


def corpus(rows: list[dict]) -> list[str]:
    """Every prompt and chain, so the tiny model's tokenizer covers all the task's words."""
    return [text for r in rows for text in (question_prompt(r["question"]), r["cot"])]
