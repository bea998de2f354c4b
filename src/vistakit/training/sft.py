"""SFT step: fine-tune a model on (query, response) examples with the length-normalised NLL of docs/methods.md.

Built on `transformers.Trainer` (so accelerate, DeepSpeed/FSDP, bf16, gradient checkpointing and
checkpoint resume come for free) with two small overrides: our collator, which renders queries with
the model's own processor and masks everything but the response, and `compute_loss`, which is the
per-sequence normalised NLL (docs/methods.md). TRL's SFTTrainer was not used: its loss averages over all
tokens of the batch, and its VLM collator would re-render our prompts.
"""

from __future__ import annotations

import json
import logging
import shutil
import os
from pathlib import Path

import torch
from PIL import Image
from transformers import PreTrainedModel, PrinterCallback, ProgressCallback, Trainer, TrainerCallback, TrainingArguments

from vistakit.config import TrainConfig
from vistakit.evaluation.tracking import trainer_arguments, tracking_env
from vistakit.training.lora import apply_lora, merge_adapter
from vistakit.training.losses import sft_loss
from vistakit.models.inputs import encode, render_query, response_ids
from vistakit.models.load import load, save_processor
from vistakit.models.parts import freeze
from vistakit.progress import Ticker, on_terminal
from vistakit.runfolder import write_json

log = logging.getLogger(__name__)


class ExampleCollator:
    """Examples are dicts: {"instruction", "images" (paths), "response"} and, for sampled responses,
    "response_ids": the generated token ids, trained as generated (re-tokenising the text could differ);
    "image_first": False renders the instruction before the image (seed SFT in both orders)."""

    def __init__(self, processor, system: str | None = None):
        self.processor, self.system = processor, system

    def __call__(self, examples: list[dict]) -> dict:
        prompts = [render_query(self.processor, e["instruction"], len(e["images"]), self.system,
                                image_first=e.get("image_first", True)) for e in examples]
        images = [[Image.open(p).convert("RGB") for p in e["images"]] for e in examples]
        tok = self.processor.tokenizer
        responses = [list(e["response_ids"]) + [tok.eos_token_id] if e.get("response_ids") is not None
                     else response_ids(tok, e["response"]) for e in examples]
        batch = encode(self.processor, prompts, images, responses)
        return {**batch.inputs, "labels": batch.labels}


