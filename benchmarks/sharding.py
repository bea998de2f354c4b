"""Sampling and the VAS pass over 1 and 2 shards (vistakit.shards) on the same queries, in one run:

    OMP_NUM_THREADS=1 python benchmarks/sharding.py [--queries 16] [--samples 4] [--new-tokens 48] [--hidden 256]

Prints, for the sampling step and for the VAS pass over every sample it drew, the wall time with 1 local
shard process and with 2 (each run starts its processes and loads the model: what a step costs), the
speedup of 2 over 1 (issue 15's goal: >= 1.6x, with a core or a GPU per shard), the merge's share of the
2-shard step, and checks that the 1- and 2-shard outputs are identical. The model is a randomly initialised tiny Qwen2.5-VL built locally (no download); the queries
are the synthetic task's. Each shard gets OMP_NUM_THREADS=1 unless the environment says otherwise, so on a
machine whose cores other work also uses the speedup is below what free cores give.

Measured 2026-12-02 on this 2-core CPU machine, OMP_NUM_THREADS=1 (no GPU):
- shared with other work (load average 2.7), sampling only (before the VAS pass was sharded): defaults
  (16 queries x 4, 48 tokens, hidden 256) 8.0 s vs 13.0 s, 0.62x (start-up and model load dominate);
  `--queries 32 --new-tokens 128 --hidden 512`: 1.16x; the merge 0.03% of the step.
- cores free (load average 0.2-1.4), `--queries 32 --new-tokens 128 --hidden 512`: sampling 17.0 s vs
  10.7 s, 1.59x; VAS pass (128 samples, 14k response tokens) 6.3 s vs 5.5 s, 1.14x.
  `--queries 32 --samples 8 --new-tokens 192 --hidden 512`: sampling 33.4 s vs 19.5 s, 1.71x; VAS pass
  (256 samples, 40k tokens) 9.5 s vs 7.2 s, 1.32x. Merges: 0.02-0.06% of the step. The VAS pass of a tiny
  model is seconds of compute against each shard's ~3 s of start-up (Python, torch, the model), so its
  speedup stays low here; on a GPU the 3B pass is minutes and the start-up the same.
One run per setting, in the development checkout, not rerun from a fresh clone.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from vistakit.config import load_config
from vistakit.models.tiny import TinySpec, build_tiny_model
from vistakit.sampling import sample
from vistakit.shards import Shards
from vistakit.tasks.data import load_split
from vistakit.tasks.shapes import write_dataset
from vistakit.vista.scoring import length_batches, merge_pass
from vistakit.vista.vas_filter import score_positives


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--queries", type=int, default=16)
    ap.add_argument("--samples", type=int, default=4, help="samples per query")
    ap.add_argument("--new-tokens", type=int, default=48)
    ap.add_argument("--queries-per-batch", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--scoring-batch", type=int, default=4, help="sequences per VAS batch")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="vistakit-sharding-"))
    files = write_dataset(tmp / "data", 0, n_train=args.queries, n_seed=2, n_test=2)
    queries = load_split(files["train"])
    by_id = {q.id: q for q in queries}
    texts = [q.question + " " + q.answer for q in queries] * 5
    model = build_tiny_model(tmp / "model", texts, TinySpec(hidden_size=args.hidden, num_layers=args.layers,
                                                            num_heads=max(1, args.hidden // 64), num_kv_heads=2))
    settings = dict(samples_per_query=args.samples, temperature=1.0, max_new_tokens=args.new_tokens,
                    queries_per_batch=args.queries_per_batch, seed=0)
    wall, vas_wall, scores = {}, {}, {}
    for n in (1, 2):
        shards = Shards(load_config(None, [f"workers.shards={n}"]), str(model))
        start = time.perf_counter()
        records = sample.sample_queries(shards, None, queries, tmp / f"shards_{n}", **settings)
        wall[n] = time.perf_counter() - start
        start = time.perf_counter()
        scores[n] = score_positives(shards, None, by_id, records, tmp / f"vas_{n}", layers=None,
                                    batch_size=args.scoring_batch, system=None)
        vas_wall[n] = time.perf_counter() - start
    start = time.perf_counter()  # the merge again, alone: the same reads and the same write as in the step
    sample.merge_batches(tmp / "shards_2", sample.n_batches(len(queries), args.queries_per_batch))
    merge_s = time.perf_counter() - start
    start = time.perf_counter()
    merge_pass(tmp / "vas_2", length_batches(records, args.scoring_batch), len(records))
    vas_merge_s = time.perf_counter() - start
    same = (tmp / "shards_1" / "samples.jsonl").read_bytes() == (tmp / "shards_2" / "samples.jsonl").read_bytes()
    tokens = sum(r["n_tokens"] for r in records)
    print(f"{len(queries)} queries x {args.samples} samples, {args.new_tokens} new tokens, "
          f"{sample.n_batches(len(queries), args.queries_per_batch)} batches; VAS over the {len(records)} samples "
          f"({tokens} response tokens), {len(length_batches(records, args.scoring_batch))} batches")
    print(f"{'':<10} {'1 shard':>9} {'2 shards':>9} {'speedup':>8} {'merge':>14}")
    for name, w, m in (("sampling", wall, merge_s), ("VAS pass", vas_wall, vas_merge_s)):
        print(f"{name:<10} {w[1]:>8.1f}s {w[2]:>8.1f}s {w[1] / w[2]:>7.2f}x {m * 1000:>6.1f} ms {100 * m / w[2]:.2f}%")
    print(f"sampling: merged files byte-identical: {same}; VAS: scores identical: {scores[1] == scores[2]}")

if __name__ == "__main__":
    main()
