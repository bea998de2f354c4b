"""Experiment tracking (`tracking.report_to`): a tiny run logs its training steps' loss and learning rate and
its rounds' metrics to TensorBoard, read back from the event files equal to train_log.json and metrics.json;
a step under `train.launcher` logs too; a resumed run logs no round twice; report_to none writes nothing."""

import json
import subprocess
import sys

import pytest

from vistakit.config import ConfigError, load_config
from vistakit.evaluation.tracking import log_round, round_scalars, step_tracking, trainer_arguments
from vistakit.loop import run

from test_methods import TINY


def events(folder, tag):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder))
    acc.Reload()
    return [(e.step, e.value) for e in acc.Scalars(tag)]


def scalars(folder, tag):
    logged = events(folder, tag)
    assert len({step for step, _ in logged}) == len(logged), f"{tag}: a step logged twice: {logged}"
    return dict(logged)


def test_a_tiny_run_logs_training_and_rounds_to_tensorboard(tmp_path):
    pytest.importorskip("tensorboard")
    run_dir = tmp_path / "run"
    overrides = TINY + [f"run_dir={run_dir}", "method=rest-em", "tracking.report_to=tensorboard",
                        "seed_train.logging_steps=4", "train.logging_steps=1",
                        "train.launcher=python"]  # round 1 trains in a subprocess: its settings travel in train_inputs.json
    history = run(load_config(None, overrides))
    tracking = run_dir / "tracking"

    for step in ("round_0/train", "round_1/train"):
        logged = json.loads((run_dir / step / "train_log.json").read_text())["history"]
        assert logged, step
        loss, lr = scalars(tracking / step, "train/loss"), scalars(tracking / step, "train/learning_rate")
        assert loss == pytest.approx({h["step"]: h["loss"] for h in logged}, rel=1e-6), step
        assert lr == pytest.approx({h["step"]: h["learning_rate"] for h in logged}, rel=1e-6), step
    inputs = json.loads((run_dir / "round_1" / "train" / "train_inputs.json").read_text())
    assert inputs["tracking"]["step"] == "round_1/train" and inputs["tracking"]["report_to"] == "tensorboard"

    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert scalars(tracking / "rounds", "accuracy") == pytest.approx({m["round"]: m["accuracy"] for m in metrics})
    level = next(iter(metrics[0]["by_level"]))
    assert scalars(tracking / "rounds", f"by_level/{level}/accuracy") == pytest.approx(
        {m["round"]: m["by_level"][level]["accuracy"] for m in metrics})
    assert scalars(tracking / "rounds", "kept") == {1: metrics[1]["kept"]}  # round 0 samples nothing
    assert set(round_scalars(metrics[1])) >= {"accuracy", "kept", "samples", "queries_with_positive"}

    # resumed (everything done): rounds already logged with the same numbers are not logged twice; a round
    # whose numbers changed (here: edited in rounds.json, as if the round had been rerun) is
    state_file = tracking / "rounds.json"
    state = json.loads(state_file.read_text())
    state["logged"]["tensorboard"]["1"]["accuracy"] = -1.0
    state_file.write_text(json.dumps(state))
    again = run(load_config(None, overrides))
    assert [h["accuracy"] for h in again] == [h["accuracy"] for h in history]
    logged = events(tracking / "rounds", "accuracy")
    assert [step for step, _ in logged] == [0, 1, 1]
    assert [v for _, v in logged] == pytest.approx([metrics[0]["accuracy"]] + [metrics[1]["accuracy"]] * 2)
    assert json.loads(state_file.read_text())["logged"]["tensorboard"]["1"] == round_scalars(metrics[1])
    run(load_config(None, [o for o in overrides if not o.startswith("tracking.")]))  # a resume may change tracking


def test_report_to_none_writes_and_imports_nothing(tmp_path):
    cfg = load_config(None, [f"run_dir={tmp_path}"])
    assert step_tracking(cfg, tmp_path, tmp_path / "round_1" / "train") is None
    assert trainer_arguments(None) == {"report_to": "none"}
    log_round(cfg, tmp_path, {"round": 0, "model": "m", "accuracy": 0.5})
    assert not (tmp_path / "tracking").exists()
    code = ("import sys, vistakit.loop; heavy = [m for m in ('tensorboard', 'torch.utils.tensorboard', 'wandb', "
            "'mlflow', 'trackio') if m in sys.modules]; assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_missing_backend_stops_the_run_before_any_work(tmp_path, monkeypatch):
    import importlib.util

    cfg = load_config(None, [f"run_dir={tmp_path / 'run'}", "tracking.report_to=wandb"])
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ConfigError, match="tracking.report_to=wandb needs its package: pip install wandb"):
        run(cfg)
    assert not (tmp_path / "run").exists()


