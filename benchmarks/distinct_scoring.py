"""A teacher-forced pass over a round's samples scoring each distinct response once (what a pass does since
commit c660185) against scoring every sample (what it did before), in one run.

    python benchmarks/distinct_scoring.py                  # the embedded tiny model, samples drawn here
    python benchmarks/distinct_scoring.py --model runs/smol-seed0-sft4/sft-seed/round_0/train/model \\
        --data runs/smol-seed0/sft-seed/data --samples runs/smol-seed0-sft4/vista-sft/round_1/sample/samples.jsonl \\
        --queries 60

The records are the samples of the first `--queries` queries of `--samples` (all K of each, right or
wrong), scored by the model that drew them, as the round's passes score them. Prints how many of them are
distinct, each way's seconds (alternately, `--repeats` times each), the median ratio distinct / every
(below 1: the saving) and the largest difference between the two ways' numbers for the same response.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch

from vistakit.config import load_config
from vistakit.context import Engine
from vistakit.models.tiny import TinySpec, build_tiny_model
from vistakit.runfolder import read_jsonl
from vistakit.sampling.sample import sample_queries
from vistakit.tasks.data import load_split
from vistakit.tasks.shapes import corpus, write_dataset
from vistakit.vista.scoring import distinct_responses, run_pass, scoring_batches, scoring_model
from vistakit.vista.two_pass import counterfactual_ids, two_pass_batch
from vistakit.vista.vas_filter import vas_batch


def every_record(batch_fn, scorer, processor, queries, records, *, batch_size, desc, **params) -> list[dict]:
    """The pass as it ran before: every record scored, in length batches."""
    out: list[dict | None] = [None] * len(records)
    with torch.no_grad(), scoring_model(scorer) as model:
        for idx, qs, prompts, responses in scoring_batches(processor, queries, records, batch_size=batch_size,
                                                           system=None, desc=desc):
            for i, r in zip(idx, batch_fn(model, processor, queries, qs, prompts, responses, **params)):
                out[i] = r
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="the model that drew the samples; default: the embedded tiny model")
    parser.add_argument("--data", help="the data folder whose train.jsonl the samples answer")
    parser.add_argument("--samples", help="a round's sample/samples.jsonl; default: drawn here (K=4)")
    parser.add_argument("--queries", type=int, default=8, help="the samples of this many queries are scored")
    parser.add_argument("--pass", dest="which", choices=["two_pass", "vas"], default="two_pass")
    parser.add_argument("--batch", type=int, default=16, help="responses per forward pass")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="vistakit-distinct-"))
    if args.model is None:
        files = write_dataset(work / "data", 0, n_train=args.queries, n_seed=16, n_test=0, no_look_share=0.0)
        rows = [json.loads(line) for line in files["seed"].read_text().splitlines()]
        build_tiny_model(work / "tiny", corpus(rows), TinySpec())
        model_path, data = work / "tiny", work / "data"
    else:
        model_path, data = Path(args.model), Path(args.data)
    train = load_split(data / "train.jsonl")
    queries = {q.id: q for q in train}
    engine = Engine(load_config(None, []))
    backend = engine.open(str(model_path))
    if args.samples is None:
        records = sample_queries(backend, backend.processor, train[: args.queries], work / "sample",
                                 samples_per_query=4, temperature=1.0, max_new_tokens=24, queries_per_batch=8,
                                 seed=0)
    else:
        records = read_jsonl(args.samples)
        keep = set(list(dict.fromkeys(r["query_id"] for r in records))[: args.queries])
        records = [r for r in records if r["query_id"] in keep]
    distinct = len(distinct_responses(records)[0])
    batch_fn, params = ((two_pass_batch, {"other": counterfactual_ids([r["query_id"] for r in records])})
                        if args.which == "two_pass" else (vas_batch, {"layers": None}))
    print(f"{len(records)} responses of {len({r['query_id'] for r in records})} queries, {distinct} distinct",
          flush=True)

    seconds: dict[str, list[float]] = {"every": [], "distinct": []}
    results = {}
    for i in range(args.repeats):
        for way in ("every", "distinct"):
            start = time.perf_counter()
            if way == "every":
                results[way] = every_record(batch_fn, engine.scorer, backend.processor, queries, records,
                                            batch_size=args.batch, desc=args.which, **params)
            else:
                results[way] = run_pass(batch_fn, engine.scorer, backend.processor, queries, records,
                                        work / f"pass-{i}", batch_size=args.batch, system=None, desc=args.which,
                                        **params)
            seconds[way].append(time.perf_counter() - start)
            print(f"{way:>9}  attempt {i + 1}: {seconds[way][-1]:7.1f} s", flush=True)
    engine.close()
    numeric = [k for k, v in results["every"][0].items() if isinstance(v, float)]
    diff = max(abs(a[k] - b[k]) for a, b in zip(results["every"], results["distinct"]) for k in numeric)
    every_s, distinct_s = (statistics.median(seconds[w]) for w in ("every", "distinct"))
    result = {"model": str(args.model or "tiny"), "pass": args.which, "responses": len(records),
              "distinct": distinct, "every_s": every_s, "distinct_s": distinct_s,
              "ratio_distinct_over_every": distinct_s / every_s, "max_abs_diff": diff}
    print(f"distinct / every wall time: {distinct_s / every_s:.3f} (median of {args.repeats}; "
          f"{distinct} of {len(records)} responses distinct); largest difference in a score: {diff:.2e}")
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
