"""The HF model for VISTA's teacher-forced passes (critical tokens, VAS), kept apart from the sampler.

Sampling may run on vLLM, but the scoring passes need the transformers model (logits of a given response,
attention at one layer). `ScoringModel` gives it only when a step asks, so methods without such passes
(ReST-EM, STaR, RFT) never load it:
- with the HF backend in the sampling dtype, it is the sampler's own model (no second copy);
- otherwise it is loaded on first use (in `model.scoring_dtype`) and kept for the round. While it runs, a
  vLLM sampler sleeps (`VLLMBackend.sleep`: weights to CPU RAM, KV cache freed) and, after each use, the
  scoring model moves to the CPU so the sampler gets its memory back when it wakes for the next generate.
"""

from __future__ import annotations

import gc
import logging
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import torch
from vistakit.progress import progress

from vistakit.tasks.data import Query, instruction_for
from vistakit.models.inputs import render_query
from vistakit.runfolder import read_jsonl, write_jsonl
from vistakit.sampling.sample import batch_file

log = logging.getLogger(__name__)


class ScoringModel:
    def __init__(self, backend, load: Callable[[], torch.nn.Module] | None = None, device: str = "cpu"):
        """`load=None`: reuse `backend.model`; else `load()` builds the scoring model on `device`."""
        self.backend, self._load, self.device = backend, load, device
        self._model = None

    @property
    def loaded(self) -> bool:
        return self._model is not None

    @contextmanager
    def use(self):
        if self._load is None:
            yield self.backend.model
            return
        sleep = getattr(self.backend, "sleep", None)
        offload = bool(sleep()) if sleep is not None else False  # True: the sampler gave its memory back
        if self._model is None:
            self._model = self._load().eval()
        else:
            self._model.to(self.device)
        try:
            yield self._model
        finally:
            if offload and self.device != "cpu":
                self._model.to("cpu")
                _empty_cache()

    def close(self) -> None:
        self._model = None
        gc.collect()
        _empty_cache()


@contextmanager
def scoring_model(model_or_scorer):
    """A plain model, or a `ScoringModel`'s model for the duration of the block."""
    if isinstance(model_or_scorer, ScoringModel):
        with model_or_scorer.use() as model:
            yield model
    else:
        yield model_or_scorer


def _empty_cache() -> None:
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def record_key(record: dict) -> tuple:
    """Which sample a cached score belongs to: a cache of scores is used only for the records it was made for."""
    return record["query_id"], record["source"], record["sample"]


def length_batches(records: list[dict], batch_size: int) -> list[list[int]]:
    """The records' indices in batches sorted by response length (less padding). Every pass batches this
    way, sharded or not, so a record is scored in the same batch (same padding, same numbers) whatever the
    number of shards."""
    order = sorted(range(len(records)), key=lambda i: len(records[i]["token_ids"]))
    return [order[b : b + batch_size] for b in range(0, len(order), batch_size)]


def batch_inputs(processor, queries: dict[str, Query], records: list[dict], idx: list[int], *, system: str | None,
                 image_first: bool = True, with_eos: bool = True) -> tuple[list[Query], list[str], list[list[int]]]:
    """A batch's queries, rendered prompts and response ids (with the end-of-turn token, scored as it is
    trained, unless `with_eos=False`)."""
    eos = [processor.tokenizer.eos_token_id] if with_eos else []
    qs = [queries[records[i]["query_id"]] for i in idx]
    prompts = [render_query(processor, instruction_for(q), len(q.images), system, image_first=image_first) for q in qs]
    return qs, prompts, [list(records[i]["token_ids"]) + eos for i in idx]


def scoring_batches(processor, queries: dict[str, Query], records: list[dict], *, batch_size: int,
                    system: str | None, desc: str) -> Iterator[tuple[list[int], list[Query], list[str], list[list[int]]]]:
    """Batches for a teacher-forced pass over sampled responses (`length_batches`): the records' indices,
    their queries, the rendered prompts, and each response's ids with the end-of-turn token."""
    for idx in progress(length_batches(records, batch_size), desc=desc, unit="batch"):
        yield idx, *batch_inputs(processor, queries, records, idx, system=system)


def pass_dir(cache: Path) -> Path:
    """A pass's folder (batch files, shard inputs and logs): its cache file without `.jsonl`, e.g.
    filter/vas/ beside filter/vas.jsonl; runfolder.drop_batch_files finds finished passes by that pair."""
    return Path(cache).with_suffix("")


