"""Evaluation step: greedy decoding on held-out queries; accuracy overall and per group of a row field (the
task's `group_by`: the difficulty `level` of the synthetic task, closed/open for medical VQA, human/augmented
for ChartQA, ...), the grounded rate of correct answers (where known), and the task's extra scores.

Several evaluation sets (the papers' setting: the in-domain test sets and the out-of-domain ones) are each
evaluated into their own folder, and reported together: each set's metrics, the mean of their headline
scores over the in-domain sets (the paper's "overall") and over the out-of-domain ones.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from vistakit.tasks.data import Query
from vistakit.runfolder import read_jsonl, write_json
from vistakit.sampling.sample import sample_queries
from vistakit.tasks import get_task


def _stats(rs: list[dict]) -> dict:
    correct = [r for r in rs if r["correct"]]
    known = [r for r in correct if r.get("grounded") is not None]
    out = {
        "n": len(rs),
        "accuracy": len(correct) / len(rs) if rs else 0.0,
        "grounded_rate_of_correct": sum(r["grounded"] for r in known) / len(known) if known else None,
        "answered": sum(r["pred"] is not None for r in rs) / len(rs) if rs else 0.0,
    }
    for name in sorted({k for r in rs for k in r.get("scores", {})}):  # e.g. token_recall of open answers
        values = [r["scores"][name] for r in rs if name in r.get("scores", {})]
        out[name] = sum(values) / len(values)
    return out


def summarize(records: list[dict], by: str = "level", headline: str = "accuracy") -> dict:
    """Metrics of all records and of each group of `record[by]` (under `by_<by>`). `score` is the headline:
    the accuracy, or with headline="mean_of_groups" the unweighted mean of the groups' accuracies."""
    groups: dict = defaultdict(list)
    for r in records:
        groups[r.get(by)].append(r)
    out = _stats(records)
    out[f"by_{by}"] = {str(k): _stats(v) for k, v in sorted(groups.items(), key=lambda kv: str(kv[0]))}
    per_group = [g["accuracy"] for g in out[f"by_{by}"].values()]
    out["score"] = sum(per_group) / len(per_group) if headline == "mean_of_groups" and per_group else out["accuracy"]
    return out


def _grouping(queries: list[Query]) -> tuple[str, str]:
    """The tasks' group field and headline; a set mixing tasks that disagree falls back to the level."""
    kinds = {(get_task(t).group_by, get_task(t).headline) for t in {q.task for q in queries}}
    return kinds.pop() if len(kinds) == 1 else ("level", "accuracy")


def _field(query: Query, name: str):
    return getattr(query, name) if name in Query.__dataclass_fields__ else query.extra.get(name)


def evaluate(backend, processor, queries: list[Query], out_dir: Path, *, max_new_tokens: int,
             queries_per_batch: int, system: str | None = None, verify_mode: str = "official") -> dict:
    """Greedy answers to `queries` into `out_dir` and their metrics; `verify_mode` picks the verdict counted
    (config verify.eval_mode: the benchmark's official scorer by default, the number papers report)."""
    by, headline = _grouping(queries)
    extra = None if by == "level" else [{by: _field(q, by)} for q in queries]  # the group value beside each record
    records = sample_queries(
        backend, processor, queries, out_dir, samples_per_query=1, temperature=0.0,
        max_new_tokens=max_new_tokens, queries_per_batch=queries_per_batch, seed=0,
        system=system, source="eval", desc="evaluating", extra=extra, verify_mode=verify_mode,
    )
    metrics = summarize(records, by, headline)
    write_json(out_dir / "metrics.json", metrics)
    return metrics


def combine(per_set: dict[str, dict], in_domain: set[str]) -> dict:
    """One round's metrics over several evaluation sets. `accuracy` is the mean of the sets' headline scores
    over the in-domain sets (those trained on; all sets when none is), as the papers' "overall"."""
    def mean(names):
        return sum(per_set[n]["score"] for n in names) / len(names) if names else None

    inside = [n for n in per_set if n in in_domain]
    outside = [n for n in per_set if n not in in_domain]
    return {"accuracy": mean(inside or list(per_set)), "in_domain": mean(inside), "out_of_domain": mean(outside),
            "n": sum(m["n"] for m in per_set.values()), "grounded_rate_of_correct": None, "by_level": {},
            "eval_sets": per_set}


def evaluate_sets(backend, processor, sets: dict[str, list[Query]], out_dir: Path, *, in_domain: set[str],
                  **kwargs) -> dict:
    """Each set into `out_dir/<set>/` (samples.jsonl, metrics.json); their combination into out_dir/metrics.json."""
    per_set = {name: evaluate(backend, processor, queries, set_dir(out_dir, name), **kwargs)
               for name, queries in sets.items()}
    metrics = combine(per_set, in_domain)
    write_json(out_dir / "metrics.json", metrics)
    return metrics


def set_dir(out_dir: Path, name: str) -> Path:
    """The folder of evaluation set `name` ('slake', 'slake:validation') inside an evaluation folder."""
    return out_dir / name.replace(":", "-")


def eval_queries(test: list[Query] | dict[str, list[Query]]) -> list[Query]:
    """The queries of one evaluation set, or of every named set (benchmark ids name their set and split)."""
    return [q for qs in test.values() for q in qs] if isinstance(test, dict) else list(test)


def eval_samples(out_dir: Path, test: list[Query] | dict[str, list[Query]]) -> list[dict]:
    """The greedy samples an evaluation wrote into `out_dir` (one set, or every named set's folder)."""
    if isinstance(test, dict):
        return [r for name in test for r in read_jsonl(set_dir(out_dir, name) / "samples.jsonl")]
    return read_jsonl(out_dir / "samples.jsonl")
