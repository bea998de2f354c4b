"""VRE's RL step: GRPO on the unstable queries with TRL's `GRPOTrainer` (docs/methods.md, "VRE", step 5).

Why TRL's trainer and not our own step: it takes our tiny Qwen2.5-VL and its processor as they are (its
chat-template rendering of a `[image, text]` user turn gives token for token the prompt `render_query`
gives, checked in tests/test_vre.py), generates with `model.generate` on CPU or GPU (vLLM optional on GPU),
and passes the dataset's columns to reward functions as keyword arguments, which is the reward shape we
want. What we set, and why:
- `loss_type="grpo"` by default (each completion's token mean, then the group mean: GRPO's own
  normalisation, the per-sequence form vistakit's SFT loss uses); TRL's default "dapo" is one override away;
- `beta=0.0` by default (no KL term, so no reference model in memory; TRL's default too);
- sampling as everywhere else in vistakit: temperature 1, no top-k/top-p, no repetition penalty, and every
  vision placeholder token suppressed (TRL suppresses only the image pad by itself);
- one policy update per generation batch (`num_iterations=1`): the clipped ratio is 1 and the step is
  the plain group-relative policy gradient;
- the model is saved with `models.load.save` (the tiny model's processor marker kept) and the epoch/step
  checkpoints resume a killed step, as in SFT.

    round_t/grpo/rollouts.jsonl   every completion: step, query_id, completion (text and ids), its rewards
    round_t/grpo/train_log.json   TRL's per-step logs (loss, reward means, completion lengths)
    round_t/grpo/model/           the RL model M_t
"""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path
from typing import Callable

import torch
from PIL import Image

from vistakit.config import GRPOSettings
from vistakit.evaluation.tracking import trainer_arguments, tracking_env
from vistakit.tasks.data import Query, instruction_for
from vistakit.models.inputs import query_messages
from vistakit.models.load import load
from vistakit.models.parts import freeze
from vistakit.progress import on_terminal
from vistakit.models.segments import vision_token_ids
from vistakit.runfolder import read_jsonl, write_jsonl
from vistakit.training.sft import ResumableTrainer, last_complete_checkpoint, fit
from vistakit.vre.rewards import completion_text


def grpo_rows(queries: list[Query], system: str | None = None) -> list[dict]:
    """TRL's conversational prompt + image per query, and the columns the rewards read."""
    return [{"prompt": query_messages(instruction_for(q), len(q.images), system),
             "images": [Image.open(p).convert("RGB") for p in q.images], "query_id": q.id, "question": q.question,
             "answer": q.answer, "task": q.task, "answer_type": q.answer_type, "choices": json.dumps(q.choices),
             "scene": json.dumps(q.scene)}
            for q in queries]


class RolloutLog:
    """Wraps the reward functions so that each scored batch is appended to a JSONL file, one row per
    completion with all its rewards and the step it was generated at."""

    def __init__(self, path: Path, funcs: list[Callable]):
        self.path, self.names, self.pending = path, [f.__name__ for f in funcs], {}
        self.funcs = [self._wrap(f) for f in funcs]

    def _wrap(self, fn):
        def wrapped(completions, **kwargs):
            scores = fn(completions, **kwargs)
            self.pending[fn.__name__] = scores
            if len(self.pending) == len(self.names):
                self._flush(completions, kwargs)
            return scores
        wrapped.__name__ = fn.__name__
        return wrapped

    def _flush(self, completions, kwargs) -> None:
        state = kwargs.get("trainer_state")
        step = state.global_step if state is not None else None
        ids = kwargs.get("query_id") or [None] * len(completions)
        tokens = kwargs.get("completion_ids") or [None] * len(completions)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a") as f:
            for i, c in enumerate(completions):
                row = {"step": step, "query_id": ids[i], "completion": completion_text(c),
                       "completion_ids": [int(t) for t in tokens[i]] if tokens[i] is not None else None,
                       **{n: self.pending[n][i] for n in self.names}}
                f.write(json.dumps(row) + "\n")
        self.pending = {}


