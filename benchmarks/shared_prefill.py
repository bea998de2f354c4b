"""Sampling K responses per query with one prompt pass per query against `generate`'s K copies of the prompt.

    python benchmarks/shared_prefill.py                        # the embedded tiny model, random weights
    python benchmarks/shared_prefill.py --model runs/smol-seed0/sft-seed/round_0/train/model
    python benchmarks/shared_prefill.py --model M --k 8 --queries 16 --max-new-tokens 48 --device cuda

Both paths sample the same synthetic shapes queries with the same seed, alternately, `--repeats` times each;
prints the seconds of each repeat, the median ratio shared / copied (below 1: the shared pass is faster) and
whether the two paths drew the same tokens. The saving is the prompt's K-1 extra passes (vision tower
included): largest where prompts are long and responses short, as in the demo's and the pretrained
organism's chains. The random tiny model rarely stops before --max-new-tokens, so its ratio understates the
saving on a trained model.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch
from PIL import Image

from vistakit.models.inputs import render_query
from vistakit.models.load import load
from vistakit.models.tiny import TinySpec, build_tiny_model
from vistakit.sampling.hf_backend import HFBackend
from vistakit.tasks.data import instruction_for, load_split
from vistakit.tasks.shapes import corpus, write_dataset


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="a checkpoint folder; default: the embedded tiny model, built here")
    parser.add_argument("--queries", type=int, default=32, help="queries per generate call (one batch)")
    parser.add_argument("--k", type=int, default=4, help="samples per query")
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="vistakit-prefill-"))
    write_dataset(work / "data", 0, n_train=args.queries, n_seed=0, n_test=0, no_look_share=0.0)
    queries = load_split(work / "data" / "train.jsonl", "shapes")[: args.queries]
    path = args.model
    if path is None:
        path = work / "tiny"
        rows = [json.loads(line) for line in (work / "data" / "train.jsonl").read_text().splitlines()]
        build_tiny_model(path, corpus(rows), TinySpec())
    model, processor = load(path, device=args.device)
    model.eval()
    prompts = [render_query(processor, instruction_for(q), len(q.images)) for q in queries]
    images = [[Image.open(p).convert("RGB") for p in q.images] for q in queries]

    backend = HFBackend(model, processor)
    shared_check = backend.shares_prefill
    times: dict[str, list[float]] = {"copied": [], "shared": []}
    drawn = {}
    for _ in range(args.repeats):
        for name in ("copied", "shared"):
            backend.shares_prefill = shared_check if name == "shared" else (lambda ids: False)
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            start = time.perf_counter()
            out = backend.generate(prompts, images, args.k, 1.0, args.max_new_tokens, seed=0)
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            times[name].append(time.perf_counter() - start)
            drawn[name] = [[g.token_ids for g in gs] for gs in out]
    new_tokens = sum(len(ids) for gs in drawn["shared"] for ids in gs) / (len(queries) * args.k)
    print(f"model {path}, {len(queries)} queries x {args.k} samples, prompt of about "
          f"{len(processor(text=prompts[:1], images=images[:1])['input_ids'][0])} tokens, "
          f"{new_tokens:.1f} new tokens per sample, torch threads {torch.get_num_threads()}, {args.device}")
    for name, ts in times.items():
        print(f"{name:>7}: " + "  ".join(f"{t:.2f}s" for t in ts))
    ratio = statistics.median(s / c for s, c in zip(times["shared"], times["copied"]))
    print(f"shared / copied, median of {args.repeats}: {ratio:.3f}")
    same = sum(a == b for qa, qb in zip(drawn["shared"], drawn["copied"]) for a, b in zip(qa, qb))
    print(f"samples drawn alike by both paths: {same} of {len(queries) * args.k}")
    return {"seconds": times, "ratio": ratio, "alike": same, "samples": len(queries) * args.k}


if __name__ == "__main__":
    main()
