"""The embedded default really learns: the demo (seed 0) end to end, as a user runs it. ~10 min on 2 cores."""

import json

import pytest

from vistakit.cli import main
from vistakit.runfolder import read_jsonl
from vistakit.tasks.shapes import chance_accuracy


@pytest.mark.slow
def test_demo_learns_and_rest_em_improves(tmp_path):
    assert main(["demo", "--run-dir", str(tmp_path)]) == 0
    seed = json.loads((tmp_path / "sft-seed" / "metrics.json").read_text())[0]
    rest = json.loads((tmp_path / "rest-em" / "metrics.json").read_text())
    chance = chance_accuracy(read_jsonl(tmp_path / "sft-seed" / "data" / "test.jsonl"))
    assert seed["accuracy"] > chance + 0.15
    assert rest[0]["accuracy"] == seed["accuracy"]  # round 0 of the method is the shared seed model
    assert rest[-1]["round"] == 3 and rest[-1]["accuracy"] > seed["accuracy"] + 0.02
    assert (tmp_path / "accuracy.png").exists()
