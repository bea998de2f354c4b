"""Sampling K responses per query behind a backend interface (HF `generate` here; vLLM can plug in).

Seeds: every call to `generate` is seeded by the caller (the loop derives one seed per round and batch),
so a run resumed after a kill draws exactly the samples the uninterrupted run would have drawn.
"""

from __future__ import annotations

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
    """Batched `model.generate` with `num_return_sequences`; greedy when temperature is 0."""

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
