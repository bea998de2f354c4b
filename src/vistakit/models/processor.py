"""Processors that work without torchvision, and the one function that loads a processor.

The stock processors of Qwen2-VL, Qwen2.5-VL, Qwen3-VL, InternVL and LLaVA-OneVision look up a video
processor class, which needs torchvision; CPU installs here have none (and must not get one: NOTES.md). Each
subclass below takes no video processor, uses the family's PIL image processor, and round-trips through
`save_pretrained` / its own `from_pretrained`. Images behave exactly as with the stock processor (same
image processor settings, same placeholder expansion); only video input is gone. LLaVA's own
`LlavaProcessor` has no video processor and is used as it is.

`load_processor` uses them for the embedded tiny models (marked by `vistakit_tiny.json`) and, on a machine
without torchvision, for a checkpoint of one of these families; every other case goes through
`AutoProcessor` unchanged (a real checkpoint on a GPU box with torchvision loads exactly as transformers
loads it).
"""

from __future__ import annotations

import json
from pathlib import Path

from transformers import (
    AutoConfig,
    AutoProcessor,
    InternVLProcessor,
    LlavaOnevisionProcessor,
    LlavaProcessor,
    Qwen2_5_VLProcessor,
    Qwen3VLProcessor,
)
from transformers.models.got_ocr2.image_processing_pil_got_ocr2 import GotOcr2ImageProcessorPil  # noqa: F401
from transformers.models.llava_onevision.image_processing_pil_llava_onevision import (  # noqa: F401
    LlavaOnevisionImageProcessorPil,
)
from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil
from transformers.utils import is_torchvision_available

TINY_MARKER = "vistakit_tiny.json"


class VistaQwenVLProcessor(Qwen2_5_VLProcessor):
    """Qwen2-VL / Qwen2.5-VL without a video processor."""

    image_processor_class = "Qwen2VLImageProcessorPil"
    tokenizer_class = "PreTrainedTokenizerFast"

    def __init__(self, image_processor=None, tokenizer=None, chat_template=None, **kwargs):
        kwargs.pop("video_processor", None)
        super().__init__(image_processor, tokenizer, video_processor=None, chat_template=chat_template, **kwargs)


class VistaQwen3VLProcessor(Qwen3VLProcessor):
    """Qwen3-VL without a video processor (Qwen3-VL's image processor is Qwen2-VL's, with 16 px patches)."""

    image_processor_class = "Qwen2VLImageProcessorPil"

    def __init__(self, image_processor=None, tokenizer=None, chat_template=None, **kwargs):
        kwargs.pop("video_processor", None)
        super().__init__(image_processor, tokenizer, video_processor=None, chat_template=chat_template, **kwargs)


class VistaInternVLProcessor(InternVLProcessor):
    """InternVL (transformers' native `-hf` checkpoints) without a video processor. Its tokenizer must carry
    the named special tokens `start_image_token`, `end_image_token`, `context_image_token`, `video_token`."""

    image_processor_class = "GotOcr2ImageProcessorPil"

    def __init__(self, image_processor=None, tokenizer=None, image_seq_length: int = 256, chat_template=None,
                 **kwargs):
        kwargs.pop("video_processor", None)
        super().__init__(image_processor, tokenizer, video_processor=None, image_seq_length=image_seq_length,
                         chat_template=chat_template, **kwargs)


class VistaLlavaOnevisionProcessor(LlavaOnevisionProcessor):
    """LLaVA-OneVision without a video processor."""

    image_processor_class = "LlavaOnevisionImageProcessorPil"

    def __init__(self, image_processor=None, tokenizer=None, num_image_tokens=None,
                 vision_feature_select_strategy=None, chat_template=None, image_token="<image>",
                 video_token="<video>", vision_aspect_ratio="anyres_max_9", **kwargs):
        kwargs.pop("video_processor", None)
        super().__init__(image_processor, tokenizer, video_processor=None, num_image_tokens=num_image_tokens,
                         vision_feature_select_strategy=vision_feature_select_strategy,
                         chat_template=chat_template, image_token=image_token, video_token=video_token,
                         vision_aspect_ratio=vision_aspect_ratio, **kwargs)


# model_type -> the processor class that needs no torchvision
PROCESSORS = {
    "qwen2_vl": VistaQwenVLProcessor,
    "qwen2_5_vl": VistaQwenVLProcessor,
    "qwen3_vl": VistaQwen3VLProcessor,
    "internvl": VistaInternVLProcessor,
    "llava": LlavaProcessor,
    "llava_onevision": VistaLlavaOnevisionProcessor,
}
_BY_NAME = {cls.__name__: cls for cls in PROCESSORS.values()}


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
        config_file = path / "processor_config.json"
        name = json.loads(config_file.read_text()).get("processor_class") if config_file.exists() else None
        return _BY_NAME.get(name, VistaQwenVLProcessor)  # older tiny checkpoints: Qwen2.5-VL
    if is_torchvision_available():
        return None
    try:
        family = AutoConfig.from_pretrained(str(path), trust_remote_code=trust_remote_code).model_type
    except (OSError, ValueError):
        return None
    return PROCESSORS.get(family)


def load_processor(name_or_path: str | Path, trust_remote_code: bool = False, min_pixels: int | None = None,
                   max_pixels: int | None = None, **kwargs):
    cls = _processor_class(Path(name_or_path), trust_remote_code)
    if cls is not None:
        processor = cls.from_pretrained(name_or_path, **kwargs)
    else:
        processor = AutoProcessor.from_pretrained(name_or_path, trust_remote_code=trust_remote_code, **kwargs)
    bound_pixels(processor, min_pixels, max_pixels)
    return processor
