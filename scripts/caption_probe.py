"""Does a model's image pathway carry the scene? Greedy captions of the shapes task's test images.

    python scripts/caption_probe.py RUN_DIR/round_0/align/model RUN_DIR/data [--n 96]

Asks "Describe the image." of the first N test images, with the true image and with the next query's, and
prints the share of the scene's objects ("red circle") the caption names (multiset recall) and the share of
captions exactly right. After round 0's alignment the projector alone has learnt this; after seed SFT the
model answers in its chain format instead, so the probe is for the aligned model.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

import torch
from PIL import Image

from vistakit.models.inputs import encode, render_query
from vistakit.models.load import load
from vistakit.tasks.shapes import caption


def captions(model, processor, images, batch: int = 32) -> list[str]:
    out = []
    for i in range(0, len(images), batch):
        chunk = images[i:i + batch]
        b = encode(processor, [render_query(processor, "Describe the image.")] * len(chunk), [[im] for im in chunk])
        with torch.no_grad():
            g = model.generate(**b.inputs, max_new_tokens=32, do_sample=False)
        out += processor.tokenizer.batch_decode(g[:, b.inputs["input_ids"].shape[1]:], skip_special_tokens=True)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model")
    p.add_argument("data", help="the run's data folder (test.jsonl and images/)")
    p.add_argument("--n", type=int, default=96)
    args = p.parse_args()
    rows = [json.loads(line) for line in (Path(args.data) / "test.jsonl").read_text().splitlines()][:args.n]
    model, processor = load(args.model)
    images = [Image.open(Path(args.data) / r["image"]).convert("RGB") for r in rows]
    for condition, shown in (("true image", images), ("another query's image", images[1:] + images[:1])):
        said = captions(model.eval(), processor, shown)
        recall = []
        for r, text in zip(rows, said):
            truth = Counter(f"{o['color']} {o['shape']}" for o in r["scene"]["objects"])
            named = Counter(text.replace("Objects:", "").strip(". \n").split(", "))
            recall.append(sum((truth & named).values()) / sum(truth.values()))
        exact = sum(text.strip() == caption(r["scene"]) for r, text in zip(rows, said)) / len(rows)
        print(f"{condition}: objects named {sum(recall) / len(recall):.3f}, exact captions {exact:.3f}")


if __name__ == "__main__":
    main()
