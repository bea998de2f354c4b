"""A training step in float32 against bf16 autocast over float32 weights (`train.bf16: true`), on CPU or GPU.

    python benchmarks/train_precision.py                       # the embedded tiny model, random weights
    python benchmarks/train_precision.py --model runs/smol-seed0-sft4/sft-seed/round_0/train/model
    python benchmarks/train_precision.py --model M --examples 256 --batch 16 --device cuda

Both settings train a fresh copy of the model through vistakit's own SFT step (`train_sft`, the Trainer a
round uses) on the same seed chains of the shapes task, alternately, `--repeats` times each; prints each
attempt's seconds and mean loss, the median ratio bf16 / float32 (below 1: bf16 is faster) and the two
settings' losses side by side, since a faster step that learns less is no saving. A timing includes loading
and saving the model (a few seconds on the pretrained organism); use enough examples that training dominates.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from vistakit.config import TrainConfig
from vistakit.models.tiny import TinySpec, build_tiny_model
from vistakit.steps import example, seed_rows
from vistakit.tasks.data import load_split
from vistakit.tasks.shapes import corpus, write_dataset
from vistakit.training.sft import train_sft


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="a checkpoint folder; default: the embedded tiny model, built here")
    parser.add_argument("--examples", type=int, default=128, help="seed chains trained on, one epoch")
    parser.add_argument("--batch", type=int, default=16, help="examples per optimizer step")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="vistakit-precision-"))
    write_dataset(work / "data", 0, n_train=0, n_seed=args.examples, n_test=0, no_look_share=0.0)
    seed = load_split(work / "data" / "seed.jsonl", "shapes")
    examples = [example(q, row) for q, row in zip(seed, seed_rows(seed, 0.5, 0))]
    path = args.model
    if path is None:
        path = work / "tiny"
        rows = [json.loads(line) for line in (work / "data" / "seed.jsonl").read_text().splitlines()]
        build_tiny_model(path, corpus(rows), TinySpec())

    runs: dict[bool, list[dict]] = {False: [], True: []}
    for i in range(args.repeats):
        for bf16 in (False, True):
            cfg = TrainConfig(epochs=1.0, learning_rate=2e-5, examples_per_device_batch=args.batch, bf16=bf16,
                              save_each_epoch=False, frozen=["vision_tower"], logging_steps=1)
            out = work / f"{'bf16' if bf16 else 'fp32'}-{i}"
            start = time.perf_counter()
            train_sft(path, examples, out, cfg, device=args.device, seed=0)
            seconds = time.perf_counter() - start
            loss = json.loads((out / "train_log.json").read_text())["train_loss"]
            runs[bf16].append({"seconds": seconds, "loss": loss})
            name = "bf16 autocast" if bf16 else "float32"
            print(f"{name:>13}  attempt {i + 1}: {seconds:7.1f} s, mean loss {loss:.4f}", flush=True)
    fp32, bf16 = (statistics.median(r["seconds"] for r in runs[k]) for k in (False, True))
    result = {"model": str(args.model or "tiny"), "examples": args.examples, "batch": args.batch,
              "device": args.device, "float32_s": fp32, "bf16_s": bf16, "ratio_bf16_over_float32": bf16 / fp32,
              "float32_loss": runs[False][0]["loss"], "bf16_loss": runs[True][0]["loss"]}
    print(f"bf16 / float32 wall time: {bf16 / fp32:.3f} (median of {args.repeats}); mean loss "
          f"{result['float32_loss']:.4f} (float32) vs {result['bf16_loss']:.4f} (bf16)")
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
