"""VISTA methods end to end on a tiny run: every step's files are there and agree with each other."""

import json
from importlib import resources

import pytest

from vistakit.config import load_config
from vistakit.loop import run
from vistakit.runfolder import read_jsonl
from vistakit.steps import with_samples

TINY = [
    "rounds=1", "seed_sft=true", "data.n_train=16", "data.n_seed=64", "data.n_test=8",
    "sampling.samples_per_query=4", "sampling.max_new_tokens=24", "sampling.queries_per_batch=4",
    "train.epochs=1", "train.examples_per_device_batch=4", "seed_train.epochs=12", "seed_train.learning_rate=0.003",
    "eval.max_new_tokens=24", "model.tiny_hidden_size=64", "model.tiny_layers=2", "vista.sequences_per_scoring_batch=8",
]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    preset = resources.files("vistakit.presets") / "demo.yaml"
    root = tmp_path_factory.mktemp("vista")
    out = {}
    organism = ["diagnostics.queries=8", "vista.control_positives=6", "vista.calibration_queries=8"]
    for method, extra in (("vista-dpo", ["vista.vas_layers=auto"]), ("prefix-only", [])):
        cfg = load_config(preset, TINY + organism + extra + [f"method={method}", f"run_dir={root / method}"])
        out[method] = (root / method, run(cfg))
    return out


def test_vista_dpo_round_files(runs):
    run_dir, history = runs["vista-dpo"]
    r1 = run_dir / "round_1"
    samples = read_jsonl(r1 / "sample" / "samples.jsonl")
    critical = read_jsonl(r1 / "prefix" / "critical.jsonl")
    assert len(critical) == sum(not s["correct"] for s in samples)  # every negative was scored
    resampled = read_jsonl(r1 / "prefix" / "samples.jsonl")
    assert all(r["source"] == "prefix" for r in resampled)
    decisions = read_jsonl(r1 / "select" / "decisions.jsonl")
    assert len(decisions) == len(samples) + len(resampled)  # nothing lost: every sample has a decision
    scored = [d for d in decisions if "vas" in d]
    assert len(scored) == len(read_jsonl(r1 / "filter" / "vas.jsonl"))
    assert all(d["kept"] == (d["vas"] >= -0.5) for d in scored)
    assert {d["reason"] for d in decisions} <= {"kept", "incorrect", "unfinished", "low_vas"}
    pairs = read_jsonl(r1 / "train" / "reference.jsonl")
    assert len(pairs) == sum(d["kept"] for d in decisions)
    # a sample's text and ids are stored once, in the folder of the step that made it; the train set's pairs
    # are the kept ones, each with a negative of its own query
    assert not {"token_ids", "response"} & set().union(*decisions)
    joined = with_samples(r1)
    train_set = read_jsonl(r1 / "select" / "train_set.jsonl")
    assert [p["chosen_ids"] for p in train_set] == [d["token_ids"] for d in joined if d["kept"]]
    negatives = {(d["query_id"], d["source"], d["sample"]) for d in joined if not d["correct"]}
    assert all(p["rejected_sample"] is None or (p["query_id"], p["rejected_sample"]["source"],
                                                 p["rejected_sample"]["sample"]) in negatives for p in train_set)
    # the pairs load as a dataset in TRL's conversational preference format
    from datasets import load_dataset
    from trl.data_utils import is_conversational

    ds = load_dataset("json", data_files=str(r1 / "select" / "train_set.jsonl"), split="train")
    assert {"prompt", "chosen", "rejected", "images"} <= set(ds.column_names) and is_conversational(ds[0])
    assert ds[0]["chosen"][0]["content"][0]["text"] == joined[[d["kept"] for d in joined].index(True)]["response"]
    diag = json.loads((r1 / "select" / "diagnostics.json").read_text())
    for level in diag["zero_positive_by_level"].values():
        assert level["zero_after"] <= level["zero_before"] <= level["queries"]
    samples = read_jsonl(r1 / "sample" / "samples.jsonl")  # the K samples only, not the prefix rescues
    assert diag["diversity"]["distinct_samples"] == len({(s["query_id"], s["response"]) for s in samples})
    assert history[-1]["one_text_queries"] == diag["diversity"]["one_text_queries"]  # metrics.json carries it
    assert history[-1]["zero_positive_after"] <= history[-1]["zero_positive_before"]


def test_prefix_only_keeps_every_correct_sample(runs):
    run_dir, _ = runs["prefix-only"]
    decisions = read_jsonl(run_dir / "round_1" / "select" / "decisions.jsonl")
    assert all(d["kept"] == (d["correct"] and d["finished"]) for d in decisions)
    assert not (run_dir / "round_1" / "filter").exists()


