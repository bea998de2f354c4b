"""The embedded default really learns: the demo (seed 0) end to end, as a user runs it, then one VISTA round
from the same seed model. ~15 min on 2 cores."""

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
def test_demo_learns_and_rest_em_improves(demo):
    seed = json.loads((demo / "sft-seed" / "metrics.json").read_text())[0]
    rest = json.loads((demo / "rest-em" / "metrics.json").read_text())
    chance = chance_accuracy(read_jsonl(demo / "sft-seed" / "data" / "test.jsonl"))
    assert seed["accuracy"] > chance + 0.15
    assert rest[0]["accuracy"] == seed["accuracy"]  # round 0 of the method is the shared seed model
    assert rest[-1]["round"] == 3 and rest[-1]["accuracy"] > seed["accuracy"] + 0.02
    assert (demo / "accuracy.png").exists()


@pytest.mark.slow
def test_vista_round_rescues_queries_and_filters_positives(demo, tmp_path):
    """Measured on seed 0: prefix resampling takes the queries without a positive from ~410 to ~245, and
    the VAS cut (tau -0.5 on within-query z-scores) drops about a quarter of the positives."""
    from importlib import resources

    preset = resources.files("vistakit.presets") / "demo.yaml"
    assert main(["run", str(preset), "method=vista-sft", "rounds=1", f"run_dir={tmp_path}",
                 f"model.base={demo / 'sft-seed' / 'round_0' / 'train' / 'model'}",
                 f"data.path={demo / 'sft-seed' / 'data'}"]) == 0
    r1 = json.loads((tmp_path / "metrics.json").read_text())[1]
    assert r1["zero_positive_after"] < 0.8 * r1["zero_positive_before"]
    assert r1["kept_by_source"]["prefix"] > 500
    positives = r1["kept"] + r1["vas_dropped"]
    assert 0.1 < r1["vas_dropped"] / positives < 0.4
