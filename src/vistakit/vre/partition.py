"""Difficulty-aware partitioning (docs/methods.md, "VRE", step 4): sample each query n times with the cold-start / SFT
model and label it by its success rate. Queries answered sometimes right and sometimes wrong are
"unstable": GRPO learns only there, since a query whose n answers all agree in correctness gives every
completion of its group the same accuracy reward (no group-relative signal from it).

    round_t/partition/sample/           the n samples of every partitioned query (sampling step format)
    round_t/partition/partition.jsonl   query_id, level, correct, n, rate, label
    round_t/partition/summary.json      queries per label, overall and per level
"""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

from vistakit.tasks.data import Query
from vistakit.runfolder import is_done, mark_done, read_jsonl, write_json, write_jsonl
from vistakit.sampling.sample import sample_queries

LABELS = ("easy", "unstable", "hard")


def difficulty(correct: int, n: int, easy_at: float = 1.0, hard_at: float = 0.0) -> str:
    """easy: success rate >= easy_at; hard: rate <= hard_at; unstable: in between."""
    if n <= 0:
        raise ValueError("a query needs at least one sample to be partitioned")
    rate = correct / n
    if rate >= easy_at:
        return "easy"
    if rate <= hard_at:
        return "hard"
    return "unstable"


def partition(records: list[dict], easy_at: float = 1.0, hard_at: float = 0.0) -> list[dict]:
    """One row per query of `records` (in first-seen order): successes among its samples and the label.
    A sample counts as a success when it is correct and finished."""
    counts: dict[str, list[int]] = {}
    levels = {}
    for r in records:
        c = counts.setdefault(r["query_id"], [0, 0])
        c[0] += bool(r["correct"] and r.get("finished", True))
        c[1] += 1
        levels[r["query_id"]] = r.get("level")
    return [{"query_id": q, "level": levels[q], "correct": k, "n": n, "rate": k / n,
             "label": difficulty(k, n, easy_at, hard_at)} for q, (k, n) in counts.items()]


def summarize(rows: list[dict]) -> dict:
    by_level: dict = defaultdict(Counter)
    for r in rows:
        by_level[str(r["level"])][r["label"]] += 1
    total = Counter(r["label"] for r in rows)
    return {"queries": len(rows), **{l: total[l] for l in LABELS},
            "by_level": {lvl: {l: c[l] for l in LABELS} for lvl, c in sorted(by_level.items())}}


def partition_step(backend, queries: list[Query], out_dir: Path, *, samples_per_query: int, temperature: float,
                   max_new_tokens: int, queries_per_batch: int, seed: int, easy_at: float = 1.0,
                   hard_at: float = 0.0, system: str | None = None, verify_mode: str = "official") -> list[dict]:
    """Sample, label, write; resumes (sampling batch by batch, then the labels once). `verify_mode`: the
    verdict a success is counted by (config verify.mode)."""
    out = out_dir / "partition.jsonl"
    if is_done(out_dir):
        return read_jsonl(out)
    records = sample_queries(backend, backend.processor, queries, out_dir / "sample",
                             samples_per_query=samples_per_query, temperature=temperature,
                             max_new_tokens=max_new_tokens, queries_per_batch=queries_per_batch, seed=seed,
                             system=system, source="partition", desc="partition sampling", verify_mode=verify_mode)
    rows = partition(records, easy_at, hard_at)
    write_jsonl(out, rows)
    write_json(out_dir / "summary.json", summarize(rows))
    mark_done(out_dir)
    return rows
