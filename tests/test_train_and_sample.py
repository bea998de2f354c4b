import torch
from PIL import Image

from vistakit.training.losses import sft_loss
from vistakit.models.inputs import encode, render_query, response_ids
from vistakit.models.load import load
from vistakit.sampling.hf_backend import HFBackend
from vistakit.training.sft import TrainConfig, train_sft


def _loss(model_path, processor, image_path, response):
    model, _ = load(model_path)
    batch = encode(processor, [render_query(processor, "How many red shapes are there?")],
                   [[Image.open(image_path).convert("RGB")]], [response_ids(processor.tokenizer, response)])
    with torch.no_grad():
        return float(sft_loss(model(**batch.inputs).logits, batch.labels))


def test_sft_step_lowers_the_loss_and_trains_generated_ids(tiny_path, tiny, tmp_path):
    _, processor = tiny
    img = tmp_path / "img.png"
    Image.new("RGB", (84, 84), (230, 40, 40)).save(img)
    response = "red circle: 1\nAnswer: 1"
    ids = response_ids(processor.tokenizer, response, add_eos=False)
    examples = [{"instruction": "How many red shapes are there?", "images": [str(img)], "response": response,
                 "response_ids": ids}] * 8
    before = _loss(tiny_path, processor, img, response)
    out = train_sft(tiny_path, examples, tmp_path / "train", TrainConfig(epochs=3, learning_rate=3e-3,
                                                                          examples_per_device_batch=4))
    after = _loss(out, processor, img, response)
    assert after < before - 1.0
    assert not (tmp_path / "train" / "checkpoints").exists()  # removed once the model is saved


def test_sampling_is_seeded_and_continues_prefixes(tiny, image):
    model, processor = tiny
    backend = HFBackend(model, processor)
    prompts = [render_query(processor, "Is there a green triangle?")] * 2
    args = dict(samples_per_query=3, temperature=1.0, max_new_tokens=8)
    a = backend.generate(prompts, [[image], [image]], seed=5, **args)
    b = backend.generate(prompts, [[image], [image]], seed=5, **args)
    c = backend.generate(prompts, [[image], [image]], seed=6, **args)
    assert [[g.token_ids for g in q] for q in a] == [[g.token_ids for g in q] for q in b]
    assert [[g.token_ids for g in q] for q in a] != [[g.token_ids for g in q] for q in c]
    prefix = response_ids(processor.tokenizer, "red circle", add_eos=False)
    d = backend.generate(prompts, [[image], [image]], seed=5, prefixes=[prefix, prefix], **args)
    assert all(g.token_ids[: len(prefix)] == prefix and g.text.startswith("red circle") for q in d for g in q)
    greedy = backend.generate(prompts[:1], [[image]], samples_per_query=1, temperature=0.0, max_new_tokens=8, seed=0)
    again = backend.generate(prompts[:1], [[image]], samples_per_query=1, temperature=0.0, max_new_tokens=8, seed=9)
    assert greedy[0][0].token_ids == again[0][0].token_ids


def test_sampling_never_emits_image_placeholders(tiny, image):
    """A model that prefers <|image_pad|> everywhere still gets text-only responses, and encoding a response
    that holds one stops with a clear error instead of a shape mismatch deep in the model."""
    import copy

    import pytest

    from vistakit.models.inputs import encode, render_query
    from vistakit.models.segments import vision_token_ids
    from vistakit.sampling.hf_backend import HFBackend

    model, processor = tiny
    model = copy.deepcopy(model)
    pad = model.config.image_token_id
    with torch.no_grad():
        model.lm_head.weight[pad] *= 50  # tied: the lm head row of the image placeholder dominates
    prompt = render_query(processor, "How many red shapes are there?")
    gens = HFBackend(model, processor).generate([prompt], [[image]], 4, 1.0, 12, seed=0)
    ids = [t for g in gens[0] for t in g.token_ids]
    assert ids and not set(ids) & vision_token_ids(model.config)
    with pytest.raises(ValueError, match="image placeholder"):
        encode(processor, [prompt], [[image]], [[pad, 5]])


def test_frozen_parts_keep_their_weights(tiny_path, tiny, tmp_path):
    """`train.frozen`: the vision tower and projector leave training unchanged, the language model does not."""
    from vistakit.models.parts import part_of

    _, processor = tiny
    img = tmp_path / "img.png"
    Image.new("RGB", (84, 84), (40, 80, 230)).save(img)
    examples = [{"instruction": "How many blue shapes are there?", "images": [str(img)],
                 "response": "blue shapes: 1\nAnswer: 1"}] * 4
    out = train_sft(tiny_path, examples, tmp_path / "train", TrainConfig(
        epochs=2, learning_rate=3e-3, examples_per_device_batch=4, frozen=["vision_tower", "projector"]))
    before, after = (dict(load(p)[0].named_parameters()) for p in (tiny_path, out))
    changed = {n for n in before if not torch.equal(before[n], after[n])}
    assert changed and all(part_of(n) is None for n in changed)
    assert any(part_of(n) == "projector" for n in before) and any(part_of(n) == "vision_tower" for n in before)