def test_vas_cache_of_other_positives_is_refused(runs, tmp_path):
    """A cached vas.jsonl is used only for the positives it was scored on, in their order."""
    from vistakit.vista.vas_filter import vas_filter
    from vistakit.runfolder import write_jsonl

    run_dir, _ = runs["vista-dpo"]
    r1 = run_dir / "round_1"
    cached = read_jsonl(r1 / "filter" / "vas.jsonl")
    positives = [dict(d, kept=True) for d in cached]  # the keys the cache was written for
    out = tmp_path / "filter"
    write_jsonl(out / "vas.jsonl", cached)
    kept = vas_filter(None, None, {}, positives, out, layers=None, tau=-0.5, batch_size=8, system=None)
    assert [d["vas_ratio"] for d in kept] == [c["vas_ratio"] for c in cached]  # read, not rescored (no model)
    first = next(i for i, c in enumerate(cached) if (c["query_id"], c["sample"]) != (cached[0]["query_id"], cached[0]["sample"]))
    swapped = [cached[first]] + cached[1:first] + [cached[0]] + cached[first + 1:]
    write_jsonl(out / "vas.jsonl", swapped)
    with pytest.raises(RuntimeError, match="scores of other positives"):
        vas_filter(None, None, {}, positives, out, layers=None, tau=-0.5, batch_size=8, system=None)


def test_organism_diagnostics_are_written(runs):
    """Probes of M_0 and M_1, the critical-token control, the two-pass label of every positive, the calibrated
    VAS layer, and the detectors' AUROCs, each where the loop says it is."""
    run_dir, history = runs["vista-dpo"]
    for t in (0, 1):
        probes = json.loads((run_dir / f"round_{t}" / "probes" / "probes.json").read_text())
        assert probes["queries"] == 8 and set(probes["accuracy"]) == {"true", "shuffled", "blank", "swapped"}
        assert history[t]["probes"] == probes
        assert len(read_jsonl(run_dir / f"round_{t}" / "probes" / "swapped" / "samples.jsonl")) == 8
    r1 = run_dir / "round_1"
    control = read_jsonl(r1 / "prefix" / "critical_control.jsonl")
    samples = {(s["query_id"], s["sample"]): s for s in read_jsonl(r1 / "sample" / "samples.jsonl")}
    assert 0 < len(control) <= 6
    assert all(samples[(c["query_id"], c["parent_sample"])]["correct"] for c in control)
    decisions = read_jsonl(r1 / "select" / "decisions.jsonl")
    labelled = [d for d in decisions if "two_pass_delta" in d]
    assert len(labelled) == len(read_jsonl(r1 / "filter" / "two_pass.jsonl")) == len([d for d in decisions if "vas" in d])
    assert all(d["two_pass_looked"] == (d["two_pass_delta"] > 1.0) for d in labelled)
    layers = json.loads((r1 / "filter" / "vas_layers.json").read_text())
    assert len(layers["per_layer_auroc"]) == 2 and len(layers["chosen"]) == 1 and layers["why"]
    diag = json.loads((r1 / "select" / "diagnostics.json").read_text())
    assert "control_grounded_correct" in diag["critical_tokens"]
    assert sum(diag["critical_tokens"]["position_histogram"].values()) == diag["critical_tokens"]["with_critical_token"]
    rare = diag["critical_tokens"]["rare_start"]  # from the round's own samples
    assert rare["threshold"] == 0.01 and 0 <= rare["negatives"] <= diag["critical_tokens"]["negatives"]
    assert diag["shares"]["kept"]["n"] == sum(d["kept"] for d in decisions)
    assert history[1]["critical_fire_rate"] == diag["critical_tokens"]["fire_rate"]
    seed_rows = read_jsonl(run_dir / "data" / "seed.jsonl")
    assert any(r["cot_source"] == "guess" for r in seed_rows)  # the demo preset's language-prior pathway


def test_seed_examples_come_in_both_orders():
    from vistakit.tasks.data import Query
    from vistakit.steps import example, seed_rows

    seed = [Query(f"q{i}", "How many?", "1", [], cot="Answer: 1") for i in range(400)]
    rows = seed_rows(seed, 0.5, run_seed=0)
    examples = [example(q, r) for q, r in zip(seed, rows)]
    swapped = sum(e.get("image_first") is False for e in examples)
    assert 160 < swapped < 240
    assert seed_rows(seed, 0.5, run_seed=0) == rows  # seeded
    assert all("image_first" not in example(q, r) for q, r in zip(seed, seed_rows(seed, 0.0, run_seed=0)))
