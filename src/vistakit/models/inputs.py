"""Model inputs for queries, with or without responses: one function for sampling, training and scoring.

The processor expands image placeholders (so every family's own rule applies); responses are tokenized
separately and appended as ids, so a response's tokens are the same whether it was generated or
teacher-forced.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from PIL import Image

from vistakit.models.segments import Segments, find_segments


def query_messages(instruction: str, n_images: int = 1, system: str | None = None,
                   image_first: bool = True) -> list[dict]:
    """Chat messages of one query. Every content is a list of typed parts (the system message too: LLaVA's
    template renders only list contents)."""
    images, text = [{"type": "image"} for _ in range(n_images)], [{"type": "text", "text": instruction}]
    content = images + text if image_first else text + images
    messages = [{"role": "system", "content": [{"type": "text", "text": system}]}] if system else []
    return messages + [{"role": "user", "content": content}]


def render_query(processor, instruction: str, n_images: int = 1, system: str | None = None,
                 image_first: bool = True) -> str:
    """The prompt text up to and including the assistant header, in the model's own chat template; the
    processor expands each image placeholder later. `image_first=False` is VISTA's swapped query
    (instruction before the image).

    Some templates render every image before the text whatever the content order (LLaVA-1.5's and
    LLaVA-OneVision's: "Render all images first"). For those the swapped query puts the family's image
    placeholder (`processor.image_token`) into text parts after the instruction, so that the template's own
    glue between text parts is kept and the processor still expands them."""
    text = processor.apply_chat_template(
        query_messages(instruction, n_images, system, image_first), add_generation_prompt=True, tokenize=False
    )
    if image_first or n_images == 0 or not instruction or _instruction_first(processor, text, instruction):
        return text
    messages = query_messages(instruction, 0, system)
    messages[-1]["content"] += [{"type": "text", "text": processor.image_token} for _ in range(n_images)]
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    if not _instruction_first(processor, text, instruction):
        raise ValueError("the chat template does not let the instruction come before the image")
    return text


def _instruction_first(processor, text: str, instruction: str) -> bool:
    return text.rfind(instruction) < text.find(processor.image_token)


@dataclass
class Batch:
    inputs: dict  # model kwargs: input_ids, attention_mask, pixel_values, image_grid_thw, ...
    response_start: list[int]  # per row, index of the first response token (= prompt end)
    labels: torch.Tensor | None = None  # response tokens, -100 elsewhere

    def segments(self, vision_ids: frozenset[int]) -> list[Segments]:
        ids, mask = self.inputs["input_ids"], self.inputs["attention_mask"]
        return [find_segments(ids[i], mask[i], s, vision_ids) for i, s in enumerate(self.response_start)]


def response_ids(tokenizer, response: str, add_eos: bool = True) -> list[int]:
    ids = tokenizer(response, add_special_tokens=False)["input_ids"]
    return ids + [tokenizer.eos_token_id] if add_eos else ids


def encode(
    processor,
    prompts: list[str],
    images: list[list[Image.Image]],
    responses: list[list[int]] | None = None,
    padding_side: str = "left",
) -> Batch:
    """Pad prompts (+ response ids) into one batch. `images[i]` are the images of prompt i, in order."""
    tok = processor.tokenizer
    # Images nested per prompt: LLaVA-OneVision counts a prompt's images to choose single- or multi-image
    # processing; the other families flatten them.
    nested = [list(ims) for ims in images] if any(images) else None
    enc = processor(text=prompts, images=nested, padding=True, padding_side="left", return_tensors="pt")
    rows = [ids[m.bool()].tolist() for ids, m in zip(enc["input_ids"], enc["attention_mask"])]
    prompt_lens = [len(r) for r in rows]
    if responses is not None:
        image_id = getattr(processor, "image_token_id", None)
        bad = [i for i, resp in enumerate(responses) if image_id is not None and image_id in resp]
        if bad:
            raise ValueError(f"responses {bad} of the batch contain the image placeholder token {image_id}: "
                             "a response must be text only (sampling suppresses it)")
        rows = [r + list(resp) for r, resp in zip(rows, responses)]
    width = max(len(r) for r in rows)
    pad = tok.pad_token_id
    input_ids = torch.full((len(rows), width), pad, dtype=torch.long)
    attention = torch.zeros((len(rows), width), dtype=torch.long)
    labels = torch.full((len(rows), width), -100, dtype=torch.long)
    starts = []
    for i, r in enumerate(rows):
        off = width - len(r) if padding_side == "left" else 0
        input_ids[i, off : off + len(r)] = torch.tensor(r)
        attention[i, off : off + len(r)] = 1
        starts.append(off + prompt_lens[i])
        labels[i, off + prompt_lens[i] : off + len(r)] = input_ids[i, off + prompt_lens[i] : off + len(r)]
    inputs = {k: v for k, v in enc.items() if k not in ("input_ids", "attention_mask", "mm_token_type_ids")}
    inputs.update(input_ids=input_ids, attention_mask=attention)
    if "mm_token_type_ids" in enc:  # Qwen-VL: 1 on image tokens, drives the M-RoPE positions
        types = processor.create_mm_token_type_ids(input_ids.tolist())
        inputs["mm_token_type_ids"] = torch.as_tensor(types, dtype=enc["mm_token_type_ids"].dtype) * attention
    return Batch(inputs=inputs, response_start=starts, labels=labels if responses is not None else None)
