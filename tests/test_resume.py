"""A run killed with SIGKILL during sampling and during training resumes and ends with the same samples."""

import json
import os
import signal
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path

import pytest

from vistakit.runfolder import read_jsonl

TINY_RUN = [
    "method=rest-em", "rounds=2", "seed_sft=true", "data.n_train=24", "data.n_seed=64", "data.n_test=8",
    "sampling.samples_per_query=2", "sampling.max_new_tokens=24", "sampling.queries_per_batch=2",
    "train.epochs=4", "train.examples_per_device_batch=2", "seed_train.epochs=12", "seed_train.learning_rate=0.003",
    "eval.max_new_tokens=24", "model.tiny_hidden_size=64", "model.tiny_layers=2",
]


def _cmd(run_dir: Path, extra: tuple[str, ...] = ()) -> list[str]:
    preset = resources.files("vistakit.presets") / "demo.yaml"
    return [sys.executable, "-m", "vistakit.cli", "run", str(preset), f"run_dir={run_dir}"] + TINY_RUN + list(extra)


def _run(run_dir: Path, extra: tuple[str, ...] = ()) -> None:
    subprocess.run(_cmd(run_dir, extra), check=True, capture_output=True, env={**os.environ, "TQDM_DISABLE": "1"})


def _kill_when(run_dir: Path, ready, timeout: float = 300, extra: tuple[str, ...] = ()) -> None:
    proc = subprocess.Popen(_cmd(run_dir, extra), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "TQDM_DISABLE": "1"})
    start = time.time()
    while not ready() and proc.poll() is None and time.time() - start < timeout:
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def _samples(run_dir: Path) -> list[list[dict]]:
    return [read_jsonl(run_dir / f"round_{t}" / "sample" / "samples.jsonl") for t in (1, 2)]


def test_killed_runs_resume_to_the_same_samples(tmp_path):
    ref = tmp_path / "ref"
    _run(ref)

    killed_sampling = tmp_path / "killed-sampling"
    batches = killed_sampling / "round_1" / "sample" / "batches"
    _kill_when(killed_sampling, lambda: len(list(batches.glob("*.jsonl"))) >= 2)
    assert not (killed_sampling / "round_1" / "sample" / "DONE").exists()
    _run(killed_sampling)

    killed_training = tmp_path / "killed-training"
    ckpts = killed_training / "round_1" / "train" / "checkpoints"
    _kill_when(killed_training, lambda: any(ckpts.glob("checkpoint-*/trainer_state.json")))
    assert not (killed_training / "round_1" / "train" / "DONE").exists()
    _run(killed_training)

    expected = _samples(ref)
    assert len(expected[0]) == 48
    assert read_jsonl(ref / "round_1" / "select" / "train_set.jsonl"), "round 1 must train on something"
    for run in (killed_sampling, killed_training):
        got = _samples(run)
        assert [len(r) for r in got] == [len(r) for r in expected]
        assert [sum(x["correct"] for x in r) for r in got] == [sum(x["correct"] for x in r) for r in expected]
        assert [x["response"] for x in got[0]] == [x["response"] for x in expected[0]]
        kept = [read_jsonl(run / f"round_{t}" / "select" / "train_set.jsonl") for t in (1, 2)]
        assert [len(k) for k in kept] == [len(read_jsonl(ref / f"round_{t}" / "select" / "train_set.jsonl")) for t in (1, 2)]
    # the step resumed from its checkpoint logs the whole step's mean loss, as the uninterrupted one did
    logs = [json.loads((r / "round_1" / "train" / "train_log.json").read_text()) for r in (ref, killed_training)]
    assert abs(logs[0]["train_loss"] - logs[1]["train_loss"]) < 1e-6 * max(1.0, abs(logs[0]["train_loss"]))
    assert logs[1]["train_loss"] > 0  # (the Trainer's own figure for the resumed call covers its steps only)


# --- the fault suite: a vista-sft run killed inside each step resumes to the uninterrupted run's outputs -----

VISTA = ("method=vista-sft", "rounds=1", "diagnostics.queries=4", "vista.calibration_queries=8",
         "vista.control_positives=4", "eval.queries_per_batch=2")


def _outputs(run: Path) -> dict:
    """Everything a round decides, record for record, and the trained weights."""
    r1 = run / "round_1"
    files = ["sample/samples.jsonl", "prefix/critical.jsonl", "prefix/samples.jsonl", "filter/two_pass.jsonl",
             "filter/vas.jsonl", "select/decisions.jsonl", "select/train_set.jsonl", "eval/samples.jsonl"]
    out = {f: read_jsonl(r1 / f) for f in files}
    out["metrics"] = [{k: v for k, v in h.items() if k != "model"} for h in json.loads((run / "metrics.json").read_text())]
    out["weights"] = (r1 / "train" / "model" / "model.safetensors").read_bytes()
    out["train_loss"] = round(json.loads((r1 / "train" / "train_log.json").read_text())["train_loss"], 6)
    return out


KILL_POINTS = {  # (started, finished): the kill lands inside the step when it has started and not finished
    "sampling": (lambda r: len(list((r / "round_1/sample/batches").glob("*.jsonl"))) >= 1,
                 lambda r: (r / "round_1/sample/DONE").exists()),
    "critical-token pass": (lambda r: (r / "round_1/sample/DONE").exists(),
                            lambda r: (r / "round_1/prefix/critical.jsonl").exists()),
    "continuations": (lambda r: len(list((r / "round_1/prefix/resample/batches").glob("*.jsonl"))) >= 1,
                      lambda r: (r / "round_1/prefix/DONE").exists()),
    "VAS pass": (lambda r: (r / "round_1/filter/two_pass.jsonl").exists(),
                 lambda r: (r / "round_1/filter/vas.jsonl").exists()),
    "training mid-step": (lambda r: any((r / "round_1/train/checkpoints").glob("checkpoint-*/trainer_state.json")),
                          lambda r: (r / "round_1/train/DONE").exists()),
    "evaluation": (lambda r: len(list((r / "round_1/eval/batches").glob("*.jsonl"))) >= 1,
                   lambda r: (r / "round_1/eval/metrics.json").exists()),
    "probes": (lambda r: (r / "round_1/eval/metrics.json").exists(),
               lambda r: (r / "round_1/probes/probes.json").exists()),
}


@pytest.mark.slow
def test_a_run_killed_inside_any_step_resumes_to_the_same_outputs(tmp_path):
    ref = tmp_path / "ref"
    _run(ref, VISTA)
    expected = _outputs(ref)
    assert expected["select/train_set.jsonl"] and expected["prefix/samples.jsonl"], "the run must exercise every step"
    for name, (started, finished) in KILL_POINTS.items():
        for attempt in range(3):  # a step of the tiny run can finish between two polls: then kill it again
            run = tmp_path / f"{name.replace(' ', '-')}-{attempt}"
            _kill_when(run, lambda: started(run), extra=VISTA)
            if not finished(run):
                break
        assert not finished(run), f"could not kill the run inside {name}"
        _run(run, VISTA)
        got = _outputs(run)
        for key in expected:
            assert got[key] == expected[key], f"killed in {name}: {key} differs after the resume"
