"""Filter step of VISTA: score every positive with VAS under M_{t-1} and drop those below tau.

Scores are cached in `vas.jsonl` (one line per scored positive), so a resumed round does not rescore.
A dropped positive keeps its record in decisions.jsonl with reason "low_vas" and its score. A query whose
attention ratios include a NaN or an infinity (a row with no prompt mass) cannot be z-scored: its positives
are dropped with reason "vas_invalid" and a warning, never kept silently.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from pathlib import Path

from PIL import Image

from vistakit.tasks.data import Query
from vistakit.runfolder import read_jsonl, write_jsonl
from vistakit.vista.scoring import pass_dir, record_key, run_pass
from vistakit.vista.vas import segment_masses, vision_ratio, z_scores

SCORE_KEYS = ("lambda_sys", "lambda_vis", "lambda_ins", "vas_ratio")
log = logging.getLogger(__name__)


def vas_batch(model, processor, queries: dict[str, Query], qs: list[Query], prompts: list[str],
              responses: list[list[int]], *, layers: list[int] | None) -> list[dict]:
    """One batch of the VAS pass (scoring.run_pass): lambda_sys/vis/ins and S per response."""
    images = [[Image.open(p).convert("RGB") for p in q.images] for q in qs]
    masses = segment_masses(model, processor, prompts, images, responses, layers=layers)
    return [{"lambda_sys": m[0], "lambda_vis": m[1], "lambda_ins": m[2], "vas_ratio": s}
            for m, s in zip(masses.tolist(), vision_ratio(masses).tolist())]


def score_positives(scorer, processor, queries: dict[str, Query], positives: list[dict], out_dir: Path, *,
                    layers: list[int] | None, batch_size: int, system: str | None) -> list[dict]:
    """Per positive: lambda_sys/vis/ins and S, one forward pass per batch, batch by batch in `out_dir`
    (scoring.run_pass: resumable, and sharded when `scorer` is a vistakit.shards.Shards)."""
    return run_pass(vas_batch, scorer, processor, queries, positives, out_dir, batch_size=batch_size, system=system,
                    desc="VAS", layers=layers)


def apply_vas(decisions: list[dict], scores: list[dict], tau: float) -> list[dict]:
    """`scores[i]` belongs to the i-th kept decision; z-score per query, then drop VAS < tau."""
    kept = [i for i, d in enumerate(decisions) if d["kept"]]
    by_query = defaultdict(list)
    for i, s in zip(kept, scores):
        by_query[decisions[i]["query_id"]].append((i, s))
    out = [dict(d) for d in decisions]
    invalid = 0
    for items in by_query.values():
        ratios = [s["vas_ratio"] for _, s in items]
        if not all(math.isfinite(r) for r in ratios):
            # one NaN makes every z-score of the query NaN, and NaN < tau is False: it would keep them all
            for i, s in items:
                out[i].update({k: s[k] for k in SCORE_KEYS}, vas=None, kept=False, reason="vas_invalid")
            invalid += len(items)
            continue
        for (i, s), z in zip(items, z_scores(ratios)):
            out[i].update({k: s[k] for k in SCORE_KEYS}, vas=z)
            if z < tau:
                out[i].update(kept=False, reason="low_vas")
    if invalid:
        log.warning("VAS: %d positives of queries with a NaN or infinite attention ratio dropped (reason "
                    "vas_invalid)", invalid)
    return out


def vas_filter(model, processor, queries: dict[str, Query], decisions: list[dict], out_dir: Path, *,
               layers: list[int] | None, tau: float, batch_size: int, system: str | None) -> list[dict]:
    """`model`: the HF model, a `scoring.ScoringModel` (loaded only when the scores are not cached), or a
    vistakit.shards.Shards (the pass over its shards)."""
    cache = out_dir / "vas.jsonl"
    positives = [d for d in decisions if d["kept"]]
    if cache.exists():
        scores = read_jsonl(cache)
    else:
        scores = score_positives(model, processor, queries, positives, pass_dir(cache), layers=layers,
                                 batch_size=batch_size, system=system)
        scores = [{"query_id": p["query_id"], "source": p["source"], "sample": p["sample"], **s}
                  for p, s in zip(positives, scores)]
        write_jsonl(cache, scores)
    if [record_key(s) for s in scores] != [record_key(p) for p in positives]:
        raise RuntimeError(f"{cache} holds scores of other positives ({len(scores)} for {len(positives)}): "
                           "delete it to rescore")
    return apply_vas(decisions, scores, tau)

