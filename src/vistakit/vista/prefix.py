"""VISTA step 1: prefix resampling, turning negatives into new positives (docs/methods.md, "VISTA step 1").

Each negative is teacher-forced (batched) on the swapped query, instruction before image; its critical
token is the first response token outside the top-k of the distribution that predicts it; the prefix up to
it, with the critical token replaced by that distribution's top-1, is continued J times from the ORIGINAL
query. Every negative's scoring result is in `critical.jsonl`, every resample in `samples.jsonl`.

Choices the paper leaves open, made here:
- the swapped query is rendered by the chat template with the content order [instruction, image]: the
  user turn keeps its frame and the response still follows the assistant header. (Swapping the token spans
  literally would put the assistant header before the image, and the first response token would then be
  "critical" in almost every negative.)
- a negative's response is scored without its end-of-turn token: the critical token is a token of r.
- if the top-1 replacement is end-of-turn, the truncated response r_1..r_{j-1} is complete: it is verified
  once, as it stands, instead of being continued.
- continuations get the full `max_new_tokens` (the prefix does not count against it).
- `critical_prompt="original"` scores under the sampling query instead of the swapped one (an option, for
  models that never saw the instruction first; the paper's swap stays the default).
"""

from __future__ import annotations

import random
from pathlib import Path

import torch
from PIL import Image

from vistakit.tasks.data import Query
from vistakit.tasks.labels import label_response
from vistakit.models.inputs import encode
from vistakit.models.segments import vision_token_ids
from vistakit.runfolder import is_done, mark_done, read_jsonl, write_jsonl
from vistakit.sampling.sample import sample_queries
from vistakit.vista.scoring import pass_dir, run_pass

LOGIT_CHUNK = 512  # response positions whose logits exist at once in the critical-token pass


def critical_tokens(logits: torch.Tensor, input_ids: torch.Tensor, spans: list[tuple[int, int]],
                    top_k: int = 5, offset: int = 0, banned: list[int] = ()) -> list[tuple[int, int] | None]:
    """Per row: (j, top-1 id) for the first response token r_j (j counted from the response start) that is
    not in the top-k of logits at the position before it; None when every token is. `spans[i]` is the
    response's [start, end) in `input_ids`; `logits[:, t]` belongs to position `offset + t`. `banned` ids
    (the vision placeholders, which sampling never emits) are left out of the top-k, so the replacement is
    a token the sampler could have drawn."""
    found = []
    for row, (start, end) in enumerate(spans):
        pos = torch.arange(start, end, device=input_ids.device)
        scores = logits[row, pos - 1 - offset]
        if len(banned):
            scores = scores.clone()
            scores[:, list(banned)] = float("-inf")
        top = scores.topk(top_k, dim=-1).indices  # (n, k)
        inside = (top == input_ids[row, pos].unsqueeze(-1)).any(-1)
        misses = (~inside).nonzero().flatten()
        found.append(None if len(misses) == 0 else (int(misses[0]), int(top[misses[0], 0])))
    return found


@torch.no_grad()
def response_logits(model, processor, prompts: list[str], images: list[list[Image.Image]],
                    responses: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor, list[tuple[int, int]], int]:
    """One teacher-forced, left-padded pass over a batch, logits kept from the position before the earliest
    response on: (logits, input_ids, response spans, offset), `logits[:, t]` belonging to position
    `offset + t`."""
    batch = encode(processor, prompts, images, responses, padding_side="left")
    width = batch.inputs["input_ids"].shape[1]
    keep = width - min(batch.response_start) + 1  # left padding: every response ends at `width`
    inputs = {k: v.to(model.device) if torch.is_tensor(v) else v for k, v in batch.inputs.items()}
    logits = model(**inputs, use_cache=False, logits_to_keep=keep).logits
    return logits, inputs["input_ids"], [(s, width) for s in batch.response_start], width - keep


@torch.no_grad()
def score_negatives(model, processor, prompts: list[str], images: list[list[Image.Image]],
                    responses: list[list[int]], top_k: int = 5) -> list[tuple[int, int] | None]:
    """The critical token of each (prompt, response) from one batched pass. The pass stops at the last
    hidden states; the output head runs per row on `LOGIT_CHUNK` positions at a time, and a row stops at its
    first critical token: logits of (batch x response x vocabulary), gigabytes for a 150k vocabulary at
    2048 tokens, never exist at once."""
    batch = encode(processor, prompts, images, responses, padding_side="left")
    inputs = {k: v.to(model.device) if torch.is_tensor(v) else v for k, v in batch.inputs.items()}
    hidden = getattr(model, model.base_model_prefix)(**inputs, use_cache=False).last_hidden_state
    head = model.get_output_embeddings()
    banned = sorted(vision_token_ids(model.config, processor.tokenizer))
    ids, width = inputs["input_ids"], inputs["input_ids"].shape[1]
    found = []
    for row, start in enumerate(batch.response_start):
        hit = None
        for c0 in range(start, width, LOGIT_CHUNK):
            c1 = min(width, c0 + LOGIT_CHUNK)
            logits = head(hidden[row : row + 1, c0 - 1 : c1 - 1])  # predicts positions c0 .. c1-1
            [hit] = critical_tokens(logits, ids[row : row + 1], [(c0, c1)], top_k, offset=c0 - 1, banned=banned)
            if hit is not None:
                hit = (hit[0] + c0 - start, hit[1])
                break
        found.append(hit)
    return found


