"""DPO+NLL step (docs/methods.md, "Training: SFT and DPO+NLL"): each positive against a random negative of
its query, reference M_0.

The model trained is a fresh copy of M_0, which is also the reference: the reference log-probs are computed
once, by that same copy before its first update, and stored in `reference.jsonl` (so no second model is
held in memory, and a resumed run reuses them). The loss is `losses.dpo_nll_loss`; TRL's DPOTrainer was
not used because its NLL term ("sft" loss type; `rpo_alpha` is gone) is averaged over the batch's tokens,
not per sequence as docs/methods.md defines it, and its collator runs the vision tower once per side of a pair.
Here a pair's two sequences are one padded batch: one call to the model per step.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from PIL import Image
from vistakit.progress import progress

from vistakit.evaluation.tracking import tracking_env
from vistakit.training.losses import dpo_nll_loss, sequence_logprobs
from vistakit.models.inputs import encode, render_query
from vistakit.models.load import load
from vistakit.runfolder import read_jsonl, write_jsonl
from vistakit.training.sft import ResumableTrainer, TrainConfig, fit, is_main_process, prepare, training_arguments

log = logging.getLogger(__name__)


class PairCollator:
    """Examples: {"instruction", "images", "chosen_ids", "rejected_ids" (None: no negative)} and, once
    computed, "ref_chosen"/"ref_rejected". Rows: every positive, then the negatives of paired ones."""

    def __init__(self, processor, system: str | None = None):
        self.processor, self.system = processor, system

    def __call__(self, examples: list[dict]) -> dict:
        eos = self.processor.tokenizer.eos_token_id
        paired = [e for e in examples if e.get("rejected_ids") is not None]
        rows = examples + paired
        prompts = [render_query(self.processor, e["instruction"], len(e["images"]), self.system) for e in rows]
        images = [[Image.open(p).convert("RGB") for p in e["images"]] for e in rows]
        responses = [list(e["chosen_ids"]) + [eos] for e in examples] + [list(e["rejected_ids"]) + [eos] for e in paired]
        batch = encode(self.processor, prompts, images, responses, padding_side="right")
        out = {**batch.inputs, "labels": batch.labels,
               "paired": torch.tensor([e.get("rejected_ids") is not None for e in examples])}
        if all("ref_chosen" in e for e in examples):
            out["ref_chosen"] = torch.tensor([e["ref_chosen"] for e in examples])
            out["ref_rejected"] = torch.tensor([e.get("ref_rejected") or 0.0 for e in examples])
        return out


def pair_logprobs(model, inputs: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Summed log-probs of the positives and their lengths, and the negatives' log-probs spread to their
    positives' rows (0 where unpaired)."""
    labels, paired = inputs.pop("labels"), inputs.pop("paired")
    logits = model(**inputs, use_cache=False).logits
    logp, count = sequence_logprobs(logits, labels)
    n = len(paired)
    rejected = logp.new_zeros(n)
    rejected[paired.to(logp.device)] = logp[n:]
    return logp[:n], count[:n], rejected


class DPONLLTrainer(ResumableTrainer):
    def __init__(self, *args, beta: float, alpha: float, **kwargs):
        super().__init__(*args, **kwargs)
        self.beta, self.alpha = beta, alpha
        self.model_accepts_loss_kwargs = False  # a per-pair mean: let the Trainer scale for accumulation

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        ref_chosen, ref_rejected = inputs.pop("ref_chosen"), inputs.pop("ref_rejected")
        paired = inputs["paired"].to(ref_chosen.device)
        chosen, length, rejected = pair_logprobs(model, inputs)
        loss, stats = dpo_nll_loss(chosen, length, rejected, ref_chosen, ref_rejected, paired, self.beta, self.alpha)
        self._stats = stats  # logged with the loss: the DPO and NLL parts, and how often the positive wins
        return (loss, None) if return_outputs else loss

    def log(self, logs: dict, *args, **kwargs) -> None:
        super().log({**logs, **{k: float(v) for k, v in getattr(self, "_stats", {}).items()}}, *args, **kwargs)


@torch.no_grad()
def reference_logprobs(model, collator: PairCollator, examples: list[dict], batch_size: int) -> list[dict]:
    model.eval()
    out = []
    for b in progress(range(0, len(examples), batch_size), desc="reference log-probs", unit="batch"):
        chunk = examples[b : b + batch_size]
        inputs = {k: v.to(model.device) for k, v in collator(chunk).items()}
        chosen, _, rejected = pair_logprobs(model, inputs)
        for e, c, r in zip(chunk, chosen.tolist(), rejected.tolist()):
            out.append({**e, "ref_chosen": c, "ref_rejected": r if e.get("rejected_ids") is not None else None})
    return out


def train_dpo(base_model: str | Path, examples: list[dict], out_dir: str | Path, cfg: TrainConfig,
              system: str | None = None, device: str = "cpu", seed: int = 0, tracking: dict | None = None,
              **load_kwargs) -> Path:
    """Train a fresh copy of `base_model` (= M_0, also the reference) on positive/negative pairs; `tracking`
    as for train_sft."""
    out_dir = Path(out_dir)
    if not examples:
        raise ValueError(f"no training pairs for {out_dir}: every sample was filtered out")
    model, processor = load(base_model, dtype=cfg.dtype, device=device, **load_kwargs)
    collator = PairCollator(processor, system)
    ref_file = out_dir / "reference.jsonl"
    if ref_file.exists():
        examples = read_jsonl(ref_file)
    else:  # under a multi-process launcher every process computes them; the main one writes them
        examples = reference_logprobs(model, collator, examples, cfg.examples_per_device_batch)
        if is_main_process():
            write_jsonl(ref_file, examples)
    model.train()
    seed = cfg.seed if cfg.seed is not None else seed
    args = training_arguments(cfg, out_dir / "checkpoints", seed, device, tracking)
    with tracking_env(tracking):
        # LoRA adapters go on after the reference pass (a fresh adapter leaves M_0's outputs unchanged anyway)
        trainer = DPONLLTrainer(model=prepare(model, cfg, seed), args=args, train_dataset=examples,
                                data_collator=collator, beta=cfg.dpo_beta, alpha=cfg.nll_alpha)
        return fit(trainer, processor, out_dir, base_model, len(examples), cfg, **load_kwargs)