@functools.cache
def _resumable(grpo_trainer_class):
    """TRL's trainer with ours first in line: the checkpoint's weights really restored on resume, the whole
    step's loss logged, and each epoch's query order a function of (seed, epoch). TRL's RepeatSampler draws
    every epoch's order from one generator it advances, so a step resumed in epoch e replayed epoch 0's
    order (and trained other batches than the uninterrupted step)."""
    from trl.trainer.utils import RepeatSampler

    class EpochSampler(RepeatSampler):
        def set_epoch(self, epoch: int) -> None:  # the Trainer calls it before each epoch, resumed ones too
            if self.shuffle and self.seed is not None:
                self.generator.manual_seed(self.seed)
                for _ in range(epoch):
                    torch.randperm(self.num_samples, generator=self.generator)

    class ResumableGRPOTrainer(ResumableTrainer, grpo_trainer_class):
        def _get_train_sampler(self, dataset=None):
            sampler = super()._get_train_sampler(dataset)
            if type(sampler) is RepeatSampler:
                sampler.__class__ = EpochSampler
            return sampler

    return ResumableGRPOTrainer


def grpo_trainer(model, processor, queries: list[Query], out_dir: Path, s: GRPOSettings, funcs: list[Callable], *,
                 max_new_tokens: int, system: str | None = None, device: str = "cpu", seed: int = 0,
                 tracking: dict | None = None):
    """TRL's GRPOTrainer for `model` on `queries` with our settings (see the module docstring); `tracking`:
    where it reports (evaluation.tracking.step_tracking; the caller holds its tracking_env), None: nowhere."""
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    if len(funcs) != len(s.reward_weights):
        raise ValueError(f"{len(funcs)} reward functions but {len(s.reward_weights)} reward_weights")
    # TRL's sampler drops a last incomplete batch of prompts: a set smaller than a step is one smaller step
    per_step = min(s.queries_per_step, len(queries))
    steps = max(1, math.ceil(s.epochs * len(queries) / per_step))
    args = GRPOConfig(
        output_dir=str(out_dir / "checkpoints"), seed=seed, data_seed=seed,
        num_generations=s.num_generations, per_device_train_batch_size=per_step * s.num_generations,
        gradient_accumulation_steps=1, num_iterations=1, max_steps=steps,
        learning_rate=s.learning_rate, lr_scheduler_type=s.lr_scheduler, warmup_steps=s.warmup_ratio,
        max_grad_norm=s.max_grad_norm, beta=s.beta, loss_type=s.loss_type, scale_rewards=s.scale_rewards,
        reward_weights=list(s.reward_weights), temperature=s.temperature, top_p=1.0, top_k=0,
        repetition_penalty=1.0, max_completion_length=max_new_tokens,
        generation_kwargs={"suppress_tokens": sorted(vision_token_ids(model.config, processor.tokenizer))},
        # TRL defaults bf16 to True, which on CPU runs the policy's log-probs under bf16 autocast: say it
        bf16=s.bf16, gradient_checkpointing=s.gradient_checkpointing, logging_steps=s.logging_steps,
        save_strategy="steps", save_steps=s.save_steps, save_total_limit=None,  # ResumableTrainer keeps one
        **trainer_arguments(tracking),
        use_cpu=device == "cpu", dataloader_num_workers=0, disable_tqdm=not on_terminal(),
    )
    return _resumable(GRPOTrainer)(model=model, reward_funcs=funcs, args=args, processing_class=processor,
                                   train_dataset=Dataset.from_list(grpo_rows(queries, system)))


def train_grpo(base_model: str | Path, queries: list[Query], out_dir: str | Path, s: GRPOSettings, *,
               make_rewards: Callable, max_new_tokens: int, system: str | None = None, device: str = "cpu",
               seed: int = 0, tracking: dict | None = None, **load_kwargs) -> Path:
    """GRPO from `base_model` on `queries`; `make_rewards(model, processor)` returns the reward functions
    (in the order of `s.reward_weights`). Saves to `out_dir/model`. `tracking`: where TRL's logs go (loss,
    learning rate, rewards), as for train_sft."""
    out_dir = Path(out_dir)
    if not queries:
        raise ValueError(f"no RL queries for {out_dir}")
    model, processor = load(base_model, device=device, **load_kwargs)
    freeze(model, s.frozen)
    log = RolloutLog(out_dir / "rollouts.jsonl", make_rewards(model, processor))
    # a resumed step keeps the rollouts of the steps its checkpoint holds, and logs the rest again
    ckpt = last_complete_checkpoint(out_dir / "checkpoints")
    done = int(ckpt.rsplit("-", 1)[1]) if ckpt else 0
    if log.path.exists():
        write_jsonl(log.path, [r for r in read_jsonl(log.path) if r["step"] is not None and r["step"] < done])
    with tracking_env(tracking):
        trainer = grpo_trainer(model, processor, queries, out_dir, s, log.funcs, max_new_tokens=max_new_tokens,
                               system=system, device=device, seed=seed, tracking=tracking)
        return fit(trainer, processor, out_dir, base_model, len(queries))
