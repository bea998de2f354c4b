"""Evaluation step: greedy decoding on the held-out split; accuracy per difficulty level and the grounded
rate of correct answers (the share of correct answers whose scene claims are all true, where known)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from vistakit.data import Query
from vistakit.runfolder import write_json
from vistakit.sample import sample_queries


def summarize(records: list[dict]) -> dict:
    by_level: dict = defaultdict(list)
    for r in records:
        by_level[r.get("level")].append(r)

    def stats(rs: list[dict]) -> dict:
        correct = [r for r in rs if r["correct"]]
        known = [r for r in correct if r.get("grounded") is not None]
        return {
            "n": len(rs),
            "accuracy": len(correct) / len(rs) if rs else 0.0,
            "grounded_rate_of_correct": sum(r["grounded"] for r in known) / len(known) if known else None,
            "answered": sum(r["pred"] is not None for r in rs) / len(rs) if rs else 0.0,
        }

    out = stats(records)
    out["by_level"] = {str(k): stats(v) for k, v in sorted(by_level.items(), key=lambda kv: str(kv[0]))}
    return out


def evaluate(backend, processor, queries: list[Query], out_dir: Path, *, max_new_tokens: int,
             queries_per_batch: int, system: str | None = None) -> dict:
    records = sample_queries(
        backend, processor, queries, out_dir, samples_per_query=1, temperature=0.0,
        max_new_tokens=max_new_tokens, queries_per_batch=queries_per_batch, seed=0,
        system=system, source="eval", desc="evaluating",
    )
    metrics = summarize(records)
    write_json(out_dir / "metrics.json", metrics)
    return metrics
