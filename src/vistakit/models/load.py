"""Load any image-text-to-text checkpoint (hub name or local path) with its processor, and check before a run
that it will load on this machine (`check_*`: the run's start and `vistakit run --dry-run`)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from transformers import AutoModelForImageTextToText

from vistakit.models.processor import PROCESSORS, TINY_MARKER, load_processor, save_portable, torchvision_need

HUB_TIMEOUT = 10.0  # seconds the dry run waits for the hub before saying it could not check a hub id


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


def check_device(device: str, field: str = "model.device") -> str:
    """Fail before any work on a device this machine lacks: torch says so only when the model is moved to it,
    after the data are prepared. Returns what was found."""
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        raise ValueError(f"{field}: {device!r} is not a device torch knows (cpu, cuda, cuda:N, mps)") from None
    if dev.type == "cpu":
        return "cpu"
    if dev.type == "cuda":
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        visible = f" (CUDA_VISIBLE_DEVICES={visible})" if visible is not None else ""
        if not torch.cuda.is_available():
            why = (f"torch {torch.__version__} is a CPU-only build" if torch.version.cuda is None
                   else f"torch finds no CUDA GPU on this machine{visible}")
            raise ValueError(f"{field}: {device}, but {why}: set model.device=cpu, or run where a GPU is")
        n = torch.cuda.device_count()
        if (dev.index or 0) >= n:
            raise ValueError(f"{field}: {device}, but torch sees {n} GPU{'s' * (n != 1)} (cuda:0 to cuda:{n - 1})"
                             f"{visible}")
        return f"{device}: {torch.cuda.get_device_name(dev.index or 0)} ({n} GPU{'s' * (n != 1)} visible)"
    if dev.type == "mps":
        if not torch.backends.mps.is_available():
            raise ValueError(f"{field}: {device}, but torch finds no Apple GPU (mps) on this machine: set "
                             "model.device=cpu")
        return device
    backend = getattr(torch, dev.type, None)  # torch.xpu, ...
    if not (hasattr(backend, "is_available") and backend.is_available()):
        raise ValueError(f"{field}: {device}, but torch finds no {dev.type} device on this machine")
    return device


def torchvision_missing(family: str | None) -> str | None:
    """What to tell a researcher whose checkpoint family's processor needs torchvision on a machine without it
    (`processor.torchvision_need`), or None."""
    need = torchvision_need(family) if family else None
    if need is None:
        return None
    return (f"{family}: {need}, and torchvision is not installed (vistakit has torchvision-free processors for "
            f"{', '.join(sorted(PROCESSORS))} only): install the torchvision build that matches torch "
            f"{torch.__version__}")


def check_processor(name_or_path: str | Path, model_cfg, field: str = "model.base") -> str:
    """Build a local checkpoint's processor as the run will (`load_processor`: tokenizer and image processor,
    no weights; seconds), so that a family whose stock processor needs torchvision on a machine without it, a
    `model.max_pixels` its image processor cannot take, or a tokenizer that does not load fails now, not
    after the data are prepared. Returns the processor's class name."""
    try:
        processor = load_processor(name_or_path, trust_remote_code=model_cfg.trust_remote_code,
                                   min_pixels=model_cfg.min_pixels, max_pixels=model_cfg.max_pixels)
    except Exception as e:  # any failure here is the run's first step failing
        try:
            family = json.loads((Path(name_or_path) / "config.json").read_text()).get("model_type")
        except (OSError, ValueError, AttributeError):
            family = None
        hint = torchvision_missing(family)
        raise ValueError(f"{field}: the processor of {name_or_path} cannot be built on this machine ("
                         f"{type(e).__name__}: {e})" + (f"; {hint}" if hint else "")) from None
    return type(processor).__name__


def check_hub_id(name: str, field: str = "model.base", timeout: float = HUB_TIMEOUT) -> tuple[str, str | None]:
    """Ask the hub whether the model `name` exists (its metadata only): a misspelt id fails now, naming the
    field, not when the run starts. A hub that cannot be reached (offline, a firewall, a timeout) is no error:
    the line says the id could not be checked, and whether this machine's hub cache holds it. Returns (what
    was found, the model's model_type or None)."""
    import huggingface_hub
    from huggingface_hub.errors import GatedRepoError, HFValidationError, RepositoryNotFoundError

    try:
        info = huggingface_hub.model_info(name, timeout=timeout)
    except GatedRepoError:
        raise ValueError(f"{field}: {name} is gated on the hub and this machine's token has no access to it: "
                         "accept its terms on its hub page, then log in (hf auth login)") from None
    except RepositoryNotFoundError:
        raise ValueError(f"{field}: the hub has no model {name} (misspelt? a private one needs hf auth login; a "
                         "local folder must exist)") from None
    except HFValidationError as e:
        raise ValueError(f"{field}: {name!r} is neither a local folder nor a valid hub id ({e})") from None
    except Exception as e:  # no network, a timeout, the hub down, HF_HUB_OFFLINE
        try:
            cached = isinstance(huggingface_hub.try_to_load_from_cache(name, "config.json"), str)
        except Exception:
            cached = False
        return (f"a hub id that could not be checked: the hub could not be reached ({type(e).__name__}: {e}); "
                + ("this machine's hub cache holds it" if cached else "not in this machine's hub cache: the run "
                   "needs the hub"), None)
    family = (getattr(info, "config", None) or {}).get("model_type")
    sha = getattr(info, "sha", None)
    return (f"found on the hub ({family or 'no model_type given'}" + (f", revision {sha[:10]}" if sha else "") + ")"
            + ("; gated: the download needs a token with access (hf auth login)" if getattr(info, "gated", None)
               else "") + "; downloaded when the run starts", family)


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