def critical_batch(model, processor, queries: dict[str, Query], qs: list[Query], prompts: list[str],
                   responses: list[list[int]], *, top_k: int) -> list[dict]:
    """One batch of the critical-token pass (scoring.run_pass): {"hit": [j, top-1 id] or None} per response."""
    images = [[Image.open(p).convert("RGB") for p in q.images] for q in qs]
    return [{"hit": None if hit is None else list(hit)}
            for hit in score_negatives(model, processor, prompts, images, responses, top_k)]


def find_critical(scorer, processor, queries: dict[str, Query], negatives: list[dict], out_dir: Path, *, top_k: int,
                  batch_size: int, system: str | None, image_first: bool = False) -> list[dict]:
    """The critical token of every negative, scored under the swapped query (the paper's rule) or, with `image_first`,
    under the query it was sampled from; batch by batch in `out_dir` (scoring.run_pass: resumable, and
    sharded when `scorer` is a vistakit.shards.Shards)."""
    found = run_pass(critical_batch, scorer, processor, queries, negatives, out_dir, batch_size=batch_size,
                     system=system, image_first=image_first, with_eos=False, desc="critical tokens", top_k=top_k)
    result = []
    for r, f in zip(negatives, found):
        entry = {"query_id": r["query_id"], "parent_sample": r["sample"], "critical_index": None}
        if f["hit"] is not None and r["token_ids"]:
            j, top1 = f["hit"]
            entry.update(critical_index=j, critical_token=r["token_ids"][j], replacement_token=top1,
                         prefix_ids=r["token_ids"][:j] + [top1])
        result.append(entry)
    return result


def prefix_resample(backend, processor, queries: list[Query], records: list[dict], out_dir: Path, *,
                    resamples: int, top_k: int, score_batch_size: int, temperature: float,
                    max_new_tokens: int, queries_per_batch: int, seed: int,
                    system: str | None = None, scorer=None, critical_prompt: str = "swapped",
                    control_positives: int = 0, continuations=None, verify_mode: str = "official") -> list[dict]:
    """New samples (source="prefix") from every negative of `records`, labelled like any sample. The
    critical tokens come from `scorer` (a model or `scoring.ScoringModel`; default: `backend.model`).
    `control_positives`: that many grounded-correct samples (seeded) are scored by the same rule into
    `critical_control.jsonl`, the control that tells whether the rule finds errors or fires on anything.
    `continuations`: the backend that samples the continuations (vistakit.shards.Shards); default `backend`.
    `verify_mode`: the verdict that is a new sample's `correct` (`vistakit.tasks.labels`)."""
    out_file = out_dir / "samples.jsonl"
    if is_done(out_dir):
        return read_jsonl(out_file)
    if critical_prompt not in ("swapped", "original"):
        raise ValueError(f"vista.critical_prompt must be swapped or original, got {critical_prompt!r}")
    by_id = {q.id: q for q in queries}
    negatives = [r for r in records if not r["correct"] and r["source"] == "sample"]
    crit_file, control_file = out_dir / "critical.jsonl", out_dir / "critical_control.jsonl"
    controls = control_sample(records, control_positives, seed)
    kwargs = dict(top_k=top_k, batch_size=score_batch_size, system=system, image_first=critical_prompt == "original")
    scorer = scorer if scorer is not None else backend.model
    if not crit_file.exists():
        write_jsonl(crit_file, find_critical(scorer, processor, by_id, negatives, pass_dir(crit_file), **kwargs))
    if controls and not control_file.exists():
        write_jsonl(control_file, find_critical(scorer, processor, by_id, controls, pass_dir(control_file),
                                                **kwargs))
    critical = read_jsonl(crit_file)
    stop = backend.stop_ids
    ended, resumable = [], []
    for c in critical:
        if c["critical_index"] is None:
            continue
        if c["replacement_token"] in stop:  # the response ends right there: verify it as it stands
            q, ids = by_id[c["query_id"]], c["prefix_ids"][:-1]
            text = processor.tokenizer.decode(ids, skip_special_tokens=True)
            ended.append({"query_id": q.id, "level": q.level, "sample": 0, "source": "prefix", "response": text,
                          "token_ids": ids, "n_tokens": len(ids), "finished": True, **_lineage(c),
                          **label_response(q, text, verify_mode)})
        else:
            resumable.append(c)
    resampled = sample_queries(
        continuations or backend, processor, [by_id[c["query_id"]] for c in resumable], out_dir / "resample",
        samples_per_query=resamples, temperature=temperature, max_new_tokens=max_new_tokens,
        queries_per_batch=queries_per_batch, seed=seed, system=system, source="prefix",
        prefixes=[c["prefix_ids"] for c in resumable], extra=[_lineage(c) for c in resumable],
        desc="prefix resampling", verify_mode=verify_mode,
    ) if resumable else []
    records = ended + resampled
    write_jsonl(out_file, records)
    mark_done(out_dir)
    return records


def control_sample(records: list[dict], n: int, seed: int) -> list[dict]:
    """A seeded sample of `n` sampled responses that are correct and grounded (where the task labels it)."""
    if n <= 0:
        return []
    pool = [r for r in records if r["source"] == "sample" and r["correct"] and r.get("grounded") is not False]
    return random.Random(seed).sample(pool, min(n, len(pool)))


def _lineage(c: dict) -> dict:
    return {k: c[k] for k in ("parent_sample", "critical_index", "critical_token", "replacement_token")}
