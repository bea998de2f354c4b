"""Per-round diagnostics of VISTA's two steps, written to `round_t/select/diagnostics.json` (+ a histogram).

- prefix resampling: per difficulty level, the queries with no positive before and after it, and how many
  negatives had a critical token;
- VAS: on tasks that label groundedness (the synthetic task does), how well a low VAS finds the
  correct-but-ungrounded positives: AUROC of -VAS, and the precision / recall of the tau cut;
- detectors: AUROCs of VAS, of the raw ratio and of a text-only detector (the response's first tokens) for
  positives made without looking, by the scene-truth and the two-pass label (`two_pass.py`);
- sampling diversity: the distinct chains among a round's samples and positives, and the queries whose K
  samples are one text;
- the critical-token rule: its firing rate and position histogram on negatives and on a grounded-correct
  control, and on negatives opening with a rare first token vs the rest; shares of samples made without
  looking, and of kept positives grounded / looked.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from vistakit.runfolder import read_jsonl
from vistakit.tasks.labels import mode_counts


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


def diversity(records: list[dict]) -> dict:
    """How many different chains the K samples of a query are: a model that draws one text K times gives the
    round K copies of a chain to train on and a VAS filter nothing to rank within the query."""
    texts, positives = defaultdict(set), defaultdict(set)
    for r in records:
        if r["source"] == "sample":
            texts[r["query_id"]].add(r["response"])
            if r["correct"]:
                positives[r["query_id"]].add(r["response"])
    return {"queries": len(texts), "one_text_queries": sum(len(v) == 1 for v in texts.values()),
            "distinct_samples": sum(map(len, texts.values())),
            "distinct_positives": sum(map(len, positives.values()))}


def verdict_modes(decisions: list[dict]) -> dict:
    """Where the official and the train verdicts differ, over the decisions that carry both (tasks with a train
    verdict): `tasks.labels.mode_counts` (each mode's positives, those only one accepts, the train rules), and
    how many kept samples only the train verdict accepted; {} when no decision carries both."""
    both = [d for d in decisions if "correct_train" in d]
    if not both:
        return {}
    kept = sum(d["kept"] and d["correct_train"] and not d["correct_official"] for d in both)
    return {**mode_counts(both), "kept_train_only": kept}


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


def first_tokens_scores(records: list[dict], labels: list[bool], n_tokens: int = 3) -> list[float]:
    """A text-only detector: each record's score is the rate of `labels` among the OTHER records whose
    response starts with the same `n_tokens` tokens (leave-one-out; the overall rate where none does). It
    reads nothing but the response's opening, so attention must beat it to add anything."""
    keys = [tuple(r["token_ids"][:n_tokens]) for r in records]
    total, count = defaultdict(float), defaultdict(int)
    for k, y in zip(keys, labels):
        total[k] += y
        count[k] += 1
    n, overall = len(labels), sum(labels)
    return [(total[k] - y) / (count[k] - 1) if count[k] > 1 else (overall - y) / max(n - 1, 1)
            for k, y in zip(keys, labels)]


def detectors(decisions: list[dict]) -> dict:
    """AUROCs for finding positives made without looking, by each label (scene truth: not grounded; two-pass:
    not looked) and each detector (-VAS, the raw ratio S, the text-only first tokens; two-pass vs scene)."""
    scored = [d for d in decisions if d.get("vas") is not None]
    out = {}
    for name, key in (("scene", "grounded"), ("two_pass", "two_pass_looked")):
        rows = [d for d in scored if d.get(key) is not None]
        if not rows:
            continue
        y = [not d[key] for d in rows]
        out[name] = {"positives": len(rows), "without_looking_rate": sum(y) / len(y),
                     "vas": auroc([-d["vas"] for d in rows], y),
                     "vas_ratio": auroc([-d["vas_ratio"] for d in rows], y),
                     "first_tokens": auroc(first_tokens_scores(rows, y), y)}
        if name == "scene" and all("two_pass_delta" in d for d in rows):
            out[name]["two_pass_delta"] = auroc([-d["two_pass_delta"] for d in rows], y)
    return out


def kept_shares(decisions: list[dict]) -> dict:
    """Of the positives before and after the filter: the share grounded (scene truth), made without looking
    (the task's label), and looked (two-pass label), where known."""
    positives = [d for d in decisions if d["correct"] and d.get("finished", True) and d["reason"] != "duplicate"]
    kept = [d for d in decisions if d["kept"]]
    out = {}
    for name, rows in (("positives", positives), ("kept", kept)):
        out[name] = {"n": len(rows)}
        for key in ("grounded", "no_look", "two_pass_looked"):
            known = [d[key] for d in rows if d.get(key) is not None]
            out[name][key] = sum(known) / len(known) if known else None
    return out


def no_look_rates(records: list[dict], key: str = "no_look") -> dict:
    """Per source: the share of samples the task labels as made without looking, of all and of the correct
    (`key` "prior": the share that gave the question's prior answer where the image says otherwise)."""
    out = {}
    for source in sorted({r["source"] for r in records}):
        rows = [r for r in records if r["source"] == source and r.get(key) is not None]
        if rows:
            correct = [r for r in rows if r["correct"]]
            out[source] = {"samples": sum(r[key] for r in rows) / len(rows),
                           "correct": sum(r[key] for r in correct) / len(correct) if correct else None}
    return out


def vas_detection(decisions: list[dict]) -> dict:
    """How well VAS < tau singles out correct-but-ungrounded positives (grounded == False)."""
    scored = [d for d in decisions if d.get("vas") is not None and d.get("grounded") is not None]
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


POSITION_BINS = ((0, 0), (1, 2), (3, 5), (6, 10), (11, 20), (21, None))


def position_histogram(indices: list[int]) -> dict:
    return {f"{a}" if a == b else f"{a}-{b if b is not None else ''}":
            sum(a <= i and (b is None or i <= b) for i in indices) for a, b in POSITION_BINS}


def _critical_summary(crit: list[dict]) -> dict:
    found = [c["critical_index"] for c in crit if c["critical_index"] is not None]
    return {"scored": len(crit), "with_critical_token": len(found),
            "fire_rate": len(found) / len(crit) if crit else None,
            "at_first_token": sum(i == 0 for i in found) / len(found) if found else None,
            "mean_critical_index": sum(found) / len(found) if found else None,
            "position_histogram": position_histogram(found)}


RARE_START = 0.01  # a first token fewer than this share of the round's sampled chains open with


def rare_starts(crit: list[dict], samples: list[dict]) -> dict:
    """The rule on negatives whose first token is rare (temperature sampling's tail: a stray byte, a
    template token; an empty response counts as rare) and on the rest. A position-0 critical token on a rare
    start is a real first-token slip; on a usual start it can be an artefact of the swapped prompt, which is
    what `at_first_token` was meant to catch."""
    sampled = [r for r in samples if r["source"] == "sample" and r["token_ids"]]
    opens = defaultdict(int)
    for r in sampled:
        opens[r["token_ids"][0]] += 1
    first = {(r["query_id"], r["sample"]): r["token_ids"][0] for r in sampled}
    is_rare = [opens[first.get((c["query_id"], c["parent_sample"]))] < RARE_START * len(sampled) for c in crit]
    rare = _critical_summary([c for c, r in zip(crit, is_rare) if r])
    usual = _critical_summary([c for c, r in zip(crit, is_rare) if not r])
    return {"threshold": RARE_START, "negatives": rare["scored"], "share": rare["scored"] / len(crit) if crit else None,
            "fire_rate": rare["fire_rate"], "usual_start_fire_rate": usual["fire_rate"],
            "usual_start_at_first_token": usual["at_first_token"]}


def critical_stats(prefix_dir: Path, samples: list[dict] | None = None) -> dict:
    """The critical-token rule on the negatives, and on the grounded-correct control (`critical_control.jsonl`):
    a rule that finds errors fires on far fewer of the control. With the round's samples, also split by
    whether the negative opens with a rare first token (`rare_starts`)."""
    path = prefix_dir / "critical.jsonl"
    if not path.exists():
        return {}
    crit = read_jsonl(path)
    out = {"negatives": len(crit), **_critical_summary(crit)}
    if samples is not None:
        out["rare_start"] = rare_starts(crit, samples)
    control = prefix_dir / "critical_control.jsonl"
    if control.exists():
        out["control_grounded_correct"] = _critical_summary(read_jsonl(control))
    return out


def vas_histogram(decisions: list[dict], out: Path, tau: float) -> Path | None:
    """VAS of the scored positives, kept vs dropped and grounded vs not. A query with one positive (or equal
    scores) gets VAS 0 by rule: those are counted in the title, not drawn, or they would be a spike at 0 that
    hides the distribution the filter cuts."""
    scored = [d for d in decisions if d.get("vas") is not None]
    if not scored:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_rule = sum(d["vas"] == 0.0 for d in scored)
    drawn = [d for d in scored if d["vas"] != 0.0]
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.4))
    bins = [x / 4 for x in range(-12, 13)]
    a.hist([d["vas"] for d in drawn if d["kept"]], bins=bins, alpha=0.6, label="kept")
    a.hist([d["vas"] for d in drawn if not d["kept"]], bins=bins, alpha=0.6, label="dropped")
    a.axvline(tau, color="k", ls="--", lw=1, label=f"tau {tau:g}")
    a.set(title=f"VAS of {len(drawn)} positives", xlabel="VAS (z-score within its query)", ylabel="positives")
    labelled = [d for d in drawn if d.get("grounded") is not None]
    if labelled:
        b.hist([d["vas"] for d in labelled if d["grounded"]], bins=bins, alpha=0.6, label="grounded")
        b.hist([d["vas"] for d in labelled if not d["grounded"]], bins=bins, alpha=0.6, label="ungrounded")
        b.axvline(tau, color="k", ls="--", lw=1)
        b.set(title="by the task's grounded label", xlabel="VAS")
        b.legend(fontsize=9)
    else:
        b.set_axis_off()
    a.legend(fontsize=9)
    if by_rule:
        fig.text(0.5, 0.01, f"not drawn: {by_rule} of {len(scored)} positives with VAS 0 by rule (the only "
                 "positive of their query, or all of its positives scored alike)", ha="center", fontsize=9)
    fig.tight_layout(rect=(0, 0.06 if by_rule else 0, 1, 1))
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
