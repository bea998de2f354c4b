import json
import math

import pytest
import torch

from vistakit.training.losses import dpo_nll_loss
from vistakit.training.dpo import PairCollator, pair_logprobs, train_dpo
from vistakit.training.sft import TrainConfig


def test_dpo_nll_loss_hand_computed():
    chosen, length = torch.tensor([-10.0, -3.0]), torch.tensor([5, 3])
    rejected, ref_c, ref_r = torch.tensor([-12.0, 0.0]), torch.tensor([-11.0, -4.0]), torch.tensor([-11.0, 0.0])
    paired = torch.tensor([True, False])
    loss, stats = dpo_nll_loss(chosen, length, rejected, ref_c, ref_r, paired, beta=0.1, alpha=0.5)
    # pair 0: margin 0.1 * ((-10 + 11) - (-12 + 11)) = 0.2; DPO = log(1 + e^-0.2); NLL = mean(10/5, 3/3)
    dpo = math.log1p(math.exp(-0.2))
    assert stats["dpo"].item() == pytest.approx(dpo, abs=1e-6)
    assert stats["nll"].item() == pytest.approx(1.5, abs=1e-6)
    assert loss.item() == pytest.approx(dpo + 0.5 * 1.5, abs=1e-6)
    # no pair in the batch: NLL only
    loss, _ = dpo_nll_loss(chosen, length, rejected, ref_c, ref_r, torch.tensor([False, False]), 0.1, 0.5)
    assert loss.item() == pytest.approx(0.75, abs=1e-6)


def _examples(processor, image_path):
    tok = processor.tokenizer
    ids = lambda s: tok(s, add_special_tokens=False)["input_ids"]
    ex = lambda c, r: {"instruction": "How many red shapes are there?", "images": [str(image_path)],
                       "chosen_ids": ids(c), "rejected_ids": ids(r) if r else None}
    return [ex("count 1\nAnswer: 1", "count 2\nAnswer: 2"), ex("red circle\nAnswer: 1", None),
            ex("count 1\nAnswer: 1", "blue square\nAnswer: 3")]


def test_pair_logprobs_match_single_sequences(tiny, image, tmp_path):
    """Positives and negatives share one padded batch; each row's log-prob equals the row scored alone."""
    from vistakit.training.sft import ExampleCollator
    from vistakit.training.losses import sequence_logprobs

    model, processor = tiny
    image.save(tmp_path / "im.png")
    examples = _examples(processor, tmp_path / "im.png")
    with torch.no_grad():
        chosen, length, rejected = pair_logprobs(model, PairCollator(processor)(examples))
        single = ExampleCollator(processor)
        for i, e in enumerate(examples):
            for ids, value in [(e["chosen_ids"], chosen[i]), (e["rejected_ids"], rejected[i])]:
                if ids is None:
                    assert value == 0
                    continue
                b = single([{"instruction": e["instruction"], "images": e["images"], "response": "", "response_ids": ids}])
                lp, n = sequence_logprobs(model(**{k: v for k, v in b.items() if k != "labels"}).logits, b["labels"])
                assert value.item() == pytest.approx(lp.item(), abs=1e-4)
    assert length.tolist() == [len(e["chosen_ids"]) + 1 for e in examples]  # + end-of-turn


def test_train_dpo_separates_pairs(tiny_path, image, tmp_path):
    from vistakit.models.load import load

    _, processor = load(tiny_path)
    image.save(tmp_path / "im.png")
    examples = _examples(processor, tmp_path / "im.png")
    cfg = TrainConfig(epochs=8, learning_rate=3e-3, examples_per_device_batch=3, logging_steps=1, warmup_ratio=0.0)
    out = train_dpo(tiny_path, examples, tmp_path / "dpo", cfg)
    ref = [json.loads(l) for l in (tmp_path / "dpo" / "reference.jsonl").read_text().splitlines()]
    assert [r["ref_rejected"] is None for r in ref] == [False, True, False]
    history = json.loads((tmp_path / "dpo" / "train_log.json").read_text())["history"]
    # first step: policy == reference, so DPO = log 2 exactly; training drives the margins positive
    assert history[0]["dpo"] == pytest.approx(math.log(2), abs=1e-4)
    assert history[-1]["dpo"] < 0.6 and history[-1]["reward_accuracy"] == 1.0
    model, _ = load(out)
    with torch.no_grad():
        chosen, _, rejected = pair_logprobs(model, PairCollator(processor)(examples))
    for i in (0, 2):
        assert chosen[i] - ref[i]["ref_chosen"] > rejected[i] - ref[i]["ref_rejected"]
