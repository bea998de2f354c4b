"""The embedded default really learns, and its diagnostics are there: the demo (seed 0) end to end as a user
runs it, SFT-Seed then ReST-EM and VISTA-SFT (side by side) from the same seed model. ~14.5 min on 2 cores."""

import json

import pytest

from vistakit.cli import main
from vistakit.runfolder import read_jsonl
from vistakit.tasks.shapes import chance_accuracy


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("demo")
    assert main(["demo", "--run-dir", str(run_dir)]) == 0
    return run_dir


@pytest.mark.slow
def test_demo_learns_and_rest_em_does_not_collapse(demo):
    """On seed 0 of the current preset self-training does not beat its seed model (2 threads: 0.655 -> 0.611;
    one thread 0.635 -> 0.618; seeds 1, 2 gain +4.0, +2.1, docs/results.md), so this guards against a
    collapse (VISTA-DPO's drift was 5-10 points), not for a gain."""
    seed = json.loads((demo / "sft-seed" / "metrics.json").read_text())[0]
    rest = json.loads((demo / "rest-em" / "metrics.json").read_text())
    chance = chance_accuracy(read_jsonl(demo / "sft-seed" / "data" / "test.jsonl"))
    assert seed["accuracy"] > chance + 0.25  # seed 0: 0.655 against chance 0.297
    assert rest[0]["accuracy"] == seed["accuracy"]  # round 0 of the method is the shared seed model
    assert rest[-1]["round"] == 3 and rest[-1]["accuracy"] > seed["accuracy"] - 0.07
    assert (demo / "report_plots" / "accuracy.png").exists() and (demo / "report.html").exists()


@pytest.mark.slow
def test_demo_prints_the_organism_diagnostics(demo):
    """M_0's probes are written and say the swapped query is in distribution (both prompt orders in the seed
    SFT); VISTA's round 1 carries the critical-token control, the two-pass label and the detectors."""
    seed = json.loads((demo / "sft-seed" / "metrics.json").read_text())[0]
    probes = seed["probes"]
    # seed 0 (one thread): 0.630 vs 0.613 and p(first token) 0.80 -> 0.77; image-first seed SFT: 0.597 vs 0.203, 0.79 -> 0.30
    assert abs(probes["accuracy"]["true"] - probes["accuracy"]["swapped"]) < 0.1
    assert probes["first_token_prob"]["swapped"] > 0.8 * probes["first_token_prob"]["original"]
    vista = json.loads((demo / "vista-sft" / "metrics.json").read_text())
    r1 = vista[1]
    assert r1["kept_by_source"].get("prefix", 0) > 0  # seed 0 (one thread): 10 zero-positive queries rescued in round 1
    assert r1["critical_fire_rate"] is not None and r1["control_fire_rate"] is not None
    # the guess mode is sampled (seed 0: 18% of round 1's samples) and every positive has both labels
    assert r1["vas_auroc_two_pass"] is not None and r1["sample_no_look"] > 0.05
    assert (demo / "vista-sft" / "round_1" / "filter" / "two_pass.jsonl").exists()
