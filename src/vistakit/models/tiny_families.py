"""Tiny, randomly initialised models of every supported family, built locally (nothing is downloaded).

    python -m vistakit.models.tiny_families internvl runs/tiny-internvl      # tokenizer on the shapes task
    vistakit run recipes/rest-em-tiny.yaml model.base=runs/tiny-internvl     # smoke-test a recipe with it

or from Python: `build_family_model("internvl", out_dir, corpus=[...])`; `load(out_dir)` reads it back.

Each family gets its real model class from a shrunk config (text: hidden 64, 2 layers; vision: 2 layers of
width 32), a byte-level BPE tokenizer trained on `corpus` carrying that family's special tokens (named the
way the hub checkpoints name them, e.g. InternVL's `start_image_token`), a chat template shaped like the
real one (LLaVA's and LLaVA-OneVision's render every image before the text, as theirs do; Qwen2-VL's adds
its default system prompt, Qwen3-VL's and InternVL's do not), and the family's processor without a video
processor (`models/processor.py`). Images are small: 56 px (Qwen3-VL: 64 px) give 4 image tokens for
Qwen-VL, InternVL and LLaVA, and 10 for a single LLaVA-OneVision image (anyres: base, one tile, newlines).
SmolVLM (`idefics3`) resizes every image to one 64 px square (image splitting off), 4 image tokens between
its `<fake_token_around_image><global-img>` ... `<fake_token_around_image>` markers.

What is simplified: LLaVA's tokenizer adds no `<s>` (the real Llama tokenizer does); Qwen3-VL's template
drops the tool-calling and thinking branches; no family has a video path.
"""

from __future__ import annotations

import json
import argparse
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from transformers import (
    Idefics3Config,
    Idefics3ForConditionalGeneration,
    Idefics3Processor,
    InternVLConfig,
    InternVLForConditionalGeneration,
    LlavaConfig,
    LlavaForConditionalGeneration,
    LlavaOnevisionConfig,
    LlavaOnevisionForConditionalGeneration,
    LlavaProcessor,
    Qwen2_5_VLConfig,
    Qwen2_5_VLForConditionalGeneration,
    Qwen2VLConfig,
    Qwen2VLForConditionalGeneration,
    Qwen3VLConfig,
    Qwen3VLForConditionalGeneration,
)
from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil
from transformers.models.got_ocr2.image_processing_pil_got_ocr2 import GotOcr2ImageProcessorPil
from transformers.models.idefics3.image_processing_pil_idefics3 import Idefics3ImageProcessorPil
from transformers.models.llava_onevision.image_processing_pil_llava_onevision import LlavaOnevisionImageProcessorPil
from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

from vistakit.models.processor import (
    TINY_MARKER,
    VistaInternVLProcessor,
    VistaLlavaOnevisionProcessor,
    VistaQwen3VLProcessor,
    VistaQwenVLProcessor,
    save_portable,
)
from vistakit.models.tiny import CHAT_TEMPLATE as QWEN2_VL_TEMPLATE
from vistakit.models.tiny import SPECIAL_TOKENS as QWEN_TOKENS
from vistakit.models.tiny import build_tokenizer
from vistakit.tasks.shapes import build_split, corpus

FAMILIES = ("qwen2_vl", "qwen2_5_vl", "qwen3_vl", "internvl", "llava", "llava_onevision", "idefics3")

# Qwen3-VL: no default system prompt; a system message is rendered only when given.
QWEN3_VL_TEMPLATE = (
    "{% for message in messages %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'text' %}{{ content['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

# transformers' InternVL -hf conversion template: each image is `<IMG_CONTEXT>\n`, which the processor
# expands to `<img><IMG_CONTEXT>...</img>`; content order is kept.
INTERNVL_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n'}}"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' %}{{ '<IMG_CONTEXT>\n' }}"
    "{% elif content['type'] == 'video' %}{{ '<video>\n' }}"
    "{% elif content['type'] == 'text' %}{{ content['text'] }}{% endif %}"
    "{% endfor %}{% endif %}{{'<|im_end|>\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{'<|im_start|>assistant\n' }}{% endif %}"
)