class TrainProgress(TrainerCallback):
    """A training step's progress as vistakit's other steps show theirs (`vistakit.progress.Ticker`): optimizer
    steps done and the last logged loss, as a bar on a terminal, else a plain line now and then. It replaces
    the Trainer's own console output, a dict per logging step; those dicts are in train_log.json and go to
    the tracker of `tracking.report_to`."""

    ticker, loss = None, None

    def on_train_begin(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            self.ticker = Ticker("training", state.max_steps, "step")
            self.ticker.update(state.global_step)  # a resumed step starts where its checkpoint ended

    def on_log(self, args, state, control, logs=None, **kwargs):
        self.loss = (logs or {}).get("loss", self.loss)

    def on_step_end(self, args, state, control, **kwargs):
        if self.ticker is not None:
            self.ticker.update(state.global_step, "" if self.loss is None else f"loss {self.loss:.4g}")

    def on_train_end(self, args, state, control, **kwargs):
        if self.ticker is not None:
            self.ticker.close()
            self.ticker = None


class ResumableTrainer(Trainer):
    """Trainer whose resume really restores the checkpoint's weights.

    transformers 5.23's `Trainer._load_from_checkpoint` reads model.safetensors with a plain
    `load_state_dict(strict=False)`, but `save_pretrained` writes Qwen-VL weights under the checkpoint key
    names (`visual.*`, not `model.visual.*`): no key matched, every weight stayed M_0's, and a resumed
    step went on from M_0 with epoch 2's optimizer state and schedule (a warning was the only sign).
    Loading through `from_pretrained` applies the key mapping. FSDP, DeepSpeed and PEFT adapters keep
    the Trainer's own paths."""

    LOSS_FILE = "vistakit_loss.json"
    loss_before = 0.0  # summed per-step loss of the steps before the checkpoint this call resumed from

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for printer in (PrinterCallback, ProgressCallback):  # a dict on the console per logging step
            self.remove_callback(printer)
        self.add_callback(TrainProgress)

    def _save_checkpoint(self, model, trial) -> None:
        """Also the summed loss of every step so far: the Trainer's own train_loss of a resumed call covers the
        resumed steps only, and the step's logged figure must be the whole step's. Written before the
        Trainer's files, so a checkpoint whose trainer_state.json exists (complete) always has it: written
        after, a kill between the two resumed with the earlier steps' loss lost."""
        folder = Path(self._get_output_dir(trial=trial)) / f"checkpoint-{self.state.global_step}"
        if self.is_world_process_zero():
            total = self.loss_before + self._total_loss_scalar + self._tr_loss.item()
            folder.mkdir(parents=True, exist_ok=True)
            write_json(folder / self.LOSS_FILE, {"global_step": self.state.global_step, "loss_sum": total})
        super()._save_checkpoint(model, trial)
        if self.args.should_save:
            # only the newest checkpoint is kept, the older ones found by step number: the Trainer's own
            # rotation (save_total_limit) orders them by file time and, where a tiny model's epochs end
            # within a second, warns that "mtime may not be reliable on this filesystem"
            for old in folder.parent.glob("checkpoint-*"):
                if old != folder:
                    shutil.rmtree(old, ignore_errors=True)

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model=None) -> None:
        model = self.model if model is None else model
        if not isinstance(model, PreTrainedModel) or self.is_fsdp_enabled or self.is_deepspeed_enabled:
            return super()._load_from_checkpoint(resume_from_checkpoint, model)
        saved = type(model).from_pretrained(resume_from_checkpoint, dtype=model.dtype)
        model.load_state_dict(saved.state_dict())  # strict: every weight comes from the checkpoint
        log.info("resumed the weights of %s", resume_from_checkpoint)


class SFTLossTrainer(ResumableTrainer):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # our loss is a per-sequence mean, not a token sum: let the Trainer divide it by the accumulation steps
        self.model_accepts_loss_kwargs = False

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        labels = inputs.pop("labels")
        outputs = model(**inputs)
        loss = sft_loss(outputs.logits, labels)
        return (loss, outputs) if return_outputs else loss


def _readable_json(path: Path) -> bool:
    """The Trainer writes trainer_state.json last but not atomically: a kill can leave it torn."""
    try:
        json.loads(path.read_text())
        return True
    except (OSError, ValueError):
        return False


def last_complete_checkpoint(ckpt_dir: Path, clean: bool = True) -> str | None:
    """The newest checkpoint that finished saving (a kill mid-save leaves one without a readable
    trainer_state.json, which the Trainer writes last);
    `clean`: delete the incomplete ones (the main process only, when several train)."""
    done = [p for p in ckpt_dir.glob("checkpoint-*") if _readable_json(p / "trainer_state.json")]
    for p in ckpt_dir.glob("checkpoint-*"):
        if clean and p not in done:
            shutil.rmtree(p)
    return str(max(done, key=lambda p: int(p.name.split("-")[1]))) if done else None


def is_main_process() -> bool:
    """Rank 0 of a launcher's processes (or the only process), before a Trainer exists."""
    return int(os.environ.get("RANK", "0")) == 0


def training_arguments(cfg: TrainConfig, ckpt_dir: Path, seed: int, device: str,
                       tracking: dict | None = None) -> TrainingArguments:
    """`tracking`: the step's tracking settings (evaluation.tracking.step_tracking); None: report to none."""
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
        save_total_limit=None,  # ResumableTrainer keeps the newest only
        **trainer_arguments(tracking),
        remove_unused_columns=False,
        dataloader_num_workers=0,
        use_cpu=device == "cpu",
        disable_tqdm=not on_terminal(),  # no bar in a log (TrainProgress replaces both on the console)
    )