def test_step_names_and_flattening(tmp_path):
    cfg = load_config(None, [f"run_dir={tmp_path / 'demo'}", "tracking.report_to=wandb"])
    tracking = step_tracking(cfg, tmp_path / "demo", tmp_path / "demo" / "round_2" / "grpo")
    assert trainer_arguments(tracking) == {"report_to": "wandb", "run_name": "demo/round_2/grpo", "project": "vistakit"}
    assert tracking["dir"] == str((tmp_path / "demo" / "tracking").resolve())
    entry = {"round": 2, "model": "round_2/train/model", "accuracy": 0.25, "vas_auroc": None, "dedup": True,
             "sets": {"mathvista": {"accuracy": 0.5, "by_level": {"1": {"n": 3}}}}, "kept_by_source": {"sample": 4},
             "probes": {"blank_image": {"accuracy": 0.1}}, "layers": [1, 2]}
    assert round_scalars(entry) == {"accuracy": 0.25, "sets/mathvista/accuracy": 0.5,
                                    "sets/mathvista/by_level/1/n": 3, "kept_by_source/sample": 4,
                                    "probes/blank_image/accuracy": 0.1}


def test_mlflow_holds_the_training_step_and_the_rounds(tmp_path):
    """MLflow's local store (run_dir/tracking/mlflow.db): one run per training step, one for the rounds,
    reopened by its id when a resumed run logs a changed round."""
    mlflow = pytest.importorskip("mlflow")
    pytest.importorskip("sqlalchemy")  # the sqlite store (mlflow-skinny leaves it out)
    run_dir = tmp_path / "demo"
    overrides = TINY + [f"run_dir={run_dir}", "rounds=0", "tracking.report_to=mlflow", "seed_train.logging_steps=4"]
    history = run(load_config(None, overrides))
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{run_dir / 'tracking' / 'mlflow.db'}")
    runs = {r.info.run_name: r.info.run_id for r in
            client.search_runs([client.get_experiment_by_name("vistakit").experiment_id])}
    assert set(runs) == {"demo/round_0/train", "demo/rounds"}
    logged = json.loads((run_dir / "round_0" / "train" / "train_log.json").read_text())["history"]
    loss = {m.step: m.value for m in client.get_metric_history(runs["demo/round_0/train"], "loss")}
    assert loss == pytest.approx({h["step"]: h["loss"] for h in logged})
    state_file = run_dir / "tracking" / "rounds.json"
    state = json.loads(state_file.read_text())
    assert state["mlflow"] == runs["demo/rounds"]
    del state["logged"]["mlflow"]["0"]  # as if round 0 had not been logged: the resumed run logs it again
    state_file.write_text(json.dumps(state))
    run(load_config(None, overrides))
    accuracy = [(m.step, m.value) for m in client.get_metric_history(runs["demo/rounds"], "accuracy")]
    assert accuracy == [(0, pytest.approx(history[0]["accuracy"]))] * 2


def longer(completions, **kwargs):  # a reward with spread inside every group of random completions
    from vistakit.vre.rewards import completion_text
    return [len(completion_text(c)) / 10 for c in completions]


def test_grpo_logs_its_rewards(tiny_path, tmp_path):
    pytest.importorskip("tensorboard")
    from PIL import Image

    from vistakit.tasks.data import Query
    from vistakit.vre.train_grpo import GRPOSettings, train_grpo

    img = tmp_path / "img.png"
    Image.new("RGB", (84, 84), (230, 40, 40)).save(img)
    queries = [Query(f"q{i}", "How many red shapes are there?", "1", [img], task="shapes", answer_type="number")
               for i in range(2)]
    run_dir = tmp_path / "run"
    cfg = load_config(None, [f"run_dir={run_dir}", "tracking.report_to=tensorboard"])
    out = run_dir / "round_1" / "grpo"
    settings = GRPOSettings(learning_rate=1e-3, queries_per_step=1, num_generations=2, reward_weights=[1.0],
                            logging_steps=1)
    train_grpo(tiny_path, queries, out, settings, make_rewards=lambda m, p: [longer], max_new_tokens=6, seed=3,
               tracking=step_tracking(cfg, run_dir, out))
    logged = json.loads((out / "train_log.json").read_text())["history"]
    assert [h["step"] for h in logged] == [1, 2]
    for ours, theirs in (("train/reward", "reward"), ("train/rewards/longer/mean", "rewards/longer/mean"),
                         ("train/loss", "loss"), ("train/learning_rate", "learning_rate")):
        assert scalars(run_dir / "tracking" / "round_1" / "grpo", ours) == pytest.approx(
            {h["step"]: h[theirs] for h in logged}, rel=1e-6, abs=1e-7), ours
