"""R3V: the self-CoT / self-refine / self-select sets on a hand-made pool, the test-time metrics on hand values,
and VRE and R3V as methods of the loop on a tiny run (every step's files, and a resume that redoes nothing)."""

import json
import random
from importlib import resources
from pathlib import Path

import pytest

from vistakit.config import load_config
from vistakit.tasks.data import Query
from vistakit.loop import run
from vistakit.methods.r3v import REFINE, SELECT_ASK, build_examples, select_instruction, select_metrics
from vistakit.runfolder import read_jsonl


def _rec(qid, text, correct, pred=None, finished=True):
    return {"query_id": qid, "response": text, "token_ids": [len(text)], "correct": correct, "pred": pred,
            "finished": finished}


def test_r3v_sets_from_positive_negative_pairs():
    qs = {q: Query(q, f"How many {q}?", "2", [Path("x.png")], task="shapes") for q in ("a", "b", "c", "d")}
    pool = [
        _rec("a", "a-pos1", True, "2"), _rec("a", "a-neg1", False, "1"), _rec("a", "a-pos2", True, "2"),
        _rec("a", "a-neg2", False, "3"),                                   # 2 pos + 2 neg: both select kinds
        _rec("b", "b-pos1", True, "2"), _rec("b", "b-pos2", True, "2"),    # no negative: self-CoT only
        _rec("c", "c-neg1", False, "0"), _rec("c", "c-pos-unfinished", True, "2", finished=False),  # no positive
        _rec("d", "d-neg1", False, "5"), _rec("d", "d-pos1", True, "2"),   # 1 pos + 1 neg: refine, no select
    ]
    sets = build_examples(qs, pool, random.Random(0))
    cot = {e["query_id"]: e["response"] for e in sets["self_cot"]}
    assert cot == {"a": "a-pos2", "b": "b-pos2", "d": "d-pos1"}  # the latest positive, as R3V's code
    refine = {e["query_id"]: e for e in sets["refine"]}
    assert set(refine) == {"a", "d"}
    plain = 'How many a?\nList what you see, then answer as "Answer: <value>".'
    assert refine["a"]["instruction"] == REFINE.format(instruction=plain, prediction="a-neg2")
    assert refine["a"]["instruction"].endswith("\nModel's prediction:\na-neg2\nJudge the correctness of the model's prediction and refine it.")
    assert refine["a"]["response"] == "a-pos2" and refine["a"]["response_ids"] == [len("a-pos2")]
    select = sets["select"]
    assert [e["query_id"] for e in select] == ["a", "a"]
    mixes = []
    for e in select:
        assert e["instruction"].startswith(plain + "\nModel's prediction 1:\n") and e["instruction"].endswith(SELECT_ASK)
        listed = [line for line in e["instruction"].split("\n") if line.startswith("a-")]
        mixes.append(sorted(listed))
        assert e["response"] == "Answer: 2" and e["response_ids"] is None
    assert mixes == [["a-neg2", "a-pos1", "a-pos2"], ["a-neg1", "a-neg2", "a-pos2"]]


def test_select_instruction_lists_candidates():
    text = select_instruction("Q", ["x", "y", "z"])
    assert text == f"Q\nModel's prediction 1:\nx\nModel's prediction 2:\ny\nModel's prediction 3:\nz\n{SELECT_ASK}"


def test_select_metrics_hand_values():
    test = [Query(q, "?", "1", [Path("x.png")]) for q in ("a", "b")]
    c = lambda pred, ok: {"pred": pred, "correct": ok}
    candidates = {"a": [c("1", True), c("2", False), c("1", True)], "b": [c("3", False), c("3", False), c("1", True)]}
    picks = [{"correct": True}, {"correct": False}]
    m = select_metrics(test, candidates, picks)
    assert m == {"self_select_accuracy": 0.5, "majority_accuracy": 0.5, "candidate_accuracy": 0.5, "test_at_k": 1.0}


