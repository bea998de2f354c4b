"""The two-pass image-dependence label (He et al. 2025's signal, which VAS claims to replace with one pass).

For a response r of query x: delta = log p(r | x with its own image) - log p(r | x with another query's image),
summed over r's tokens (end-of-turn included, as trained). A chain read off the image is much likelier under
its own image (delta >> 0); a chain written without looking is about as likely under any image (delta ~ 0).
It needs no task labels, so it labels positives on any dataset: the run reports VAS against it and
`vas_layers: auto` calibrates on it.

Choices made here: the counterfactual image of a query is that of the query half-way round the sorted list of
the queries being labelled (deterministic, never the query itself when there are two or more); the output head
runs over `LOGIT_CHUNK` positions at a time, so no (batch x response x vocabulary) logits exist at once.
"""

from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image

from vistakit.tasks.data import Query
from vistakit.models.inputs import encode
from vistakit.runfolder import read_jsonl, write_jsonl
from vistakit.vista.scoring import pass_dir, record_key, run_pass

LOGIT_CHUNK = 512


@torch.no_grad()
def response_logprobs(model, processor, prompts: list[str], images: list[list[Image.Image]],
                      responses: list[list[int]]) -> list[float]:
    """Sum of log p(token) over each response's tokens, teacher-forced, from one batched pass."""
    batch = encode(processor, prompts, images, responses, padding_side="left")
    inputs = {k: v.to(model.device) if torch.is_tensor(v) else v for k, v in batch.inputs.items()}
    hidden = getattr(model, model.base_model_prefix)(**inputs, use_cache=False).last_hidden_state
    head, ids, width = model.get_output_embeddings(), inputs["input_ids"], inputs["input_ids"].shape[1]
    out = []
    for row, start in enumerate(batch.response_start):
        total = 0.0
        for c0 in range(start, width, LOGIT_CHUNK):
            c1 = min(width, c0 + LOGIT_CHUNK)
            logp = head(hidden[row, c0 - 1 : c1 - 1]).float().log_softmax(-1)  # predicts positions c0 .. c1-1
            total += float(logp.gather(-1, ids[row, c0:c1, None]).sum())
        out.append(total)
    return out


def counterfactual_ids(query_ids: list[str]) -> dict[str, str]:
    """Each query's counterfactual: the query half-way round the sorted distinct ids."""
    ids = sorted(set(query_ids))
    return {q: ids[(i + max(1, len(ids) // 2)) % len(ids)] for i, q in enumerate(ids)}


def two_pass_batch(model, processor, queries: dict[str, Query], qs: list[Query], prompts: list[str],
                   responses: list[list[int]], *, other: dict[str, str]) -> list[dict]:
    """One batch of the two-pass label (scoring.run_pass): both passes, `other[q]` the counterfactual of q."""
    passes = []
    for image_of in (lambda q: q, lambda q: queries[other[q.id]]):
        images = [[Image.open(p).convert("RGB") for p in image_of(q).images] for q in qs]
        passes.append(response_logprobs(model, processor, prompts, images, responses))
    return [{"counterfactual": other[q.id], "logp_own": own, "logp_other": cf, "two_pass_delta": own - cf}
            for q, own, cf in zip(qs, *passes)]


def two_pass_scores(scorer, processor, queries: dict[str, Query], responses: list[dict], out_dir: Path, *,
                    batch_size: int, system: str | None) -> list[dict]:
    """Per response record: logp_own, logp_other, two_pass_delta (and the counterfactual's query id), batch
    by batch in `out_dir` (scoring.run_pass: resumable, and sharded when `scorer` is a vistakit.shards.Shards)."""
    return run_pass(two_pass_batch, scorer, processor, queries, responses, out_dir, batch_size=batch_size,
                    system=system, desc="two-pass label", other=counterfactual_ids([r["query_id"] for r in responses]))


def label_positives(scorer, processor, queries: dict[str, Query], decisions: list[dict], out_file: Path, *,
                    batch_size: int, system: str | None, margin: float) -> list[dict]:
    """Decisions with `two_pass_delta` and `two_pass_looked` (delta > margin) on every positive (kept
    before the VAS filter); cached in `out_file`, one line per positive."""
    positives = [i for i, d in enumerate(decisions) if d["kept"]]
    if out_file.exists():
        scores = read_jsonl(out_file)
        if [record_key(s) for s in scores] != [record_key(decisions[i]) for i in positives]:
            raise RuntimeError(f"{out_file} holds labels of other positives ({len(scores)} for {len(positives)}): "
                               "delete it to relabel")
    else:
        scores = two_pass_scores(scorer, processor, queries, [decisions[i] for i in positives],
                                 pass_dir(out_file), batch_size=batch_size, system=system)
        write_jsonl(out_file, [{"query_id": decisions[i]["query_id"], "source": decisions[i]["source"],
                                "sample": decisions[i]["sample"], **s} for i, s in zip(positives, scores)])
    out = [dict(d) for d in decisions]
    for i, s in zip(positives, scores):
        out[i].update(two_pass_delta=s["two_pass_delta"], two_pass_looked=s["two_pass_delta"] > margin)
    return out
