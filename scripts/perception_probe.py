"""Can the language model read each cell's colour and shape off the image tokens it is given?

A linear probe (multinomial logistic regression, L-BFGS) from each of the 9 merged image tokens (after the
projector: exactly what the language model sees) to its grid cell's colour and shape (empty counts as a
class), fitted on 80% of the cells of fresh scenes and scored on the rest. If the probe reads them, a seed
model that does not look is failing in the language model, not in the (frozen, random) vision tower.

    python scripts/perception_probe.py RUN_DIR/base_model [N_SCENES]
"""

import random
import sys

import torch

from vistakit.models.load import load
from vistakit.tasks.shapes import COLORS, GRID, SHAPES, random_scene, render


def image_tokens(model, processor, scenes: list, batch: int = 50) -> torch.Tensor:
    out = []
    with torch.no_grad():
        for i in range(0, len(scenes), batch):
            images = [render(s) for s in scenes[i:i + batch]]
            enc = processor.image_processor(images=images, return_tensors="pt")
            feats = model.model.get_image_features(enc["pixel_values"], enc["image_grid_thw"])
            feats = getattr(feats, "pooler_output", feats)
            feats = torch.cat(list(feats)) if isinstance(feats, (list, tuple)) else feats
            out.append(feats.reshape(len(images), GRID * GRID, -1))
    return torch.cat(out)


def cell_labels(scenes: list) -> tuple[torch.Tensor, torch.Tensor]:
    colors, shapes = list(COLORS), list(SHAPES)
    col, shp = torch.zeros(len(scenes), GRID * GRID, dtype=torch.long), torch.zeros(len(scenes), GRID * GRID, dtype=torch.long)
    for i, s in enumerate(scenes):
        for o in s["objects"]:
            k = o["row"] * GRID + o["col"]
            col[i, k], shp[i, k] = 1 + colors.index(o["color"]), 1 + shapes.index(o["shape"])
    return col, shp


def probe(x: torch.Tensor, y: torch.Tensor, name: str) -> None:
    x, y = x.reshape(-1, x.shape[-1]), y.reshape(-1)
    x = (x - x.mean(0)) / (x.std(0) + 1e-6)
    n = int(0.8 * len(x))
    w = torch.zeros(x.shape[1], int(y.max()) + 1, requires_grad=True)
    b = torch.zeros(w.shape[1], requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=300)

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(x[:n] @ w + b, y[:n]) + 1e-3 * (w ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    pred, truth = (x[n:] @ w + b).argmax(1), y[n:]
    occupied = truth > 0
    majority = torch.bincount(truth[occupied]).max().item() / occupied.sum().item()
    print(f"{name}: held-out cells {(pred == truth).float().mean():.3f}, occupied cells "
          f"{(pred[occupied] == truth[occupied]).float().mean():.3f} (their majority class: {majority:.3f})")


def main(path: str, n: int = 1500) -> None:
    model, processor = load(path)
    model.eval()
    rng = random.Random(123)
    scenes = [random_scene(rng) for _ in range(n)]
    x = image_tokens(model, processor, scenes)
    col, shp = cell_labels(scenes)
    print(f"{n} scenes, image tokens {tuple(x.shape[1:])}")
    probe(x, col, "colour (5 classes with empty)")
    probe(x, shp, "shape (4 classes with empty)")


if __name__ == "__main__":
    main(sys.argv[1], *(int(a) for a in sys.argv[2:]))
