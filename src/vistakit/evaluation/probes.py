"""Probes of one model, run for M_0 and every round's model: does it use the image, and does it know the
swapped query VISTA's critical-token pass uses? Written to `round_t/probes/` (`probes.json` + the samples).

- image reliance: greedy accuracy on the first `n` held-out queries with the true image, with another
  query's image (the query half-way round the list) and with a blank (black) image. A model that looks
  loses accuracy without its image; one that answers from the question alone does not.
- swapped query: greedy accuracy with the instruction before the image, and the mean probability of the
  model's own first response token under the original and under the swapped query. A swap that is out of
  distribution makes the first response token "critical" in most negatives.
- made without looking: the share of greedy answers the task labels so (the synthetic task's guess mode).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import torch
from PIL import Image

from vistakit.tasks.data import Query, instruction_for
from vistakit.models.inputs import encode, render_query
from vistakit.runfolder import write_json
from vistakit.sampling.sample import sample_queries
from vistakit.vista.scoring import scoring_model

CONDITIONS = ("true", "shuffled", "blank", "swapped")


def _blank_image(like: Path, out: Path) -> Path:
    if not out.exists():
        with Image.open(like) as im:
            size = im.size
        out.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", size).save(out)
    return out


def probe_queries(queries: list[Query], condition: str, blank: Path) -> list[Query]:
    n = len(queries)
    if condition == "shuffled":
        return [replace(q, images=queries[(i + max(1, n // 2)) % n].images) for i, q in enumerate(queries)]
    if condition == "blank":
        return [replace(q, images=[blank] * len(q.images)) for q in queries]
    return queries


@torch.no_grad()
def first_token_probs(model, processor, queries: list[Query], first_ids: list[int], *, image_first: bool,
                      system: str | None, batch_size: int) -> list[float]:
    """p(first_ids[i] | query i), the response's first token, under either prompt order."""
    out = []
    for b in range(0, len(queries), batch_size):
        qs, ids = queries[b : b + batch_size], first_ids[b : b + batch_size]
        prompts = [render_query(processor, instruction_for(q), len(q.images), system, image_first=image_first)
                   for q in qs]
        images = [[Image.open(p).convert("RGB") for p in q.images] for q in qs]
        batch = encode(processor, prompts, images, padding_side="left")
        inputs = {k: v.to(model.device) if torch.is_tensor(v) else v for k, v in batch.inputs.items()}
        probs = model(**inputs, use_cache=False, logits_to_keep=1).logits[:, -1].float().softmax(-1)
        out += probs[torch.arange(len(qs)), torch.tensor(ids, device=probs.device)].tolist()
    return out


def _rate(records: list[dict], key: str) -> float | None:
    known = [r[key] for r in records if r.get(key) is not None]
    return sum(known) / len(known) if known else None


def probe_model(backend, processor, queries: list[Query], out_dir: Path, *, max_new_tokens: int,
                queries_per_batch: int, system: str | None = None, scorer=None, verify_mode: str = "official") -> dict:
    """Every probe of one model on `queries`; resumes per condition (each is a sampling step). `verify_mode`:
    the verdict the accuracies count (config verify.eval_mode)."""
    done = out_dir / "probes.json"
    if done.exists():
        return json.loads(done.read_text())
    blank = _blank_image(queries[0].images[0], out_dir / "blank.png")
    records = {}
    for condition in CONDITIONS:
        records[condition] = sample_queries(
            backend, processor, probe_queries(queries, condition, blank), out_dir / condition, samples_per_query=1,
            temperature=0.0, max_new_tokens=max_new_tokens, queries_per_batch=queries_per_batch, seed=0,
            system=system, source="probe", desc=f"probe: {condition}", image_first=condition != "swapped",
            verify_mode=verify_mode)
    acc = {c: sum(r["correct"] for r in rs) / len(rs) for c, rs in records.items()}
    eos = processor.tokenizer.eos_token_id
    first = [r["token_ids"][0] if r["token_ids"] else eos for r in records["true"]]
    with scoring_model(scorer if scorer is not None else backend.model) as model:
        p = {order: first_token_probs(model, processor, queries, first, image_first=order == "original",
                                      system=system, batch_size=queries_per_batch)
             for order in ("original", "swapped")}
    result = {
        "queries": len(queries),
        "accuracy": acc,
        "image_reliance": acc["true"] - acc["shuffled"],
        "swap_gap": acc["true"] - acc["swapped"],
        "first_token_prob": {k: sum(v) / len(v) for k, v in p.items()},
        "no_look_rate": {c: _rate(rs, "no_look") for c, rs in records.items()},
        # of the queries whose question suggests a wrong answer (rows with a prior_answer), the share answered so
        "prior_rate": {c: _rate(rs, "prior") for c, rs in records.items()},
        "grounded_rate_of_correct": _rate([r for r in records["true"] if r["correct"]], "grounded"),
    }
    write_json(done, result)
    return result

