"""Which layer's attention tells grounded from ungrounded chains? Rescore a finished round's positives.

    python scripts/vas_layers.py RUN_DIR [--round 1] [--batch 16]

Takes the positives of `RUN_DIR/round_t/select/decisions.jsonl` (those the VAS filter scored), scores them
under M_{t-1} at every decoder layer in one pass per batch, and prints per layer, for the task's
`grounded` labels: the AUROC of -VAS (z-scored within query, as the filter uses it) and of -S (the raw
ratio, across queries) for finding ungrounded positives, and what a tau = -0.5 cut would drop.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import torch
from PIL import Image
from tqdm import tqdm

from vistakit.tasks.data import instruction_for, load_split
from vistakit.evaluation.diagnostics import auroc
from vistakit.models.inputs import render_query
from vistakit.models.load import load
from vistakit.steps import with_samples
from vistakit.vista.vas import segment_masses, vision_ratio, z_scores


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dir", type=Path)
    p.add_argument("--round", type=int, default=1)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--tau", type=float, default=-0.5)
    args = p.parse_args()
    cfg = json.loads(json.dumps(__import__("yaml").safe_load((args.run_dir / "config.yaml").read_text())))
    model_path = cfg["model"]["base"] if args.round == 1 else \
        json.loads((args.run_dir / f"round_{args.round - 1}" / "train" / "result.json").read_text())["model"]
    data = Path(cfg["data"]["path"] or args.run_dir / "data")
    queries = {q.id: q for q in load_split(data / f"{cfg['data']['train_split']}.jsonl", cfg["data"]["task"])}
    decisions = with_samples(args.run_dir / f"round_{args.round}")  # with each sample's token ids
    positives = [d for d in decisions if "vas" in d and d.get("grounded") is not None]
    model, processor = load(model_path)
    model.eval()
    n_layers = model.config.get_text_config().num_hidden_layers
    eos = processor.tokenizer.eos_token_id
    ratios = torch.zeros(n_layers, len(positives))
    order = sorted(range(len(positives)), key=lambda i: len(positives[i]["token_ids"]))
    for b in tqdm(range(0, len(order), args.batch), desc="scoring", unit="batch"):
        idx = order[b : b + args.batch]
        qs = [queries[positives[i]["query_id"]] for i in idx]
        masses = segment_masses(model, processor, [render_query(processor, instruction_for(q)) for q in qs],
                                [[Image.open(q.images[0]).convert("RGB")] for q in qs],
                                [positives[i]["token_ids"] + [eos] for i in idx],
                                layers=list(range(n_layers)), per_layer=True)
        for layer in range(n_layers):
            ratios[layer, idx] = vision_ratio(masses[layer])
    ungrounded = [not d["grounded"] for d in positives]
    print(f"{len(positives)} positives, {sum(ungrounded) / len(positives):.3f} ungrounded; model {model_path}")
    print(f"{'layer':>5} {'AUROC -VAS':>10} {'AUROC -S':>9} {'dropped':>8} {'precision':>9}")
    for layer in range(n_layers):
        groups = defaultdict(list)
        for i, d in enumerate(positives):
            groups[d["query_id"]].append(i)
        vas = [0.0] * len(positives)
        for idx in groups.values():
            for i, z in zip(idx, z_scores([float(ratios[layer, i]) for i in idx])):
                vas[i] = z
        drop = [v < args.tau for v in vas]
        hits = sum(d and u for d, u in zip(drop, ungrounded))
        print(f"{layer:>5} {auroc([-v for v in vas], ungrounded):>10.3f} "
              f"{auroc([-float(r) for r in ratios[layer]], ungrounded):>9.3f} {sum(drop):>8} "
              f"{hits / max(sum(drop), 1):>9.3f}")


if __name__ == "__main__":
    main()