# llava-hf/llava-1.5-*-hf: images first whatever the content order; a system message has no role prefix.
LLAVA_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] != 'system' %}{{ message['role'].upper() + ': '}}{% endif %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}{{ '<image>\n' }}{% endfor %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ content['text'] + ' '}}"
    "{% endfor %}{% endfor %}{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}"
)

# llava-hf/llava-onevision-*-hf: images first whatever the content order, each text part after a newline.
LLAVA_ONEVISION_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + ' '}}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}{{ '<image>' }}{% endfor %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'video') %}{{ '<video>' }}{% endfor %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ '\n' + content['text'] }}"
    "{% endfor %}{{'<|im_end|>'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

# HuggingFaceTB/SmolVLM-256M-Instruct (chat_template.json): one `<|im_start|>` opens the conversation, roles are
# capitalised ("User:" before an image, "User: " before text), every turn ends `<end_of_utterance>\n`, no
# default system prompt; content order is kept.
SMOLVLM_TEMPLATE = (
    "<|im_start|>{% for message in messages %}{{message['role'] | capitalize}}"
    "{% if message['content'][0]['type'] == 'image' %}{{':'}}{% else %}{{': '}}{% endif %}"
    "{% for line in message['content'] %}{% if line['type'] == 'text' %}{{line['text']}}"
    "{% elif line['type'] == 'image' %}{{ '<image>' }}{% endif %}{% endfor %}<end_of_utterance>\n{% endfor %}"
    "{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}"
)
# the tile markers of a split image (Idefics3Processor names a 6 x 6 grid at most)
SMOLVLM_TILES = [f"<row_{i}_col_{j}>" for i in range(1, 7) for j in range(1, 7)]


@dataclass
class FamilySpec:
    """Size of a tiny family model (small enough for a test: every family builds in about a second)."""

    hidden_size: int = 64
    num_layers: int = 2
    num_heads: int = 4
    num_kv_heads: int = 2
    intermediate_size: int = 128
    vision_hidden_size: int = 32
    vision_layers: int = 2
    vision_heads: int = 2
    vocab_size: int = 400
    seed: int = 0


@dataclass
class _Tokens:
    special: list[str]  # in id order from 0
    template: str
    words: list[str]  # the template's words, trained into the BPE
    eos: str
    pad: str
    named: dict  # named special tokens of the hub tokenizer (tokenizer.<name> / <name>_id)


TOKENS = {
    "qwen2_vl": _Tokens(QWEN_TOKENS, QWEN2_VL_TEMPLATE, ["system\nYou are a helpful assistant.", "user\n", "assistant\n"],
                        "<|im_end|>", "<|endoftext|>", {}),
    "qwen3_vl": _Tokens(QWEN_TOKENS, QWEN3_VL_TEMPLATE, ["system\n", "user\n", "assistant\n"],
                        "<|im_end|>", "<|endoftext|>", {}),
    "internvl": _Tokens(["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<img>", "</img>", "<IMG_CONTEXT>", "<video>"],
                        INTERNVL_TEMPLATE, ["system\n", "user\n", "assistant\n"], "<|im_end|>", "<|endoftext|>",
                        {"start_image_token": "<img>", "end_image_token": "</img>",
                         "context_image_token": "<IMG_CONTEXT>", "video_token": "<video>"}),
    "llava": _Tokens(["<pad>", "<s>", "</s>", "<image>"], LLAVA_TEMPLATE, ["USER: ", " ASSISTANT:"], "</s>", "<pad>",
                     {"image_token": "<image>"}),
    "llava_onevision": _Tokens(["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<image>", "<video>"],
                               LLAVA_ONEVISION_TEMPLATE, ["system ", "user ", "assistant\n"], "<|im_end|>",
                               "<|endoftext|>", {"image_token": "<image>", "video_token": "<video>"}),
    # SmolVLM's tokenizer: eos `<end_of_utterance>`, pad `<|im_end|>`, bos `<|im_start|>` (never added by itself)
    "idefics3": _Tokens(["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<fake_token_around_image>", "<image>",
                         "<global-img>", "<end_of_utterance>"] + SMOLVLM_TILES,
                        SMOLVLM_TEMPLATE, ["System: ", "User:", "User: ", "Assistant:"], "<end_of_utterance>",
                        "<|im_end|>", {"bos_token": "<|im_start|>", "unk_token": "<|endoftext|>",
                                       "image_token": "<image>", "fake_image_token": "<fake_token_around_image>",
                                       "global_image_token": "<global-img>",
                                       "end_of_utterance_token": "<end_of_utterance>"}),
}
TOKENS["qwen2_5_vl"] = TOKENS["qwen2_vl"]


