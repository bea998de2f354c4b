"""Load any image-text-to-text checkpoint (hub name or local path) with its processor."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoModelForImageTextToText

from vistakit.models.processor import TINY_MARKER, load_processor, save_portable


def check_checkpoint(name_or_path: str | Path, field: str = "model.base") -> None:
    """Fail before any work on a local checkpoint that cannot load: a missing folder (transformers would call
    it a malformed hub id, never naming the field) or one holding pickled weights only (refused on purpose:
    unpickling runs code; vistakit loads safetensors). A hub id (`org/name`) is left to the hub."""
    path = Path(str(name_or_path)).expanduser()
    text = str(name_or_path)
    local = path.exists() or text.startswith(("/", ".", "~")) or text.count("/") > 1 or "\\" in text
    if not local:
        return
    if not path.is_dir():
        raise FileNotFoundError(f"{field}: no checkpoint folder at {path}")
    if not any(path.glob("*.safetensors")) and (any(path.glob("*.bin")) or any(path.glob("*.pt"))):
        raise ValueError(f"{field}: {path} holds pickled weights only (*.bin / *.pt); vistakit loads safetensors "
                         "and refuses pickles on purpose (unpickling can run code). Convert them, e.g. load and "
                         "save_pretrained(safe_serialization=True) where you trust the file")
    if not (path / "config.json").exists():
        raise FileNotFoundError(f"{field}: {path} has no config.json: not a transformers checkpoint folder")


def resolve_dtype(name: str):
    return "auto" if name == "auto" else getattr(torch, name)


def load_model(name_or_path: str | Path, dtype: str = "float32", attn_implementation: str = "sdpa",
               device: str = "cpu", trust_remote_code: bool = False):
    model = AutoModelForImageTextToText.from_pretrained(
        str(name_or_path), dtype=resolve_dtype(dtype), attn_implementation=attn_implementation,
        trust_remote_code=trust_remote_code, use_safetensors=True,
    )
    return model.to(device)


def load(name_or_path: str | Path, dtype: str = "float32", attn_implementation: str = "sdpa",
         device: str = "cpu", trust_remote_code: bool = False, min_pixels: int | None = None,
         max_pixels: int | None = None):
    """(model, processor), the processor with left padding for batched generation. `min_pixels` /
    `max_pixels` bound the image size of Qwen-VL processors (None: the checkpoint's own setting)."""
    processor = load_processor(name_or_path, trust_remote_code=trust_remote_code, min_pixels=min_pixels,
                               max_pixels=max_pixels)
    processor.tokenizer.padding_side = "left"
    model = load_model(name_or_path, dtype, attn_implementation, device, trust_remote_code)
    return model, processor


def load_kwargs(model_cfg) -> dict:
    """`load`'s keyword arguments from a `config.ModelConfig`: `load(path, **load_kwargs(cfg.model))`."""
    return dict(dtype=model_cfg.dtype, attn_implementation=model_cfg.attn_implementation, device=model_cfg.device,
                trust_remote_code=model_cfg.trust_remote_code, min_pixels=model_cfg.min_pixels,
                max_pixels=model_cfg.max_pixels)


def save(model, processor, out_dir: str | Path, source: str | Path) -> None:
    """Save a trained model so that `load` reads it back like the checkpoint it came from."""
    model.save_pretrained(Path(out_dir))
    save_processor(processor, out_dir, source)


def save_processor(processor, out_dir: str | Path, source: str | Path) -> None:
    """The processor (and the tiny model's marker) beside weights already saved in `out_dir`."""
    out_dir = Path(out_dir)
    save_portable(processor, out_dir)
    marker = Path(source) / TINY_MARKER
    if marker.exists():
        (out_dir / TINY_MARKER).write_text(marker.read_text())
