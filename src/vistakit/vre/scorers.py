"""Reflection scorers: does a reflection add visual evidence that the reasoning does not already state?

One shape for all (a batch in, scores in [0, 1] out), so the reflection reward, the reconstruction step and
any later filter take whichever is configured (`vre.scorer`):

- `SceneScorer` (offline default, the synthetic task): the scene's ground truth, judged by the task's own
  hook (tasks/shapes_reexamine.py: a reflection gains information when it states a new claim with a positive
  count and no false one). Score 1 or 0.
- `LocalModelScorer`: a local Hugging Face VLM (the policy itself, or another checkpoint) shown the image,
  the question, the reasoning and the reflection, asked a yes/no question; the score is
  P(yes) / (P(yes) + P(no)) of its next token.
- `OpenAIScorer`: the same judgement from an OpenAI-compatible `/chat/completions` endpoint through the
  official `openai` SDK (optional extra: `pip install 'vistakit[openai]'`; its retries with exponential backoff
  on connection errors, 429 and 5xx, honouring Retry-After), the image sent as a data URL; the score is 1 if
  the reply starts with "yes", else 0. Never called in tests except against a local fake server.
"""

from __future__ import annotations

import base64
import io
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import torch
from PIL import Image

from vistakit.config import ConfigError
from vistakit.models.inputs import encode, render_query
from vistakit.models.load import load
from vistakit.vista.scoring import scoring_model
from vistakit.tasks import get_task

JUDGE_QUESTION = ("Does the reflection add visual evidence about the image that the reasoning does not already "
                  "state? Answer yes or no.")


@dataclass
class ReflectionItem:
    question: str
    reasoning: str
    reflection: str
    image: str | Path | Image.Image | None = None  # the query's (first) image
    scene: dict | None = None  # synthetic task: ground truth
    task: str | None = None  # the query's task (whose hook judges the scene)


class Scorer(Protocol):
    def __call__(self, items: list[ReflectionItem]) -> list[float]: ...


def judge_prompt(item: ReflectionItem) -> str:
    return (f"Question: {item.question}\nReasoning:\n{item.reasoning}\nReflection:\n{item.reflection}\n"
            f"{JUDGE_QUESTION}")


def _image(img) -> Image.Image:
    return img if isinstance(img, Image.Image) else Image.open(img).convert("RGB")


class SceneScorer:
    """Ground truth: the scene's judgement of the item's task (its `reexamine.gain` hook; on the synthetic
    task, new, positive and all true: tasks/shapes_reexamine.py)."""

    def __call__(self, items: list[ReflectionItem]) -> list[float]:
        scores = []
        for item in items:
            hook = get_task(item.task).reexamine if item.task is not None else None
            if item.scene is None or hook is None or hook.gain is None:
                raise ValueError("SceneScorer needs the scene ground truth of a task that judges reflections "
                                 "(the synthetic task); set vre.scorer to policy, local or openai for other tasks")
            scores.append(hook.gain(item.scene, item.reasoning, item.reflection))
        return scores


class LocalModelScorer:
    """A local VLM as the judge: P(yes) against P(no) for its first answer token. Pass the policy's own
    model object to score with the policy itself (it is used in eval mode, without gradients), or the engine's
    `vista.scoring.ScoringModel` (loaded, and a vLLM sampler put to sleep, only while a batch is judged)."""

    YES, NO = ("yes", "Yes", " yes", " Yes"), ("no", "No", " no", " No")

    def __init__(self, model, processor, system: str | None = None, batch_size: int = 16):
        self.model, self.processor, self.system, self.batch_size = model, processor, system, batch_size
        tok = processor.tokenizer
        first = lambda words: {tok(w, add_special_tokens=False)["input_ids"][0] for w in words}
        yes, no = first(self.YES), first(self.NO)
        # a first token both words share (a bare space, a byte) says nothing: only the others are read
        self.yes, self.no = sorted(yes - no), sorted(no - yes)
        if not self.yes or not self.no:
            raise ValueError("the judge's tokenizer starts 'yes' and 'no' with the same tokens")

    @torch.no_grad()
    def __call__(self, items: list[ReflectionItem]) -> list[float]:
        with scoring_model(self.model) as model:
            return self._score(model, items)

    def _score(self, model, items: list[ReflectionItem]) -> list[float]:
        was_training = model.training
        model.eval()
        scores = []
        try:
            for b in range(0, len(items), self.batch_size):
                chunk = items[b : b + self.batch_size]
                images = [[] if it.image is None else [_image(it.image)] for it in chunk]
                prompts = [render_query(self.processor, judge_prompt(it), len(ims), self.system)
                           for it, ims in zip(chunk, images)]
                batch = encode(self.processor, prompts, images)
                inputs = {k: v.to(model.device) if torch.is_tensor(v) else v for k, v in batch.inputs.items()}
                probs = model(**inputs, use_cache=False, logits_to_keep=1).logits[:, -1].float().softmax(-1)
                yes, no = probs[:, self.yes].sum(-1), probs[:, self.no].sum(-1)
                scores += (yes / (yes + no).clamp(min=1e-12)).tolist()
        finally:
            model.train(was_training)
        return scores