def _text(spec: FamilySpec, vocab: int, ids: dict, **extra) -> dict:
    return dict(vocab_size=vocab, hidden_size=spec.hidden_size, intermediate_size=spec.intermediate_size,
                num_hidden_layers=spec.num_layers, num_attention_heads=spec.num_heads,
                num_key_value_heads=spec.num_kv_heads, max_position_embeddings=4096, **ids, **extra)


def _mrope(spec: FamilySpec) -> dict:
    half = spec.hidden_size // spec.num_heads // 2  # rotary pairs per head; sections (t, h, w) sum to it
    hw = half // 4 + half // 8
    return {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [half - 2 * hw, hw, hw]}


def _qwen_ids(ids: dict) -> dict:
    return dict(image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
                vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"])


def _qwen2_vl(spec, tok, ids, special):
    config = Qwen2VLConfig(
        text_config=_text(spec, len(tok), special, rope_parameters=_mrope(spec)),
        vision_config=dict(depth=spec.vision_layers, embed_dim=spec.vision_hidden_size, hidden_size=spec.hidden_size,
                           num_heads=spec.vision_heads, mlp_ratio=2, patch_size=14, spatial_merge_size=2,
                           temporal_patch_size=2),
        **_qwen_ids(ids), **special,
    )
    ip = Qwen2VLImageProcessorPil(size={"shortest_edge": 56 * 56, "longest_edge": 56 * 56})
    return Qwen2VLForConditionalGeneration(config), VistaQwenVLProcessor(ip, tok, chat_template=tok.chat_template)


def _qwen2_5_vl(spec, tok, ids, special):
    config = Qwen2_5_VLConfig(
        text_config=_text(spec, len(tok), special, rope_parameters=_mrope(spec)),
        vision_config=dict(depth=spec.vision_layers, hidden_size=spec.vision_hidden_size,
                           intermediate_size=2 * spec.vision_hidden_size, num_heads=spec.vision_heads,
                           out_hidden_size=spec.hidden_size, fullatt_block_indexes=[spec.vision_layers - 1],
                           window_size=112, patch_size=14, spatial_merge_size=2, temporal_patch_size=2),
        **_qwen_ids(ids), **special,
    )
    ip = Qwen2VLImageProcessorPil(size={"shortest_edge": 56 * 56, "longest_edge": 56 * 56})
    return Qwen2_5_VLForConditionalGeneration(config), VistaQwenVLProcessor(ip, tok, chat_template=tok.chat_template)


def _qwen3_vl(spec, tok, ids, special):
    head_dim = spec.hidden_size // spec.num_heads
    rope = {**_mrope(spec), "mrope_interleaved": True}
    config = Qwen3VLConfig(
        text_config=_text(spec, len(tok), special, head_dim=head_dim, rope_parameters=rope),
        vision_config=dict(depth=spec.vision_layers, hidden_size=spec.vision_hidden_size,
                           intermediate_size=2 * spec.vision_hidden_size, num_heads=spec.vision_heads,
                           out_hidden_size=spec.hidden_size, patch_size=16, spatial_merge_size=2,
                           temporal_patch_size=2, num_position_embeddings=16,
                           deepstack_visual_indexes=[spec.vision_layers - 1]),
        **_qwen_ids(ids), **special,
    )
    ip = Qwen2VLImageProcessorPil(size={"shortest_edge": 64 * 64, "longest_edge": 64 * 64}, patch_size=16,
                                  image_mean=[0.5, 0.5, 0.5], image_std=[0.5, 0.5, 0.5])
    return Qwen3VLForConditionalGeneration(config), VistaQwen3VLProcessor(ip, tok, chat_template=tok.chat_template)


def _internvl(spec, tok, ids, special):
    # 56 px tiles of 14 px patches -> 4x4, pixel-shuffled by 0.5 -> 2x2 = 4 tokens per tile
    config = InternVLConfig(
        text_config=dict(model_type="qwen2", **_text(spec, len(tok), special)),
        vision_config=dict(hidden_size=spec.vision_hidden_size, num_hidden_layers=spec.vision_layers,
                           num_attention_heads=spec.vision_heads, intermediate_size=2 * spec.vision_hidden_size,
                           image_size=56, patch_size=14),
        image_token_id=ids["<IMG_CONTEXT>"], image_seq_length=4, downsample_ratio=0.5, **special,
    )
    # at most 2 tiles (+ a thumbnail): a square image is one tile, a 2:1 image two tiles and a thumbnail
    ip = GotOcr2ImageProcessorPil(size={"height": 56, "width": 56}, max_patches=2, image_mean=[0.485, 0.456, 0.406],
                                  image_std=[0.229, 0.224, 0.225])
    processor = VistaInternVLProcessor(ip, tok, image_seq_length=4, chat_template=tok.chat_template)
    return InternVLForConditionalGeneration(config), processor


def _llava(spec, tok, ids, special):
    # CLIP 28 px, 14 px patches -> 4 patches + CLS; the "default" strategy drops CLS -> 4 image tokens
    config = LlavaConfig(
        text_config=dict(model_type="llama", **_text(spec, len(tok), special)),
        vision_config=dict(model_type="clip_vision_model", hidden_size=spec.vision_hidden_size,
                           intermediate_size=2 * spec.vision_hidden_size, num_hidden_layers=spec.vision_layers,
                           num_attention_heads=spec.vision_heads, image_size=28, patch_size=14, projection_dim=32),
        image_token_index=ids["<image>"], image_seq_length=4, vision_feature_layer=-2,
        vision_feature_select_strategy="default", **special,
    )
    ip = CLIPImageProcessorPil(size={"shortest_edge": 28}, crop_size={"height": 28, "width": 28})
    processor = LlavaProcessor(ip, tok, patch_size=14, vision_feature_select_strategy="default",
                               num_additional_image_tokens=1, chat_template=tok.chat_template)
    return LlavaForConditionalGeneration(config), processor


def _llava_onevision(spec, tok, ids, special):
    # SigLIP 28 px, 14 px patches -> 2x2 = 4 features per crop; anyres on a single image adds one tile
    # (4) and a newline per row (2): 10 tokens; an image among several gets 4 + 1 newline = 5.
    config = LlavaOnevisionConfig(
        text_config=dict(model_type="qwen2", **_text(spec, len(tok), special)),
        vision_config=dict(model_type="siglip_vision_model", hidden_size=spec.vision_hidden_size,
                           intermediate_size=2 * spec.vision_hidden_size, num_hidden_layers=spec.vision_layers,
                           num_attention_heads=spec.vision_heads, image_size=28, patch_size=14),
        image_token_index=ids["<image>"], video_token_index=ids["<video>"], vision_feature_layer=-1,
        vision_feature_select_strategy="full", image_grid_pinpoints=[[28, 28]], **special,
    )
    ip = LlavaOnevisionImageProcessorPil(size={"height": 28, "width": 28}, image_grid_pinpoints=[[28, 28]])
    processor = VistaLlavaOnevisionProcessor(ip, tok, num_image_tokens=4, vision_feature_select_strategy="full",
                                             chat_template=tok.chat_template)
    return LlavaOnevisionForConditionalGeneration(config), processor


def smolvlm_image_processor(do_image_splitting: bool = False, tile: int = 64) -> Idefics3ImageProcessorPil:
    """SmolVLM-256M's settings (mean/std 0.5) at a tiny size: without splitting every image becomes one `tile`
    square; with it, the longest edge goes to 2 tiles and the image is cut into tiles plus a global view."""
    return Idefics3ImageProcessorPil(do_image_splitting=do_image_splitting, size={"longest_edge": 2 * tile},
                                     max_image_size={"longest_edge": tile}, image_mean=[0.5, 0.5, 0.5],
                                     image_std=[0.5, 0.5, 0.5])


def _idefics3(spec, tok, ids, special):
    # SmolVLM-256M-Instruct is an Idefics3 checkpoint (model_type "idefics3") whose processor_config.json names
    # Idefics3Processor (SmolVLM2 checkpoints are "smolvlm"). Its 512 px, 16 px patches, pixel shuffle by 4
    # give 64 tokens per image; here 64 px, 8 px patches -> 8x8, shuffled by 4 -> 2x2 = 4 tokens.
    config = Idefics3Config(
        text_config=dict(model_type="llama", **_text(spec, len(tok), special)),
        vision_config=dict(hidden_size=spec.vision_hidden_size, intermediate_size=2 * spec.vision_hidden_size,
                           num_hidden_layers=spec.vision_layers, num_attention_heads=spec.vision_heads,
                           image_size=64, patch_size=8),
        image_token_id=ids["<image>"], scale_factor=4, **special,
    )
    # Idefics3Processor takes no video processor: the stock class works without torchvision
    processor = Idefics3Processor(smolvlm_image_processor(), tok, image_seq_len=4, chat_template=tok.chat_template)
    return Idefics3ForConditionalGeneration(config), processor


BUILDERS = {
    "qwen2_vl": _qwen2_vl,
    "qwen2_5_vl": _qwen2_5_vl,
    "qwen3_vl": _qwen3_vl,
    "internvl": _internvl,
    "llava": _llava,
    "llava_onevision": _llava_onevision,
    "idefics3": _idefics3,
}


def build_family_tokenizer(family: str, corpus: list[str], vocab_size: int = 400):
    t = TOKENS[family]
    return build_tokenizer(corpus, vocab_size, special_tokens=t.special, chat_template=t.template,
                           template_words=t.words, eos_token=t.eos, pad_token=t.pad, **t.named)


def build_family_model(family: str, out_dir: str | Path, corpus: list[str], spec: FamilySpec = FamilySpec()) -> Path:
    """Build, randomly initialise and `save_pretrained` a tiny model of `family` with its tokenizer and
    processor; `vistakit.models.load.load(out_dir)` reads it back."""
    if family not in BUILDERS:
        raise ValueError(f"unknown family {family!r}; known: {', '.join(FAMILIES)}")
    out_dir = Path(out_dir)
    tokenizer = build_family_tokenizer(family, corpus, spec.vocab_size)
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in TOKENS[family].special}
    eos, pad = ids[TOKENS[family].eos], ids[TOKENS[family].pad]
    special = dict(bos_token_id=pad, eos_token_id=eos, pad_token_id=pad)
    torch.manual_seed(spec.seed)
    model, processor = BUILDERS[family](spec, tokenizer, ids, special)
    model.generation_config.update(eos_token_id=eos, pad_token_id=pad, bos_token_id=pad)
    model.save_pretrained(out_dir)
    save_portable(processor, out_dir)
    (out_dir / TINY_MARKER).write_text(json.dumps({"family": family, **asdict(spec)}, indent=2))
    return out_dir


def main(argv: list[str] | None = None) -> None:
    """python -m vistakit.models.tiny_families FAMILY OUT_DIR: a tiny FAMILY model whose tokenizer is trained
    on the synthetic shapes task's words, for `vistakit run RECIPE model.base=OUT_DIR`."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("family", choices=FAMILIES)
    parser.add_argument("out_dir")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(build_family_model(args.family, args.out_dir, corpus(build_split(args.seed, "seed", 500)),
                             FamilySpec(seed=args.seed)))


if __name__ == "__main__":
    main()
