"""SFT step: fine-tune a model on (query, response) examples with the length-normalised NLL of SPEC.md.

Built on `transformers.Trainer` (so accelerate, DeepSpeed/FSDP, bf16, gradient checkpointing and
checkpoint resume come for free) with two small overrides: our collator, which renders queries with
the model's own processor and masks everything but the response, and `compute_loss`, which is SPEC.md's
per-sequence normalised NLL. TRL's SFTTrainer was not used: its loss averages over all tokens of the
batch, and its VLM collator would re-render our prompts.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image
from transformers import Trainer, TrainingArguments

from vistakit.losses import sft_loss
from vistakit.models.inputs import encode, render_query, response_ids
from vistakit.models.load import load, save

log = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    epochs: float = 3.0  # SPEC.md: 3 epochs a round
    learning_rate: float = 1e-5
    examples_per_device_batch: int = 8
    grad_accum_steps: int = 1
    warmup_ratio: float = 0.03
    weight_decay: float = 0.0
    lr_scheduler: str = "cosine"
    max_grad_norm: float = 1.0
    bf16: bool = False
    gradient_checkpointing: bool = False
    dtype: str = "float32"
    seed: int | None = None  # None: the run's seed
    logging_steps: int = 20
    save_each_epoch: bool = True  # checkpoints to resume a killed training step
    dpo_beta: float = 0.1  # DPO+NLL (SPEC.md, "Training")
    nll_alpha: float = 0.5  # weight of the positive's NLL in DPO+NLL


class ExampleCollator:
    """Examples are dicts: {"instruction", "images" (paths), "response"} and, for sampled responses,
    "response_ids": the generated token ids, trained as generated (re-tokenising the text could differ)."""

    def __init__(self, processor, system: str | None = None):
        self.processor, self.system = processor, system

    def __call__(self, examples: list[dict]) -> dict:
        prompts = [render_query(self.processor, e["instruction"], len(e["images"]), self.system) for e in examples]
        images = [[Image.open(p).convert("RGB") for p in e["images"]] for e in examples]
        tok = self.processor.tokenizer
        responses = [list(e["response_ids"]) + [tok.eos_token_id] if e.get("response_ids") is not None
                     else response_ids(tok, e["response"]) for e in examples]
        batch = encode(self.processor, prompts, images, responses)
        return {**batch.inputs, "labels": batch.labels}


class SFTLossTrainer(Trainer):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # our loss is a per-sequence mean, not a token sum: let the Trainer divide it by the accumulation steps
        self.model_accepts_loss_kwargs = False

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        labels = inputs.pop("labels")
        outputs = model(**inputs)
        loss = sft_loss(outputs.logits, labels)
        return (loss, outputs) if return_outputs else loss


def _last_complete_checkpoint(ckpt_dir: Path) -> str | None:
    """The newest checkpoint that finished saving (a kill mid-save leaves one without trainer_state.json)."""
    done = [p for p in ckpt_dir.glob("checkpoint-*") if (p / "trainer_state.json").exists()]
    for p in ckpt_dir.glob("checkpoint-*"):
        if p not in done:
            shutil.rmtree(p)
    return str(max(done, key=lambda p: int(p.name.split("-")[1]))) if done else None


def training_arguments(cfg: TrainConfig, ckpt_dir: Path, seed: int, device: str) -> TrainingArguments:
    return TrainingArguments(
        output_dir=str(ckpt_dir),
        num_train_epochs=cfg.epochs,
        learning_rate=cfg.learning_rate,
        per_device_train_batch_size=cfg.examples_per_device_batch,
        gradient_accumulation_steps=cfg.grad_accum_steps,
        warmup_steps=cfg.warmup_ratio,  # a float in [0, 1) is a ratio of total steps
        weight_decay=cfg.weight_decay,
        lr_scheduler_type=cfg.lr_scheduler,
        max_grad_norm=cfg.max_grad_norm,
        bf16=cfg.bf16,
        activation_checkpointing=cfg.gradient_checkpointing,
        seed=seed,
        data_seed=seed,
        logging_steps=cfg.logging_steps,
        save_strategy="epoch" if cfg.save_each_epoch else "no",
        save_total_limit=1,
        report_to="none",
        remove_unused_columns=False,
        dataloader_num_workers=0,
        use_cpu=device == "cpu",
        disable_tqdm=False,
    )


def fit(trainer: Trainer, processor, out_dir: Path, base_model: str | Path, n_examples: int) -> Path:
    """Train (resuming from the last complete checkpoint), save the model, drop the checkpoints."""
    ckpt_dir = Path(trainer.args.output_dir)
    result = trainer.train(resume_from_checkpoint=_last_complete_checkpoint(ckpt_dir))
    save(trainer.model, processor, out_dir / "model", base_model)
    shutil.rmtree(ckpt_dir, ignore_errors=True)
    history = [h for h in trainer.state.log_history if "loss" in h]
    (out_dir / "train_log.json").write_text(json.dumps({"train_loss": result.training_loss, "history": history}, indent=1))
    log.info("trained %d examples, final loss %.4f -> %s", n_examples, result.training_loss, out_dir / "model")
    return out_dir / "model"


def train_sft(base_model: str | Path, examples: list[dict], out_dir: str | Path, cfg: TrainConfig,
              system: str | None = None, device: str = "cpu", seed: int = 0, **load_kwargs) -> Path:
    """Train a fresh copy of `base_model` on `examples`; save it to `out_dir/model`. Resumes from the last
    complete epoch checkpoint in `out_dir/checkpoints` if a previous attempt was killed, and deletes the
    checkpoints once the model is saved (on a 3B model they are tens of GB)."""
    out_dir = Path(out_dir)
    if not examples:
        raise ValueError(f"no training examples for {out_dir}: every sample was filtered out")
    model, processor = load(base_model, dtype=cfg.dtype, device=device, **load_kwargs)
    args = training_arguments(cfg, out_dir / "checkpoints", cfg.seed if cfg.seed is not None else seed, device)
    trainer = SFTLossTrainer(model=model, args=args, train_dataset=examples,
                             data_collator=ExampleCollator(processor, system))
    return fit(trainer, processor, out_dir, base_model, len(examples))
