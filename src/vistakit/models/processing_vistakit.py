"""Processors of Qwen2-VL, Qwen2.5-VL, Qwen3-VL, InternVL and LLaVA-OneVision that work without torchvision.

The stock processors of these families look up a video processor class, which needs torchvision; each
subclass here takes no video processor. The image processor is the one `AutoImageProcessor` picks for the
checkpoint, as for the stock processor: the family's PIL class where torchvision is missing. Images behave
exactly as with the stock processor (same image processor settings, same placeholder expansion); only video
input is gone.

This file imports transformers only: vistakit copies it into every checkpoint it saves with one of these
processors (`processing_vistakit.py`, named in processor_config.json's `auto_map`), so that plain
transformers reads the checkpoint back without vistakit or torchvision:

    AutoProcessor.from_pretrained(path, trust_remote_code=True)
"""

from transformers import InternVLProcessor, LlavaOnevisionProcessor, Qwen2_5_VLProcessor, Qwen3VLProcessor


class VistaQwenVLProcessor(Qwen2_5_VLProcessor):
    """Qwen2-VL / Qwen2.5-VL without a video processor."""

    tokenizer_class = "PreTrainedTokenizerFast"

    def __init__(self, image_processor=None, tokenizer=None, chat_template=None, **kwargs):
        kwargs.pop("video_processor", None)
        super().__init__(image_processor, tokenizer, video_processor=None, chat_template=chat_template, **kwargs)


class VistaQwen3VLProcessor(Qwen3VLProcessor):
    """Qwen3-VL without a video processor (Qwen3-VL's image processor is Qwen2-VL's, with 16 px patches)."""


    def __init__(self, image_processor=None, tokenizer=None, chat_template=None, **kwargs):
        kwargs.pop("video_processor", None)
        super().__init__(image_processor, tokenizer, video_processor=None, chat_template=chat_template, **kwargs)


class VistaInternVLProcessor(InternVLProcessor):
    """InternVL (transformers' native `-hf` checkpoints) without a video processor. Its tokenizer must carry
    the named special tokens `start_image_token`, `end_image_token`, `context_image_token`, `video_token`."""


    def __init__(self, image_processor=None, tokenizer=None, image_seq_length: int = 256, chat_template=None,
                 **kwargs):
        kwargs.pop("video_processor", None)
        super().__init__(image_processor, tokenizer, video_processor=None, image_seq_length=image_seq_length,
                         chat_template=chat_template, **kwargs)


class VistaLlavaOnevisionProcessor(LlavaOnevisionProcessor):
    """LLaVA-OneVision without a video processor."""


    def __init__(self, image_processor=None, tokenizer=None, num_image_tokens=None,
                 vision_feature_select_strategy=None, chat_template=None, image_token="<image>",
                 video_token="<video>", vision_aspect_ratio="anyres_max_9", **kwargs):
        kwargs.pop("video_processor", None)
        super().__init__(image_processor, tokenizer, video_processor=None, num_image_tokens=num_image_tokens,
                         vision_feature_select_strategy=vision_feature_select_strategy,
                         chat_template=chat_template, image_token=image_token, video_token=video_token,
                         vision_aspect_ratio=vision_aspect_ratio, **kwargs)
