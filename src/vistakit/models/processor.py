"""A Qwen2.5-VL processor that works without torchvision.

`Qwen2_5_VLProcessor` looks up a video processor class, which needs torchvision; CPU installs here have none.
This subclass takes no video processor and round-trips through `save_pretrained`, and `load_processor` uses
it for checkpoints that carry no video processor (the embedded tiny model); every other checkpoint goes
through `AutoProcessor` unchanged.
"""

from __future__ import annotations

from pathlib import Path

from transformers import AutoProcessor, Qwen2_5_VLProcessor
from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

TINY_MARKER = "vistakit_tiny.json"


class VistaQwenVLProcessor(Qwen2_5_VLProcessor):
    attributes = ["image_processor", "tokenizer"]
    image_processor_class = "Qwen2VLImageProcessorPil"
    tokenizer_class = "PreTrainedTokenizerFast"

    def __init__(self, image_processor=None, tokenizer=None, chat_template=None, **kwargs):
        kwargs.pop("video_processor", None)
        super().__init__(image_processor, tokenizer, video_processor=None, chat_template=chat_template, **kwargs)


def make_image_processor(min_pixels: int, max_pixels: int) -> Qwen2VLImageProcessorPil:
    return Qwen2VLImageProcessorPil(size={"shortest_edge": min_pixels, "longest_edge": max_pixels})


def load_processor(name_or_path: str | Path, trust_remote_code: bool = False, **kwargs):
    if (Path(name_or_path) / TINY_MARKER).exists():
        return VistaQwenVLProcessor.from_pretrained(name_or_path, **kwargs)
    return AutoProcessor.from_pretrained(name_or_path, trust_remote_code=trust_remote_code, **kwargs)
