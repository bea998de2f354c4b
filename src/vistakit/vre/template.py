"""VRE's response template: reasoning -> <reflection> ... </reflection> -> answer (docs/methods.md, "VRE").

    red shapes: 2
    <reflection>
    red circle: 1
    red square: 1
    </reflection>
    Answer: 2

`split_response` is the one parser of the template (the format reward, the reflection reward, the
reconstruction step and the phase-attention step all use it). `add_tag_tokens` makes the two tags whole
tokens of a tokenizer that would cut them into many pieces (the embedded tiny model's tokenizer is trained on
the task's text and splits `<reflection>` into 10 tokens); their new embedding rows start at the mean of the
pieces' rows, so the model's view of the tag does not change at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch

OPEN, CLOSE = "<reflection>", "</reflection>"
_ANSWER_LINE = re.compile(r"^[ \t]*answer\s*:[ \t]*\S[^\n]*$", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class Parts:
    reasoning: str  # everything before the opening tag
    reflection: str  # between the tags
    after: str  # after the closing tag: the answer


def split_response(text: str) -> Parts | None:
    """The three parts of a well-formed response, or None: exactly one opening tag, then one closing tag,
    non-empty reasoning without an answer line before the reflection, non-empty reflection, and after it
    exactly one non-empty `Answer:` line and nothing else."""
    if text.count(OPEN) != 1 or text.count(CLOSE) != 1:
        return None
    reasoning, rest = text.split(OPEN)
    if CLOSE not in rest:  # closing tag before the opening one
        return None
    reflection, after = rest.split(CLOSE)
    if not reasoning.strip() or not reflection.strip() or _ANSWER_LINE.search(reasoning):
        return None
    after = after.strip()
    if "\n" in after or not _ANSWER_LINE.fullmatch(after):
        return None
    return Parts(reasoning.strip(), reflection.strip(), after)


def strip_answer(text: str) -> tuple[str, str | None]:
    """(text before the last `Answer:` line, that line) of a response without the template: the reasoning
    and the answer of a plain chain. Without an answer line: (text, None)."""
    lines = text.rstrip().split("\n")
    for i in range(len(lines) - 1, -1, -1):
        if _ANSWER_LINE.fullmatch(lines[i]):
            return "\n".join(lines[:i]).strip(), lines[i].strip()
    return text.strip(), None


def reasoning_and_answer(text: str) -> tuple[str, str | None]:
    """(reasoning, last answer line) of any response, templated or not: the reasoning ends at the opening
    tag if there is one, else at the last answer line."""
    reasoning, answer = strip_answer(text)
    if OPEN in text:
        reasoning = text.split(OPEN)[0].strip()
    return reasoning, answer


def build_response(reasoning: str, reflection: str, answer_line: str) -> str:
    return f"{reasoning.strip()}\n{OPEN}\n{reflection.strip()}\n{CLOSE}\n{answer_line.strip()}"


# --- tag tokens -----------------------------------------------------------------------------------------

def tag_pieces(tokenizer) -> dict[str, list[int]]:
    return {t: tokenizer(t, add_special_tokens=False)["input_ids"] for t in (OPEN, CLOSE)}


def needs_tag_tokens(tokenizer, max_pieces: int = 3) -> bool:
    """True when a tag takes more than `max_pieces` tokens (real tokenizers: 3 or fewer; the tiny one: 10)."""
    return any(len(ids) > max_pieces for ids in tag_pieces(tokenizer).values())


@torch.no_grad()
def add_tag_tokens(model, tokenizer) -> list[int]:
    """Add both tags as whole (non-special) tokens; their input (and, if untied, output) embedding rows start
    at the mean of the rows of the pieces they replace. Returns the new ids ([] if already whole tokens)."""
    pieces = tag_pieces(tokenizer)
    if all(len(ids) == 1 for ids in pieces.values()):
        return []
    tokenizer.add_tokens([OPEN, CLOSE], special_tokens=False)
    new_ids = tokenizer.convert_tokens_to_ids([OPEN, CLOSE])
    if len(tokenizer) > model.get_input_embeddings().weight.shape[0]:
        model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    inp, out = model.get_input_embeddings().weight, model.get_output_embeddings().weight
    for tag, new in zip((OPEN, CLOSE), new_ids):
        inp[new] = inp[pieces[tag]].mean(0)
        if out.data_ptr() != inp.data_ptr():
            out[new] = out[pieces[tag]].mean(0)
    return new_ids
