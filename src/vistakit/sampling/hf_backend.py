"""Sampling K responses per query behind a backend interface (HF `generate` here; vLLM can plug in).

Seeds: every call to `generate` is seeded by the caller (the loop derives one seed per round and batch),
so a run resumed after a kill draws exactly the samples the uninterrupted run would have drawn.

K samples of a query share one forward pass of its prompt: `generate` with `num_return_sequences` copies
the inputs K times before its first step, so the vision tower and the prompt ran K times, most of a short
sample's cost (benchmarks/shared_prefill.py). Here the prompt minus its last token runs once per query, its
cache is copied K times, and `generate` continues from it. The samples are those of the copying path with
the same seed, up to the last bits of the logits (the last prompt token is read from the cache).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Protocol

import torch
from PIL import Image
from transformers import GenerationConfig

from vistakit.models.inputs import encode
from vistakit.models.segments import vision_token_ids


@dataclass
class Generation:
    text: str  # the full response (prefix included), special tokens removed
    token_ids: list[int]  # the full response's token ids, end-of-turn excluded
    finished: bool  # ended with an end-of-turn token (False: hit max_new_tokens)


class SamplingBackend(Protocol):
    def generate(
        self,
        prompts: list[str],
        images: list[list[Image.Image]],
        samples_per_query: int,
        temperature: float,
        max_new_tokens: int,
        seed: int,
        prefixes: list[list[int]] | None = None,
    ) -> list[list[Generation]]:
        """For each prompt, `samples_per_query` responses (each continuing `prefixes[i]` when given)."""
        ...


class HFBackend:
    """Batched `model.generate`, K samples per query from one pass over its prompt; greedy when temperature is 0."""

    def __init__(self, model, processor):
        self.model, self.processor = model, processor
        gc = model.generation_config
        eos = gc.eos_token_id if isinstance(gc.eos_token_id, list) else [gc.eos_token_id]
        self.stop_ids = {i for i in eos + [processor.tokenizer.eos_token_id] if i is not None}
        # An image placeholder inside a response would break every later pass over it ("image features
        # and image tokens do not match"): a response may never contain one.
        self.suppressed = sorted(vision_token_ids(model.config, processor.tokenizer))

    @torch.no_grad()
    def generate(self, prompts, images, samples_per_query, temperature, max_new_tokens, seed, prefixes=None):
        tok = self.processor.tokenizer
        batch = encode(self.processor, prompts, images, responses=prefixes)
        inputs = {k: v.to(self.model.device) if torch.is_tensor(v) else v for k, v in batch.inputs.items()}
        torch.manual_seed(seed)
        greedy = temperature <= 0
        # A fresh config: plain temperature sampling (or greedy), whatever the checkpoint's
        # generation_config.json says (Qwen ships top_k/top_p and a repetition penalty). Greedy sets no
        # sampling flag: transformers warns of a top_k that greedy decoding ignores.
        config = GenerationConfig(
            do_sample=not greedy,
            temperature=1.0 if greedy else temperature,
            top_k=None if greedy else 0,
            top_p=1.0,
            repetition_penalty=1.0,
            suppress_tokens=self.suppressed,
            num_return_sequences=samples_per_query,
            max_new_tokens=max_new_tokens,
            eos_token_id=sorted(self.stop_ids),
            pad_token_id=tok.pad_token_id,
        )
        if samples_per_query > 1 and self.shares_prefill(inputs["input_ids"]):
            out = self._generate_from_shared_prefill(inputs, samples_per_query, config)
        else:
            out = self.model.generate(**inputs, generation_config=config)
        width = inputs["input_ids"].shape[1]
        results: list[list[Generation]] = []
        for q in range(len(prompts)):
            prefix = list(prefixes[q]) if prefixes else []
            gens = []
            for s in range(samples_per_query):
                new = out[q * samples_per_query + s, width:].tolist()
                cut = next((i for i, t in enumerate(new) if t in self.stop_ids), None)
                ids = prefix + (new if cut is None else new[:cut])
                gens.append(Generation(tok.decode(ids, skip_special_tokens=True), ids, cut is not None))
            results.append(gens)
        return results

    def shares_prefill(self, input_ids: torch.Tensor) -> bool:
        """Whether the prompt can be cached up to its last token: that token must be text, since the
        continuation passes no image, and the positions must come from `generate`'s own rule (transformers 5)."""
        return (not set(input_ids[:, -1].tolist()) & set(self.suppressed)
                and hasattr(self.model, "_prepare_position_ids_for_generation"))

    def _generate_from_shared_prefill(self, inputs: dict, k: int, config: GenerationConfig) -> torch.Tensor:
        ids, mask = inputs["input_ids"], inputs["attention_mask"]
        # every input laid out per token (ids, mask, Qwen's mm_token_type_ids) stops before the last token
        head = {key: v[:, :-1] if torch.is_tensor(v) and v.shape[:2] == ids.shape else v for key, v in inputs.items()}
        # the positions `generate` gives the prompt: padding-aware, Qwen's 3-D rope (which also stores its offsets)
        positions = self.model._prepare_position_ids_for_generation(
            head["input_ids"], {key: v for key, v in head.items() if key != "input_ids"})
        cache = self.model(**head, position_ids=positions, use_cache=True, logits_to_keep=1).past_key_values
        cache.batch_repeat_interleave(k)
        # Qwen-VL models keep each row's 3-D rope offset from the prompt pass for the steps after it: copy it too
        for module in self.model.modules():
            if torch.is_tensor(deltas := getattr(module, "rope_deltas", None)) and len(deltas) == len(ids):
                module.rope_deltas = deltas.repeat_interleave(k, 0)
        config = copy.deepcopy(config)
        config.num_return_sequences = 1
        return self.model.generate(input_ids=ids.repeat_interleave(k, 0), attention_mask=mask.repeat_interleave(k, 0),
                                   past_key_values=cache, generation_config=config)
