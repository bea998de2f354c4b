"""`vista.vas_layers: auto`: choose the VAS layer on a small calibration set, without task labels.

The paper picks the middle layer by hand and names "no automatic layer selection" as a limitation; which
layer carries the signal, and even its sign, changes between models (two seed SFTs of the same tiny model
disagreed). Here, on the positives of `n_queries` seeded queries (each with two or more positives), one
pass with every layer captured gives each positive's S per layer; the label is the two-pass one
(`two_pass.py`: did the chain depend on its image?), so it works on any dataset. The chosen layer is the one
whose within-query VAS (the z-score the filter uses) has the highest AUROC for that label. If no layer is
above 0.5 (no layer where more image attention means a chain that looked), the middle layer (the default) is kept and
the file says so: the filter would otherwise drop the chains that looked. Everything is written to
`vas_layers.json`: per-layer AUROCs, the choice and why.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from pathlib import Path

from PIL import Image

from vistakit.tasks.data import Query
from vistakit.evaluation.diagnostics import auroc
from vistakit.runfolder import write_json
from vistakit.vista.scoring import distinct_responses, scoring_batches, scoring_model
from vistakit.vista.vas import default_layers, segment_masses, vision_ratio, z_scores


def per_layer_ratios(model, processor, queries: dict[str, Query], positives: list[dict], *, batch_size: int,
                     system: str | None) -> list[list[float]]:
    """S of each positive at every decoder layer: (layers, positives)."""
    layers = list(range(len(model.get_decoder().layers)))
    out = [[0.0] * len(positives) for _ in layers]
    for idx, qs, prompts, responses in scoring_batches(processor, queries, positives, batch_size=batch_size,
                                                       system=system, desc="VAS calibration"):
        images = [[Image.open(p).convert("RGB") for p in q.images] for q in qs]
        masses = segment_masses(model, processor, prompts, images, responses, layers=layers, per_layer=True)
        for layer in layers:
            for i, s in zip(idx, vision_ratio(masses[layer]).tolist()):
                out[layer][i] = s
    return out


def within_query_z(positives: list[dict], ratios: list[float]) -> list[float]:
    by_query = defaultdict(list)
    for i, p in enumerate(positives):
        by_query[p["query_id"]].append(i)
    z = [0.0] * len(positives)
    for idx in by_query.values():
        for i, v in zip(idx, z_scores([ratios[i] for i in idx])):
            z[i] = v
    return z


def calibration_set(decisions: list[dict], n_queries: int, seed: int) -> list[dict]:
    """The two-pass-labelled positives of `n_queries` seeded queries with 2+ of them."""
    by_query = defaultdict(list)
    for d in decisions:
        if d["kept"] and d.get("two_pass_looked") is not None:
            by_query[d["query_id"]].append(d)
    eligible = sorted(q for q, ps in by_query.items() if len(ps) >= 2)
    chosen = random.Random(seed).sample(eligible, min(n_queries, len(eligible)))
    return [p for q in sorted(chosen) for p in by_query[q]]


def choose_layers(scorer, processor, queries: dict[str, Query], decisions: list[dict], out_file: Path, *,
                  n_queries: int, seed: int, batch_size: int, system: str | None) -> list[int]:
    if out_file.exists():
        return json.loads(out_file.read_text())["chosen"]
    positives = calibration_set(decisions, n_queries, seed)
    looked = [bool(p["two_pass_looked"]) for p in positives]
    unique, where = distinct_responses(positives)  # a repeated chain is scored once (scoring.run_pass)
    with scoring_model(scorer) as model:
        fallback = default_layers(model)
        ratios = per_layer_ratios(model, processor, queries, unique, batch_size=batch_size, system=system) \
            if positives else []
    ratios = [[r[j] for j in where] for r in ratios]
    per_layer = [auroc(within_query_z(positives, r), looked) for r in ratios]
    raw = [auroc(r, looked) for r in ratios]
    scored = [(a, layer) for layer, a in enumerate(per_layer) if a is not None]
    best = max(scored, default=None)
    if best is None:
        chosen, why = fallback, "no calibration positives with both labels: the middle layer (the default)"
    elif best[0] <= 0.5:
        chosen, why = fallback, (f"no layer's VAS is above chance for the two-pass label (best {best[0]:.3f} at "
                                 f"layer {best[1]}): the middle layer (the default)")
    else:
        chosen, why = [best[1]], f"highest within-query AUROC for the two-pass label ({best[0]:.3f})"
    write_json(out_file, {"chosen": chosen, "why": why, "per_layer_auroc": per_layer, "per_layer_auroc_raw": raw,
                          "calibration_queries": len({p["query_id"] for p in positives}),
                          "calibration_positives": len(positives),
                          "looked_rate": sum(looked) / len(looked) if looked else None})
    return chosen
