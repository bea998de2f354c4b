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


class _Killed(BaseException):
    pass


def test_a_step_killed_right_after_a_checkpoint_resumes_to_the_same_loss(tiny_path, tiny, tmp_path, monkeypatch):
    """The kill lands just after the Trainer wrote a checkpoint (trainer_state.json: complete) and before
    anything else ran: the resumed step must still report the whole step's mean loss (CI hit this window)."""
    import json

    from transformers import Trainer

    _, processor = tiny
    img = tmp_path / "img.png"
    Image.new("RGB", (84, 84), (230, 40, 40)).save(img)
    response = "red circle: 1\nAnswer: 1"
    examples = [{"instruction": "How many red shapes are there?", "images": [str(img)], "response": response,
                 "response_ids": response_ids(processor.tokenizer, response, add_eos=False)}] * 8
    cfg = TrainConfig(epochs=3, learning_rate=3e-3, examples_per_device_batch=4)
    train_sft(tiny_path, examples, tmp_path / "ref", cfg)
    expected = json.loads((tmp_path / "ref" / "train_log.json").read_text())["train_loss"]

    save = Trainer._save_checkpoint

    def save_then_die(self, model, trial):
        save(self, model, trial)
        if self.state.global_step == 4:  # the end of epoch 2 of 3
            raise _Killed

    monkeypatch.setattr(Trainer, "_save_checkpoint", save_then_die)
    try:
        train_sft(tiny_path, examples, tmp_path / "killed", cfg)
        raise AssertionError("the step should have been killed")
    except _Killed:
        pass
    monkeypatch.setattr(Trainer, "_save_checkpoint", save)
    assert (tmp_path / "killed" / "checkpoints" / "checkpoint-4" / "trainer_state.json").exists()
    train_sft(tiny_path, examples, tmp_path / "killed", cfg)
    got = json.loads((tmp_path / "killed" / "train_log.json").read_text())["train_loss"]
    assert abs(got - expected) < 1e-6 * max(1.0, abs(expected)), (got, expected)


def test_a_torn_trainer_state_is_not_a_complete_checkpoint(tmp_path):
    from vistakit.training.sft import last_complete_checkpoint

    for step, text in ((2, '{"global_step": 2}'), (4, '{"global_st')):
        (tmp_path / f"checkpoint-{step}").mkdir()
        (tmp_path / f"checkpoint-{step}" / "trainer_state.json").write_text(text)
    assert last_complete_checkpoint(tmp_path) == str(tmp_path / "checkpoint-2")
    assert not (tmp_path / "checkpoint-4").exists()  # cleaned


def test_loading_sampling_and_training_print_no_library_noise(tiny_path, tmp_path, image, capfd):
    """What a demo's console used to show: transformers' warnings about vistakit's own settings (a processor
    naming a deprecated image_processor_class, a top_k that greedy decoding ignores, checkpoints ordered by
    file time) and the Trainer's dict per logging step. Now: a progress line of the training step."""
    import logging

    import transformers.utils.logging

    transformers.utils.logging.warning_once.cache_clear()  # each warning again, whatever ran before
    warned = logging.Handler()  # transformers' own handler holds the stderr of its import, which capfd misses
    warned.emit = lambda record: said.append(record.getMessage())
    said: list[str] = []
    logging.getLogger("transformers").addHandler(warned)
    model, processor = load(tiny_path)
    greedy = HFBackend(model, processor).generate([render_query(processor, "Is there a red circle?")], [[image]],
                                                  samples_per_query=1, temperature=0.0, max_new_tokens=4, seed=0)
    assert len(greedy[0]) == 1
    image.save(tmp_path / "img.png")
    examples = [{"instruction": "How many red shapes are there?", "images": [str(tmp_path / "img.png")],
                 "response": "Answer: 1"}] * 4
    train_sft(tiny_path, examples, tmp_path / "train", TrainConfig(epochs=3, examples_per_device_batch=2,
                                                                   logging_steps=1))
    logging.getLogger("transformers").removeHandler(warned)
    out, err = capfd.readouterr()
    assert "{'loss'" not in out + err and "train_runtime" not in out + err
    assert not said, said  # e.g. "... defines image_processor_class ... deprecated", "generation flags are not valid"
    assert "training: 6/6 steps" in err and ", loss " in err