class OpenAIScorer:
    """An OpenAI-compatible chat endpoint as the judge, through the `openai` SDK (`base_url`: the API's root,
    …/v1). The API key is read from the environment variable named by `api_key_env` (never from the config
    file); without one (a local server) a placeholder is sent. The SDK retries a failed request `max_retries`
    times, backing off (0.5 s doubling, at most 8 s, or the server's Retry-After) on connection errors,
    timeouts, 408, 409, 429 and 5xx; other errors (401, 400, ...) raise at once."""

    def __init__(self, base_url: str, model: str, api_key_env: str | None = "OPENAI_API_KEY",
                 timeout: float = 60.0, concurrency: int = 4, max_retries: int = 5):
        try:
            import openai  # the optional extra: imported only when this scorer is chosen
        except ImportError:
            raise ConfigError("vre.scorer openai needs the openai SDK: pip install 'vistakit[openai]'") from None
        api_key = os.environ.get(api_key_env) if api_key_env else None
        # api_key given explicitly: the SDK would otherwise read OPENAI_API_KEY whatever api_key_env says
        self.client = openai.OpenAI(base_url=base_url, api_key=api_key or "no-key", timeout=timeout,
                                    max_retries=max_retries)
        self.model, self.concurrency = model, concurrency

    def _request(self, item: ReflectionItem) -> float:
        content = [{"type": "text", "text": judge_prompt(item)}]
        if item.image is not None:
            buf = io.BytesIO()
            _image(item.image).save(buf, format="PNG")
            url = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
            content.insert(0, {"type": "image_url", "image_url": {"url": url}})
        resp = self.client.chat.completions.create(model=self.model, messages=[{"role": "user", "content": content}],
                                                   max_tokens=4, temperature=0)
        reply = resp.choices[0].message.content or ""
        return float(reply.strip().lower().startswith("yes"))

    def __call__(self, items: list[ReflectionItem]) -> list[float]:
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            return list(pool.map(self._request, items))


def make_scorer(kind: str, *, policy=None, processor=None, model_path: str | None = None,
                url: str | None = None, api_key_env: str | None = None, system: str | None = None,
                device: str = "cpu") -> Scorer:
    """`kind`: scene | policy (`policy`: the policy model object or a `vista.scoring.ScoringModel`) | local
    (`model_path`) | openai (`url`, `model_path` as the endpoint's model name)."""
    if kind == "scene":
        return SceneScorer()
    if kind == "policy":
        if policy is None:
            raise ValueError("scorer 'policy' needs the policy model")
        return LocalModelScorer(policy, processor, system)
    if kind == "local":
        if not model_path:
            raise ValueError("scorer 'local' needs vre.scorer_model (a local path or hub id)")
        model, proc = load(model_path, device=device)
        return LocalModelScorer(model.eval(), proc, system)
    if kind == "openai":
        if not url or not model_path:
            raise ValueError("scorer 'openai' needs vre.scorer_url and vre.scorer_model")
        return OpenAIScorer(url, model_path, api_key_env)
    raise ValueError(f"unknown scorer {kind!r}; known: scene, policy, local, openai")
