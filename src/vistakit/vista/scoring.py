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
from contextlib import contextmanager
from typing import Callable, Iterator

import torch
from vistakit.progress import progress

from vistakit.tasks.data import Query, instruction_for
from vistakit.models.inputs import render_query


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


def scoring_batches(processor, queries: dict[str, Query], records: list[dict], *, batch_size: int,
                    system: str | None, desc: str) -> Iterator[tuple[list[int], list[Query], list[str], list[list[int]]]]:
    """Batches for a teacher-forced pass over sampled responses, sorted by length (less padding): the
    records' indices, their queries, the rendered prompts, and each response's ids with the end-of-turn
    token (scored as it is trained)."""
    eos = processor.tokenizer.eos_token_id
    order = sorted(range(len(records)), key=lambda i: len(records[i]["token_ids"]))
    for b in progress(range(0, len(order), batch_size), desc=desc, unit="batch"):
        idx = order[b : b + batch_size]
        qs = [queries[records[i]["query_id"]] for i in idx]
        prompts = [render_query(processor, instruction_for(q), len(q.images), system) for q in qs]
        yield idx, qs, prompts, [list(records[i]["token_ids"]) + [eos] for i in idx]