TINY = [
    "rounds=2", "seed_sft=true", "data.n_train=16", "data.n_seed=64", "data.n_test=8",
    "sampling.samples_per_query=4", "sampling.max_new_tokens=24", "sampling.queries_per_batch=8",
    "train.epochs=1", "train.examples_per_device_batch=4", "seed_train.epochs=12", "seed_train.learning_rate=0.003",
    "eval.max_new_tokens=24", "model.tiny_hidden_size=64", "model.tiny_layers=2",
    "vre.partition_samples=2", "vre.grpo.num_generations=2", "vre.grpo.queries_per_step=2", "vre.grpo.max_queries=4",
    "vre.hard_at=-1.0", "r3v.test_candidates=3",  # hard_at < 0: every query the tiny model fails is still RL data
]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    preset = resources.files("vistakit.presets") / "demo.yaml"
    root = tmp_path_factory.mktemp("vre-r3v")
    out = {}
    for method in ("vre", "r3v"):
        cfg = load_config(preset, TINY + [f"method={method}", f"run_dir={root / method}"])
        out[method] = (root / method, run(cfg), cfg)
    return out


def test_vre_round_files(runs):
    run_dir, history, cfg = runs["vre"]
    assert [h["round"] for h in history] == [0, 1, 2]
    tags = json.loads((run_dir / "round_0" / "tags" / "result.json").read_text())
    assert len(tags["tag_token_ids"]) == 2  # the tiny tokenizer splits the tags: they were added whole
    for t in (1, 2):
        r = run_dir / f"round_{t}"
        samples = read_jsonl(r / "sample" / "samples.jsonl")
        decisions = read_jsonl(r / "select" / "decisions.jsonl")
        assert len(decisions) == len(samples)
        assert all(d["kept"] == (d["reason"] == "kept") for d in decisions)
        assert all(d["train_response"].count("<reflection>") == 1 for d in decisions if d["kept"])
        rows = read_jsonl(r / "partition" / "partition.jsonl")
        assert len(rows) == 16 and all(row["n"] == 2 for row in rows)
        assert json.loads((r / "grpo" / "result.json").read_text())["queries"] == min(4, sum(row["label"] == "unstable" for row in rows))
        assert (r / "sft_eval" / "metrics.json").exists() and (r / "phases" / "summary.json").exists()
        assert history[t]["model"].endswith(f"round_{t}/grpo/model")
        assert {"format_rate", "phase_S", "sft_accuracy", "partition"} <= set(history[t])
    assert (run_dir / "phase_attention.png").exists()
    assert (run_dir / "round_0" / "phases" / "summary.json").exists()  # M_0's plain responses: the reference


def test_r3v_round_files(runs):
    run_dir, history, cfg = runs["r3v"]
    for t in (1, 2):
        r = run_dir / f"round_{t}"
        counts = json.loads((r / "r3v" / "counts.json").read_text())
        assert counts == {k: len(read_jsonl(r / "r3v" / f"{k}.jsonl")) for k in ("self_cot", "refine", "select")}
        assert {"self_select_accuracy", "test_at_k", "majority_accuracy"} <= set(history[t])
        assert len(read_jsonl(r / "self_select" / "candidates" / "samples.jsonl")) == 3 * 8
    # the pool grows: every query with a round-1 positive has a self-CoT example in round 2, even where round 2
    # sampled no positive for it, and every example is a sample of round 1 or 2
    cot = {t: read_jsonl(run_dir / f"round_{t}" / "r3v" / "self_cot.jsonl") for t in (1, 2)}
    assert cot[1] and {e["query_id"] for e in cot[1]} <= {e["query_id"] for e in cot[2]}
    sampled = {(r["query_id"], r["response"]) for t in (1, 2)
               for r in read_jsonl(run_dir / f"round_{t}" / "sample" / "samples.jsonl") if r["correct"]}
    assert all((e["query_id"], e["response"]) in sampled for e in cot[2])


@pytest.mark.parametrize("method", ["vre", "r3v"])
def test_rerun_resumes_without_redoing_anything(runs, method, monkeypatch):
    run_dir, history, cfg = runs[method]

    def refuse(*a, **k):
        raise AssertionError("a finished run must not load a model again")

    monkeypatch.setattr("vistakit.context.load", refuse)
    monkeypatch.setattr("vistakit.vre.steps.load", refuse)
    assert [h["accuracy"] for h in run(cfg)] == [h["accuracy"] for h in history]