def fit(trainer: Trainer, processor, out_dir: Path, base_model: str | Path, n_examples: int,
        cfg: TrainConfig | None = None, **load_kwargs) -> Path:
    """Train (resuming from the last complete checkpoint), save the model, drop the checkpoints.

    `Trainer.save_model` writes on the main process only and gathers FSDP / ZeRO-3 shards, so the same code
    serves one process and `accelerate launch`. With LoRA, the adapter is saved, then merged into M_0."""
    ckpt_dir, main = Path(trainer.args.output_dir), trainer.is_world_process_zero()
    lora = cfg is not None and cfg.lora is not None
    resume = last_complete_checkpoint(ckpt_dir, clean=main)
    before = json.loads((Path(resume) / ResumableTrainer.LOSS_FILE).read_text()) if resume and (
        Path(resume) / ResumableTrainer.LOSS_FILE).exists() else {"global_step": 0, "loss_sum": 0.0}
    if isinstance(trainer, ResumableTrainer):
        trainer.loss_before = before["loss_sum"]
    result = trainer.train(resume_from_checkpoint=resume)
    steps = trainer.state.global_step
    # the whole step's mean loss per optimizer step, as an uninterrupted run logs it (result's covers this call)
    train_loss = (before["loss_sum"] + result.training_loss * (steps - before["global_step"])) / max(steps, 1)
    model_dir = out_dir / "model"
    trainer.save_model(str(out_dir / "adapter" if lora else model_dir))
    if main:
        if lora:
            merge_adapter(base_model, out_dir / "adapter", model_dir, processor, cfg.dtype, **load_kwargs)
        else:
            save_processor(processor, model_dir, base_model)
        if not any(model_dir.glob("*.safetensors")):
            raise RuntimeError(f"no weights were written to {model_dir}: with FSDP, set fsdp_state_dict_type: "
                               "FULL_STATE_DICT (recipes/accelerate/fsdp.yaml does)")
        shutil.rmtree(ckpt_dir, ignore_errors=True)
        history = [h for h in trainer.state.log_history if "loss" in h]
        # written last: its presence says the step finished (a re-launched step skips)
        write_json(out_dir / "train_log.json", {"train_loss": train_loss, "history": history})  # atomic
        log.info("trained %d examples, mean loss %.4f -> %s", n_examples, train_loss, model_dir)
    trainer.accelerator.wait_for_everyone()
    return model_dir


def prepare(model, cfg: TrainConfig, seed: int):
    """The model as it is trained: M_0 itself, or M_0 with fresh LoRA adapters, initialised from `seed` (so
    a step run in another process, or resumed, starts from the same adapters). `cfg.frozen` parts get no
    gradient."""
    freeze(model, cfg.frozen)
    if cfg.lora is None:
        return model
    torch.manual_seed(seed)
    return apply_lora(model, cfg.lora)


def train_sft(base_model: str | Path, examples: list[dict], out_dir: str | Path, cfg: TrainConfig,
              system: str | None = None, device: str = "cpu", seed: int = 0, tracking: dict | None = None,
              **load_kwargs) -> Path:
    """Train a fresh copy of `base_model` on `examples`; save it to `out_dir/model`. Resumes from the last
    complete epoch checkpoint in `out_dir/checkpoints` if a previous attempt was killed, and deletes the
    checkpoints once the model is saved (on a 3B model they are tens of GB). `tracking`: where the Trainer
    reports (evaluation.tracking.step_tracking), None: nowhere."""
    out_dir = Path(out_dir)
    if not examples:
        raise ValueError(f"no training examples for {out_dir}: every sample was filtered out")
    model, processor = load(base_model, dtype=cfg.dtype, device=device, **load_kwargs)
    seed = cfg.seed if cfg.seed is not None else seed
    args = training_arguments(cfg, out_dir / "checkpoints", seed, device, tracking)
    with tracking_env(tracking):  # the report_to callbacks read it when the Trainer is made and starts
        trainer = SFTLossTrainer(model=prepare(model, cfg, seed), args=args, train_dataset=examples,
                                 data_collator=ExampleCollator(processor, system))
        return fit(trainer, processor, out_dir, base_model, len(examples), cfg, **load_kwargs)
