import pytest
import torch

from vistakit.models.inputs import encode, render_query, response_ids
from vistakit.models.segments import find_segments, vision_token_ids


@pytest.mark.parametrize("padding_side", ["left", "right"])
def test_segments_token_by_token(tiny, image, padding_side):
    model, processor = tiny
    tok = processor.tokenizer
    prompts = [render_query(processor, "How many red shapes are there?"), render_query(processor, "Is there a green triangle?")]
    responses = [response_ids(tok, "red circle at top left\nAnswer: 1"), response_ids(tok, "Answer: no")]
    batch = encode(processor, prompts, [[image], [image]], responses, padding_side=padding_side)
    vis_ids = vision_token_ids(model.config)
    ids, mask = batch.inputs["input_ids"], batch.inputs["attention_mask"]
    for row, seg in enumerate(batch.segments(vis_ids)):
        toks = tok.convert_ids_to_tokens(ids[row].tolist())
        (s0, s1), = seg.sys
        assert toks[s0] == "<|im_start|>" and toks[s1 - 1] == "Ċ" and "<|im_end|>" in toks[s0:s1]
        assert (s0 == 0) == (padding_side == "right" or mask[row, 0] == 1)
        assert all(mask[row, :s0] == 0)
        (v0, v1), = seg.vis
        assert toks[v0:v1] == ["<|vision_start|>"] + ["<|image_pad|>"] * 9 + ["<|vision_end|>"]
        (i0, i1), = seg.ins
        assert i0 == v1
        # the instruction, end of user turn, then the assistant header, and nothing else
        assert tok.decode(ids[row, i0:i1]) == prompts[row].split("<|vision_end|>")[1]
        r0, r1 = seg.response
        assert r0 == i1 and ids[row, r0:r1].tolist() == responses[row]
        assert all(mask[row, r1:] == 0) and all(mask[row, s0:r1] == 1)
        # labels cover the response (end-of-turn included) and nothing else
        labelled = (batch.labels[row] != -100).nonzero().flatten().tolist()
        assert labelled == list(range(r0, r1))


def test_text_between_images_is_ins():
    """vis = the runs of vision tokens only; text between two images joins ins (models/segments.py)."""
    #                  pad sys  sys  V  V  text V  ins ins resp resp
    ids = torch.tensor([0, 5, 5, 9, 9, 6, 9, 7, 7, 8, 8])
    mask = torch.tensor([0] + [1] * 10)
    seg = find_segments(ids, mask, 9, frozenset({9}))
    assert seg.sys == ((1, 3),) and seg.vis == ((3, 5), (6, 7)) and seg.ins == ((5, 6), (7, 9))
    assert seg.response == (9, 11) and seg.columns("ins") == [5, 7, 8]
    # a prompt that opens with the image has an empty sys
    seg = find_segments(ids[3:], mask[3:], 6, frozenset({9}))
    assert seg.sys == ((0, 0),) and seg.columns("sys") == [] and seg.vis == ((0, 2), (3, 4))


def test_segments_need_vision_tokens():
    ids = torch.tensor([5, 6, 7, 8])
    with pytest.raises(ValueError, match="no vision tokens"):
        find_segments(ids, torch.ones(4), 3, frozenset({99}))


def test_unknown_family_is_a_clear_error():
    class Cfg:
        model_type = "gpt2"

    with pytest.raises(NotImplementedError, match="gpt2"):
        vision_token_ids(Cfg())


def test_padded_batch_matches_single_rows(tiny, image):
    """Left padding must not change a row's logits (position ids and masks are right)."""
    model, processor = tiny
    tok = processor.tokenizer
    prompts = [render_query(processor, "How many red shapes are there?"), render_query(processor, "Is there?")]
    responses = [response_ids(tok, "Answer: 1"), response_ids(tok, "Answer: yes yes yes")]
    batch = encode(processor, prompts, [[image], [image]], responses)
    with torch.no_grad():
        both = model(**batch.inputs).logits
        for row in range(2):
            single = encode(processor, [prompts[row]], [[image]], [responses[row]])
            one = model(**single.inputs).logits[0]
            n = one.shape[0]
            torch.testing.assert_close(both[row, -n:], one, atol=1e-4, rtol=1e-4)
