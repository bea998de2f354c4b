"""LoRA via PEFT for the training steps (`train.lora`), an option beside full fine-tuning.

Every round still trains from M_0: the adapter starts fresh on a copy of M_0 each round. The round's model
is saved MERGED (`merge_and_unload`): `round_t/train/model/` is a plain checkpoint that sampling, scoring,
evaluation and vLLM load like any other, and no loader has to know about adapters (the alternative, keeping
adapters, would make every loader, vLLM included, find and apply the base + adapter pair). The adapter
itself is kept beside it in `round_t/train/adapter/` (small) for inspection.

The merge reloads M_0 on the main process and applies the saved adapter, instead of merging the trained
model in place: under FSDP / DeepSpeed ZeRO-3 the trained weights are sharded across processes, while
`Trainer.save_model` gathers the adapter on every launcher, so one path serves them all.
"""

from __future__ import annotations

from pathlib import Path

import torch

from vistakit.config import LoRAConfig
from vistakit.models.load import load_model, save


def language_model_linears(model) -> list[str]:
    """Full names of the linear layers inside the language model (not the vision tower, not lm_head)."""
    decoder = model.get_decoder()
    prefix = next(name for name, module in model.named_modules() if module is decoder)
    return [f"{prefix}.{name}" for name, module in decoder.named_modules() if isinstance(module, torch.nn.Linear)]


def apply_lora(model, cfg: LoRAConfig):
    """M_0 wrapped with fresh adapters; only the adapters require gradients."""
    from peft import LoraConfig, get_peft_model

    targets = cfg.target_modules or language_model_linears(model)
    config = LoraConfig(r=cfg.r, lora_alpha=cfg.alpha, lora_dropout=cfg.dropout, target_modules=targets,
                        bias="none")
    return get_peft_model(model, config)


def merge_adapter(base_model: str | Path, adapter_dir: Path, out_dir: Path, processor, dtype: str,
                  **load_kwargs) -> None:
    """M_0 + the adapter, merged and saved as a plain checkpoint in `out_dir`."""
    from peft import PeftModel

    base = load_model(base_model, dtype=dtype, device="cpu", **load_kwargs)
    merged = PeftModel.from_pretrained(base, str(adapter_dir)).merge_and_unload()
    save(merged, processor, out_dir, base_model)
