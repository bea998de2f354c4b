"""Experiment tracking (`tracking.report_to`): the training steps' logs and each round's metrics in one place.

    tracking: {report_to: tensorboard}      then: tensorboard --logdir run_dir/tracking

Nothing here is a tracking client. The training steps (SFT, DPO+NLL, GRPO) pass `report_to` to
transformers' TrainingArguments, whose callbacks log what the Trainer logs at each logging step (loss,
learning rate, grad norm; DPO's parts; TRL's GRPO rewards); `log_round` logs a round's metrics.json entry
with accelerate's tracker of the same backend, the round as the step. Where each backend writes:

    run_dir/tracking/round_t/train/   TensorBoard: one folder per training step (round_0/warmup, round_t/grpo, ...),
                                      each from step 0 (every round trains a fresh copy of M_0), so the rounds'
                                      curves overlay
    run_dir/tracking/rounds/          TensorBoard: the rounds' metrics (accuracy, by_level/1/accuracy, kept, ...)
    run_dir/tracking/rounds.json      what has been logged of each round, and the wandb / MLflow run it went to
    run_dir/tracking/wandb/, trackio/, mlflow.db
                                      wandb, trackio, MLflow's local store (sqlite: the mlflow package, or
                                      mlflow-skinny with sqlalchemy), unless WANDB_DIR, TRACKIO_DIR or
                                      MLFLOW_TRACKING_URI say otherwise; their runs are <run_name>/round_t/train
                                      and <run_name>/rounds, in the project tracking.project (wandb: grouped by
                                      run_name)

A training step gets its settings as a plain dict (`step_tracking`), which travels in train_inputs.json to
a step run under `train.launcher`. The backends are set up through the variables their transformers
callbacks read (TENSORBOARD_LOGGING_DIR, WANDB_PROJECT, ...), set only while a step trains or a round is
logged (`tracking_env`). With report_to none nothing is imported and nothing is written; the backends'
packages are imported by transformers and accelerate when a tracker starts (and wandb here, to close the
run its callback leaves open).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import uuid
from pathlib import Path

from accelerate import PartialState
from accelerate.tracking import GeneralTracker, MLflowTracker, TensorBoardTracker, TrackioTracker, WandBTracker

from vistakit.config import ConfigError, RunConfig
from vistakit.runfolder import write_json

TRACKING = "tracking"  # the folder in run_dir
ROUNDS = "rounds"  # the name of the rounds' run (and its TensorBoard folder)
STATE = "rounds.json"  # what log_round logged (round -> its numbers) and the rounds' run id (wandb, MLflow)


# the modules a backend needs (any one of them), and what installs it
PACKAGES = {"tensorboard": (("tensorboard", "tensorboardX"), "tensorboard"), "wandb": (("wandb",), "wandb"),
            "trackio": (("trackio",), "trackio"), "mlflow": (("mlflow",), "mlflow (or mlflow-skinny sqlalchemy alembic)")}


def check_backend(cfg: RunConfig) -> None:
    """The chosen backend's package is installed: said before any work, not at the first training step."""
    if cfg.tracking.report_to == "none":
        return
    modules, install = PACKAGES[cfg.tracking.report_to]
    if all(importlib.util.find_spec(m) is None for m in modules):
        raise ConfigError(f"tracking.report_to={cfg.tracking.report_to} needs its package: pip install {install}")


def run_name(cfg: RunConfig, run_dir: Path) -> str:
    return cfg.tracking.run_name or Path(run_dir).resolve().name


def step_tracking(cfg: RunConfig, run_dir: Path, out_dir: Path) -> dict | None:
    """A training step's settings (JSON, for train_inputs.json): the backend, the project, the step's name
    (its folder in the run, e.g. round_1/train) and the tracking folder; None with report_to none."""
    if cfg.tracking.report_to == "none":
        return None
    run_dir = Path(run_dir).resolve()
    return {"report_to": cfg.tracking.report_to, "project": cfg.tracking.project, "run_name": run_name(cfg, run_dir),
            "step": Path(out_dir).resolve().relative_to(run_dir).as_posix(), "dir": str(run_dir / TRACKING)}


def trainer_arguments(tracking: dict | None) -> dict:
    """The TrainingArguments (and TRL configs) keyword arguments of a step's tracking settings."""
    if tracking is None:
        return {"report_to": "none"}
    return {"report_to": tracking["report_to"], "run_name": f"{tracking['run_name']}/{tracking['step']}",
            "project": tracking["project"]}


