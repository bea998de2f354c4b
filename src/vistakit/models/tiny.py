"""The embedded default model: a tiny, randomly initialised Qwen2.5-VL with a locally built tokenizer.

Nothing is downloaded. The tokenizer is a byte-level BPE trained on the task's own text (so any string
round-trips exactly), carrying the Qwen-VL special tokens and the Qwen2-VL chat template, so that every
later step loads and renders it exactly as it would `Qwen/Qwen2.5-VL-3B-Instruct`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast, Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

from vistakit.models.processor import TINY_MARKER, VistaQwenVLProcessor, make_image_processor, save_portable

SPECIAL_TOKENS = [
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
    "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>",
]

# Qwen2-VL's chat template (images as {"type": "image"} content parts), kept verbatim in shape so that the
# segment finder sees the same layout as on the real models.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'text' %}{{ content['text'] }}{% endif %}"
    "{% endfor %}<|im_end|>\n{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@dataclass
class TinySpec:
    """Size of the embedded model; the defaults learn the shapes task on 2 CPU cores in minutes."""

    hidden_size: int = 128
    num_layers: int = 4
    num_heads: int = 4
    num_kv_heads: int = 2
    intermediate_size: int = 384
    vision_depth: int = 2
    vision_hidden_size: int = 64
    vision_heads: int = 4
    vocab_size: int = 512
    image_size: int = 84  # 84 px, 14 px patches, 2x2 merge -> 3x3 = 9 image tokens
    # std of the language model's initial weights. transformers' default, 0.02, leaves a model this narrow
    # with near-uniform attention that seed SFT did not escape: counting the red shapes among others stayed
    # at the majority answer for 1500 steps; at 0.1 it learns within a few hundred (the vision tower keeps 0.02)
    text_init_std: float = 0.1
    seed: int = 0


def build_tokenizer(corpus: list[str], vocab_size: int, special_tokens: list[str] = SPECIAL_TOKENS,
                    chat_template: str = CHAT_TEMPLATE, template_words: list[str] | None = None,
                    eos_token: str = "<|im_end|>", pad_token: str = "<|endoftext|>",
                    **tokenizer_kwargs) -> PreTrainedTokenizerFast:
    """A byte-level BPE trained on `corpus` + the chat template's words; the defaults are Qwen-VL's. The
    keyword arguments let another family (`tiny_families.py`) bring its own special tokens, template and
    named tokens (`tokenizer_kwargs`, e.g. InternVL's `start_image_token="<img>"`)."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=special_tokens, show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    if template_words is None:
        template_words = ["system\nYou are a helpful assistant.", "user\n", "assistant\n"]
    tok.train_from_iterator(list(corpus) + template_words * 10, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token=eos_token, pad_token=pad_token,
        additional_special_tokens=[t for t in special_tokens if t != pad_token], padding_side="left",
        **tokenizer_kwargs,
    )
    fast.chat_template = chat_template
    return fast


def build_tiny_model(out_dir: str | Path, corpus: list[str], spec: TinySpec = TinySpec()) -> Path:
    """Build, randomly initialise and `save_pretrained` the tiny model, tokenizer and processor."""
    out_dir = Path(out_dir)
    tokenizer = build_tokenizer(corpus, spec.vocab_size)
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    head_dim = spec.hidden_size // spec.num_heads
    half = head_dim // 2
    mrope = [half - 2 * (half // 4 + half // 8), half // 4 + half // 8, half // 4 + half // 8]
    config = Qwen2_5_VLConfig(
        text_config=dict(
            vocab_size=len(tokenizer), hidden_size=spec.hidden_size, intermediate_size=spec.intermediate_size,
            num_hidden_layers=spec.num_layers, num_attention_heads=spec.num_heads,
            num_key_value_heads=spec.num_kv_heads, max_position_embeddings=4096,
            rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "mrope_section": mrope},
            bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"], pad_token_id=ids["<|endoftext|>"],
            tie_word_embeddings=True, initializer_range=spec.text_init_std,
        ),
        vision_config=dict(
            depth=spec.vision_depth, hidden_size=spec.vision_hidden_size, intermediate_size=2 * spec.vision_hidden_size,
            num_heads=spec.vision_heads, out_hidden_size=spec.hidden_size, fullatt_block_indexes=[spec.vision_depth - 1],
            window_size=112, patch_size=14, spatial_merge_size=2, temporal_patch_size=2,
        ),
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
        bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"], pad_token_id=ids["<|endoftext|>"],
        tie_word_embeddings=True,
    )
    torch.manual_seed(spec.seed)
    model = Qwen2_5_VLForConditionalGeneration(config)
    model.generation_config.eos_token_id = ids["<|im_end|>"]
    model.generation_config.pad_token_id = ids["<|endoftext|>"]
    model.generation_config.bos_token_id = ids["<|endoftext|>"]
    model.save_pretrained(out_dir)
    pixels = spec.image_size * spec.image_size
    processor = VistaQwenVLProcessor(make_image_processor(pixels, pixels), tokenizer, chat_template=CHAT_TEMPLATE)
    save_portable(processor, out_dir)
    (out_dir / TINY_MARKER).write_text(json.dumps(asdict(spec), indent=2))
    return out_dir