def run_pass(batch_fn: Callable, scorer, processor, queries: dict[str, Query], records: list[dict], out_dir: Path, *,
             batch_size: int, system: str | None, image_first: bool = True, with_eos: bool = True, desc: str,
             shard: tuple[int, int] | None = None, **params) -> list[dict]:
    """`batch_fn(model, processor, queries, qs, prompts, responses, **params) -> [result per response]` over
    `records` in `length_batches`, each batch's results written (atomically) to `out_dir/batches/`, so a
    killed pass resumes at its unfinished batches; returns one result per record, in record order. A record
    that repeats another's query and response is scored once (`distinct_responses`). The model is loaded from
    `scorer` (scoring.scoring_model) only when a batch is left to score.

    Shards (vistakit.shards): shard (rank, world) scores the batches b with b % world == rank and returns
    []; a `scorer` with `run_pass` (vistakit.shards.Shards) runs the call over its shards. The results are
    read back from the batch files in every case, so they are identical whatever the number of shards."""
    out_dir = Path(out_dir)
    if shard is None:  # shards get the distinct records (shard_inputs.json) and score them as they are
        unique, where = scored_records(out_dir, records, batch_size)
        if len(unique) < len(records):
            log.info("%s: %d distinct responses of %d scored (the rest repeat one word for word)",
                     desc, len(unique), len(records))
            results = run_pass(batch_fn, scorer, processor, queries, unique, out_dir, batch_size=batch_size,
                               system=system, image_first=image_first, with_eos=with_eos, desc=desc, **params)
            return [dict(results[j]) for j in where]
    batches = length_batches(records, batch_size)
    if shard is None and hasattr(scorer, "run_pass"):
        scorer.run_pass(batch_fn.__name__, queries, records, out_dir, batch_size=batch_size, system=system,
                        image_first=image_first, with_eos=with_eos, **params)
        return merge_pass(out_dir, batches, len(records))
    rank, world = shard or (0, 1)
    todo = [(b, idx) for b, idx in enumerate(batches) if b % world == rank and not batch_file(out_dir, b).exists()]
    if todo:
        with scoring_model(scorer) as model:
            for b, idx in progress(todo, desc=desc if world == 1 else f"{desc} (shard {rank}/{world})", unit="batch"):
                qs, prompts, responses = batch_inputs(processor, queries, records, idx, system=system,
                                                      image_first=image_first, with_eos=with_eos)
                results = batch_fn(model, processor, queries, qs, prompts, responses, **params)
                write_jsonl(batch_file(out_dir, b), [{"index": i, **r} for i, r in zip(idx, results)])
    return [] if shard is not None else merge_pass(out_dir, batches, len(records))


def distinct_responses(records: list[dict]) -> tuple[list[dict], list[int]]:
    """The first record of each distinct (query, response ids), and each record's place among them. A pass's
    result for a response depends on nothing else, and a confident model's samples repeat word for word (on
    the pretrained organism about 300 of 1,000 positives a round are distinct), so each is scored once."""
    first: dict[tuple, int] = {}
    unique, where = [], []
    for r in records:
        key = (r["query_id"], tuple(r["token_ids"]))
        if key not in first:
            first[key] = len(unique)
            unique.append(r)
        where.append(first[key])
    return unique, where


def scored_records(out_dir: Path, records: list[dict], batch_size: int) -> tuple[list[dict], list[int]]:
    """`distinct_responses`, unless `out_dir` holds batches of a pass begun before passes scored distinct
    responses only (their indices count every record): that pass resumes over every record."""
    unique, where = distinct_responses(records)
    if len(unique) == len(records):
        return unique, where
    every, distinct = length_batches(records, batch_size), length_batches(unique, batch_size)
    done = {b: [r["index"] for r in read_jsonl(batch_file(out_dir, b))]
            for b in range(len(every)) if batch_file(out_dir, b).exists()}
    if done and all(idx == every[b] for b, idx in done.items()) and any(
            b >= len(distinct) or idx != distinct[b] for b, idx in done.items()):
        return records, list(range(len(records)))
    return unique, where


def merge_pass(out_dir: Path, batches: list[list[int]], n: int) -> list[dict]:
    """The results of every batch file of a pass, in record order."""
    out: list[dict | None] = [None] * n
    for b, idx in enumerate(batches):
        rows = read_jsonl(batch_file(out_dir, b)) if batch_file(out_dir, b).exists() else []
        if [r["index"] for r in rows] != idx:
            raise RuntimeError(f"{batch_file(out_dir, b)} holds other records than batch {b} of this pass "
                               f"({len(rows)} for {len(idx)}): delete {out_dir} to score again")
        for r in rows:
            out[r.pop("index")] = r
    return out