@contextlib.contextmanager
def tracking_env(tracking: dict | None):
    """The environment the backends read, while a step trains (or a round is logged): TensorBoard writes to
    dir/<the step's name>; wandb, trackio, MLflow store under dir, in the project, grouped by run name, unless
    the environment already says otherwise. Restored on exit."""
    if tracking is None:
        yield
        return
    d = Path(tracking["dir"])
    env = {"TENSORBOARD_LOGGING_DIR": str(d / tracking["step"])}
    defaults = {"WANDB_PROJECT": tracking["project"], "WANDB_RUN_GROUP": tracking["run_name"], "WANDB_DIR": str(d),
                "TRACKIO_DIR": str(d / "trackio"), "MLFLOW_EXPERIMENT_NAME": tracking["project"],
                "MLFLOW_TRACKING_URI": f"sqlite:///{d / 'mlflow.db'}"}
    env.update({k: v for k, v in defaults.items() if k not in os.environ})
    saved = {k: os.environ.get(k) for k in env}
    d.mkdir(parents=True, exist_ok=True)  # wandb needs WANDB_DIR to exist
    os.environ.update(env)
    try:
        yield
    finally:
        if tracking["report_to"] == "wandb":  # transformers' callback leaves its run open: the next step would log to it
            import wandb

            wandb.finish()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def round_scalars(entry: dict) -> dict[str, float]:
    """The numbers of a metrics.json entry, nested names joined by '/'; the round itself, the model, strings,
    lists, None and booleans left out.

    >>> round_scalars({"round": 1, "model": "m", "accuracy": 0.5, "by_level": {"1": {"n": 4}}, "vas_auroc": None})
    {'accuracy': 0.5, 'by_level/1/n': 4}
    """
    out: dict[str, float] = {}

    def walk(d: dict, prefix: str) -> None:
        for k, v in d.items():
            if isinstance(v, dict):
                walk(v, f"{prefix}{k}/")
            elif isinstance(v, (int, float)) and not isinstance(v, bool):
                out[f"{prefix}{k}"] = v

    walk({k: v for k, v in entry.items() if k not in ("round", "model")}, "")
    return out


def round_tracker(cfg: RunConfig, run_dir: Path, state: dict) -> GeneralTracker:
    """accelerate's tracker of `tracking.report_to` for the rounds' run, not started. wandb and MLflow reopen
    the run of state's id (`state`: rounds.json), trackio the run of the same name."""
    backend, name, d = cfg.tracking.report_to, run_name(cfg, run_dir), Path(run_dir).resolve() / TRACKING
    if backend == "tensorboard":
        tracker = TensorBoardTracker(ROUNDS, d)
    elif backend == "wandb":
        state.setdefault("wandb", uuid.uuid4().hex[:12])
        tracker = WandBTracker(os.environ.get("WANDB_PROJECT", cfg.tracking.project), name=f"{name}/{ROUNDS}",
                               group=name, id=state["wandb"], resume="allow")
    elif backend == "trackio":
        tracker = TrackioTracker(cfg.tracking.project, name=f"{name}/{ROUNDS}", resume="allow")
    elif backend == "mlflow":
        tracker = MLflowTracker(cfg.tracking.project, run_name=f"{name}/{ROUNDS}", run_id=state.get("mlflow"))
    else:
        raise ValueError(f"tracking.report_to: no tracker for {backend!r}")
    return tracker


def log_round(cfg: RunConfig, run_dir: Path, entry: dict) -> None:
    """Log round t's metrics.json entry (its numbers, `round_scalars`) at step t to the run's tracker. A
    resumed run logs a round again only if its numbers changed (a round deleted and rerun), so the curves
    hold one point per round."""
    if cfg.tracking.report_to == "none":
        return
    run_dir = Path(run_dir)
    tracking = {**step_tracking(cfg, run_dir, run_dir), "step": ROUNDS}
    state_file = Path(tracking["dir"]) / STATE
    state = json.loads(state_file.read_text()) if state_file.exists() else {}
    values, t = round_scalars(entry), entry["round"]
    logged = state.setdefault("logged", {}).setdefault(cfg.tracking.report_to, {})
    if json.dumps(logged.get(str(t)), sort_keys=True) == json.dumps(values, sort_keys=True):  # NaN included
        return
    # accelerate's trackers log through its logger, which wants its state: a plain one (a Trainer made later
    # in this process resets it for itself)
    PartialState(cpu=True)
    with tracking_env(tracking):
        tracker = round_tracker(cfg, run_dir, state)
        tracker.start()
        try:
            tracker.log(values, step=t)
        finally:
            tracker.finish()
    if isinstance(tracker, MLflowTracker):  # reopened by id when the next round is logged
        state["mlflow"] = tracker.active_run.info.run_id
    logged[str(t)] = values
    write_json(state_file, state)
