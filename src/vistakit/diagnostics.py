"""Per-round diagnostics of VISTA's two steps, written to `round_t/select/diagnostics.json` (+ a histogram).

- prefix resampling: per difficulty level, the queries with no positive before and after it, and how many
  negatives had a critical token;
- VAS: on tasks that label groundedness (the synthetic task does), how well a low VAS finds the
  correct-but-ungrounded positives: AUROC of -VAS, and the precision / recall of the tau cut.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path


def zero_positive_by_level(queries, records: list[dict]) -> dict:
    """Queries without a usable positive, per level (per task where rows have no level: per benchmark),
    counting samples only vs samples + prefix resamples."""
    def solved(sources):
        return {r["query_id"] for r in records if r["correct"] and r.get("finished", True) and r["source"] in sources}

    before, after = solved({"sample"}), solved({"sample", "prefix"})
    out = defaultdict(lambda: {"queries": 0, "zero_before": 0, "zero_after": 0})
    for q in queries:
        level = out[str(q.level if q.level is not None else q.task)]
        level["queries"] += 1
        level["zero_before"] += q.id not in before
        level["zero_after"] += q.id not in after
    return dict(sorted(out.items()))


def auroc(scores: list[float], labels: list[bool]) -> float | None:
    """P(score of a positive label > score of a negative label), ties counting half (Mann-Whitney)."""
    pos = [s for s, y in zip(scores, labels) if y]
    neg = [s for s, y in zip(scores, labels) if not y]
    if not pos or not neg:
        return None
    ranked = sorted(scores)
    rank = {}
    i = 0
    while i < len(ranked):  # average ranks of ties (1-based)
        j = i
        while j < len(ranked) and ranked[j] == ranked[i]:
            j += 1
        rank[ranked[i]] = (i + j + 1) / 2
        i = j
    u = sum(rank[s] for s in pos) - len(pos) * (len(pos) + 1) / 2
    return u / (len(pos) * len(neg))


def vas_detection(decisions: list[dict]) -> dict:
    """How well VAS < tau singles out correct-but-ungrounded positives (grounded == False)."""
    scored = [d for d in decisions if "vas" in d and d.get("grounded") is not None]
    if not scored:
        return {}
    ungrounded = [not d["grounded"] for d in scored]
    dropped = [d["reason"] == "low_vas" for d in scored]
    hits = sum(u and x for u, x in zip(ungrounded, dropped))
    # queries with one positive or equal scores get VAS 0 by rule: the AUROC is also given without them
    informative = [(d["vas"], u) for d, u in zip(scored, ungrounded) if d["vas"] != 0.0]
    return {
        "positives_scored": len(scored),
        "ungrounded_rate": sum(ungrounded) / len(scored),
        "dropped": sum(dropped),
        "precision": hits / sum(dropped) if any(dropped) else None,
        "recall": hits / sum(ungrounded) if any(ungrounded) else None,
        "auroc": auroc([-d["vas"] for d in scored], ungrounded),
        "auroc_nonzero_vas": auroc([-v for v, _ in informative], [u for _, u in informative]),
        "auroc_raw_ratio": auroc([-d["vas_ratio"] for d in scored], ungrounded),
    }


def critical_stats(prefix_dir: Path) -> dict:
    from vistakit.runfolder import read_jsonl

    path = prefix_dir / "critical.jsonl"
    if not path.exists():
        return {}
    crit = read_jsonl(path)
    found = [c["critical_index"] for c in crit if c["critical_index"] is not None]
    return {"negatives": len(crit), "with_critical_token": len(found),
            "mean_critical_index": sum(found) / len(found) if found else None}


def vas_histogram(decisions: list[dict], out: Path, tau: float) -> Path | None:
    scored = [d for d in decisions if "vas" in d]
    if not scored:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.2))
    bins = [x / 4 for x in range(-12, 13)]
    a.hist([d["vas"] for d in scored if d["kept"]], bins=bins, alpha=0.6, label="kept")
    a.hist([d["vas"] for d in scored if not d["kept"]], bins=bins, alpha=0.6, label="dropped")
    a.axvline(tau, color="k", ls="--", lw=1)
    a.set(title="VAS of positives", xlabel="VAS (z-score within query)")
    labelled = [d for d in scored if d.get("grounded") is not None]
    if labelled:
        b.hist([d["vas"] for d in labelled if d["grounded"]], bins=bins, alpha=0.6, label="grounded")
        b.hist([d["vas"] for d in labelled if not d["grounded"]], bins=bins, alpha=0.6, label="ungrounded")
        b.axvline(tau, color="k", ls="--", lw=1)
        b.set(title="by the task's grounded label", xlabel="VAS")
        b.legend(fontsize=8)
    a.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
