"""The one function that loads a processor, and the one that saves it so any tool reads it back.

The stock processors of Qwen2-VL, Qwen2.5-VL, Qwen3-VL, InternVL and LLaVA-OneVision look up a video
processor class, which needs torchvision; a CPU install may have none (torchvision is optional). The
subclasses in `processing_vistakit.py` take no video processor; LLaVA's own `LlavaProcessor` and Idefics3's
`Idefics3Processor` (the SmolVLM-256M/500M/2B checkpoints') have none and are used as they are.
`save_portable` writes them so that plain transformers loads them back
(`AutoProcessor.from_pretrained(path, trust_remote_code=True)`): the processor config names the stock class
(`processor_class`, what a machine with torchvision uses) and, in `auto_map`, the subclass in the copy of
`processing_vistakit.py` saved beside it.

`load_processor` uses them for the embedded tiny models (marked by `vistakit_tiny.json`) and, on a machine
without torchvision, for a checkpoint of one of these families; every other case goes through
`AutoProcessor` unchanged (a real checkpoint on a GPU box with torchvision loads exactly as transformers
loads it).
"""

from __future__ import annotations

import json
from pathlib import Path

from transformers import AutoConfig, AutoProcessor, Idefics3Processor, LlavaProcessor
from transformers.models.auto.image_processing_auto import IMAGE_PROCESSOR_MAPPING_NAMES
from transformers.models.auto.processing_auto import PROCESSOR_MAPPING_NAMES, processor_class_from_name
from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil
from transformers.utils import is_torchvision_available

from vistakit.models import processing_vistakit
from vistakit.models.processing_vistakit import (
    VistaInternVLProcessor,
    VistaLlavaOnevisionProcessor,
    VistaQwen3VLProcessor,
    VistaQwenVLProcessor,
)

TINY_MARKER = "vistakit_tiny.json"


# model_type -> the processor class that needs no torchvision
PROCESSORS = {
    "qwen2_vl": VistaQwenVLProcessor,
    "qwen2_5_vl": VistaQwenVLProcessor,
    "qwen3_vl": VistaQwen3VLProcessor,
    "internvl": VistaInternVLProcessor,
    "llava": LlavaProcessor,
    "llava_onevision": VistaLlavaOnevisionProcessor,
    "idefics3": Idefics3Processor,
}
_BY_NAME = {cls.__name__: cls for cls in PROCESSORS.values()}


def torchvision_need(model_type: str) -> str | None:
    """Why a checkpoint of this family cannot get its processor on this machine, or None. Without torchvision,
    a family not in PROCESSORS gets transformers' stock classes, and of those a video processor, or an image
    processor that exists only as a torchvision class, cannot be built. Read from transformers' own tables,
    so the dry run can say it of a hub id before anything is downloaded."""
    if is_torchvision_available() or model_type in PROCESSORS:
        return None
    name = PROCESSOR_MAPPING_NAMES.get(model_type)
    try:
        cls = processor_class_from_name(name) if name else None
    except Exception:  # a class this transformers cannot import: the run's own load will say why
        cls = None
    if cls is not None and "video_processor" in cls.get_attributes():
        return f"its processor ({name}) includes a video processor, which needs torchvision"
    backends = IMAGE_PROCESSOR_MAPPING_NAMES.get(model_type)
    if isinstance(backends, dict) and backends and "pil" not in backends:
        return f"its image processor ({', '.join(backends.values())}) exists only as a torchvision class"
    return None


def make_image_processor(min_pixels: int, max_pixels: int) -> Qwen2VLImageProcessorPil:
    return Qwen2VLImageProcessorPil(size={"shortest_edge": min_pixels, "longest_edge": max_pixels})


def bound_pixels(processor, min_pixels: int | None = None, max_pixels: int | None = None) -> None:
    """Bound the pixels of each image a Qwen-VL processor feeds the model (`max_pixels` is the usual cure for
    out-of-memory on large images: tokens per image = pixels / (patch_size * merge_size)^2)."""
    if min_pixels is None and max_pixels is None:
        return
    ip = processor.image_processor
    if not type(ip).__name__.startswith("Qwen2VLImageProcessor"):
        raise ValueError(f"model.min_pixels / model.max_pixels apply to Qwen-VL image processors, not "
                         f"{type(ip).__name__}: this family resizes to a fixed size (set it in the checkpoint's "
                         "preprocessor_config.json)")
    size = dict(ip.size)
    if min_pixels is not None:
        size["shortest_edge"] = min_pixels
    if max_pixels is not None:
        size["longest_edge"] = max_pixels
    if size["shortest_edge"] > size["longest_edge"]:
        raise ValueError(f"min_pixels {size['shortest_edge']} > max_pixels {size['longest_edge']}")
    ip.size = size


def _processor_class(path: Path, trust_remote_code: bool):
    if (path / TINY_MARKER).exists():
        try:
            family = json.loads((path / "config.json").read_text())["model_type"]
        except (OSError, KeyError, ValueError):
            family = None
        return PROCESSORS.get(family, VistaQwenVLProcessor)  # older tiny checkpoints: Qwen2.5-VL
    if is_torchvision_available():
        return None
    try:
        family = AutoConfig.from_pretrained(str(path), trust_remote_code=trust_remote_code).model_type
    except (OSError, ValueError):
        return None
    return PROCESSORS.get(family)


def save_portable(processor, out_dir: str | Path) -> None:
    """`processor.save_pretrained(out_dir)`; for vistakit's own subclasses, also `processing_vistakit.py` and an
    `auto_map` entry, so that `AutoProcessor.from_pretrained(out_dir, trust_remote_code=True)` gives this
    processor without vistakit (and without torchvision), and the stock class's name as `processor_class`."""
    out_dir = Path(out_dir)
    processor.save_pretrained(out_dir)
    cls = type(processor)
    if cls.__module__ != processing_vistakit.__name__:
        return
    config_file = out_dir / "processor_config.json"
    config = json.loads(config_file.read_text())
    config["processor_class"] = cls.__mro__[1].__name__  # the stock class it subclasses
    config["auto_map"] = {"AutoProcessor": f"processing_vistakit.{cls.__name__}"}
    config_file.write_text(json.dumps(config, indent=2) + "\n")
    (out_dir / "processing_vistakit.py").write_text(Path(processing_vistakit.__file__).read_text())


def load_processor(name_or_path: str | Path, trust_remote_code: bool = False, min_pixels: int | None = None,
                   max_pixels: int | None = None, **kwargs):
    cls = _processor_class(Path(name_or_path), trust_remote_code)
    if cls is not None:
        processor = cls.from_pretrained(name_or_path, **kwargs)
    else:
        processor = AutoProcessor.from_pretrained(name_or_path, trust_remote_code=trust_remote_code, **kwargs)
    bound_pixels(processor, min_pixels, max_pixels)
    return processor
