"""The training step, in the loop's process or under a launcher (`train.launcher`), e.g. multi-GPU:

    train: {launcher: "accelerate launch --config_file recipes/accelerate/zero2.yaml"}

The loop (sampling, scoring, selection) stays one process; only training runs under the launcher. The run
folder is the interface: the loop writes the step's inputs to `round_t/train/train_inputs.json` and
`examples.jsonl`, runs `<launcher> -m vistakit.cli train-step round_t/train`, and every process of the
launcher reads them; transformers' Trainer takes DDP / FSDP / DeepSpeed from the accelerate config, the main
process writes `model/` and `train_log.json`. The loop marks the step done only after the command exits 0.

A step re-run (loop resumed) resumes from the last epoch checkpoint, or does nothing if `train_log.json`
(written last) says it finished. `launcher: python` runs the step in a plain subprocess of this interpreter.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shlex
import subprocess
import sys
from pathlib import Path

from vistakit.runfolder import read_jsonl, write_json, write_jsonl
from vistakit.children import die_with_parent
from vistakit.config import from_dict
from vistakit.training.dpo import train_dpo
from vistakit.training.sft import TrainConfig, train_sft

log = logging.getLogger(__name__)

INPUTS, EXAMPLES = "train_inputs.json", "examples.jsonl"


def train(kind: str, base_model: str, examples: list[dict], out_dir: Path, cfg: TrainConfig, *, system: str | None,
          device: str, seed: int, tracking: dict | None = None, **load_kwargs) -> Path:
    """Train a fresh copy of `base_model` ("sft" or "dpo"); returns `out_dir/model`. `tracking`: where the
    Trainer reports (evaluation.tracking.step_tracking). `load_kwargs` go to `models.load.load`
    (attn_implementation, trust_remote_code, min_pixels, max_pixels)."""
    out_dir = Path(out_dir)
    if cfg.launcher is None:
        return _run(kind, base_model, examples, out_dir, cfg, system=system, device=device, seed=seed,
                    tracking=tracking, **load_kwargs)
    write_jsonl(out_dir / EXAMPLES, examples)
    write_json(out_dir / INPUTS, {"kind": kind, "base_model": str(base_model), "train": dataclasses.asdict(cfg),
                                  "system": system, "device": device, "seed": seed, "tracking": tracking,
                                  "load": load_kwargs})
    cmd = command(cfg.launcher, out_dir)
    log.info("training step: %s", shlex.join(cmd))
    done = subprocess.run(cmd, preexec_fn=die_with_parent if sys.platform == "linux" else None)
    if done.returncode != 0:
        raise RuntimeError(f"training step failed (exit {done.returncode}): {shlex.join(cmd)}")
    if not (out_dir / "train_log.json").exists():
        raise RuntimeError(f"training step exited 0 but {out_dir} holds no train_log.json")
    return out_dir / "model"


def command(launcher: str, out_dir: Path) -> list[str]:
    """`launcher` + `-m vistakit.cli train-step DIR`; a leading `python` is this interpreter."""
    parts = shlex.split(launcher)
    if parts and parts[0] == "python":
        parts[0] = sys.executable
    return parts + ["-m", "vistakit.cli", "train-step", str(out_dir)]


def run_from_folder(out_dir: Path) -> Path:
    """`vistakit train-step DIR`: the step's inputs from the run folder, in this (launcher's) process."""
    out_dir = Path(out_dir)
    inputs = json.loads((out_dir / INPUTS).read_text())
    cfg = from_dict(TrainConfig, inputs["train"], str(out_dir / INPUTS))
    device = inputs["device"]
    if device.startswith("cuda") and "LOCAL_RANK" in os.environ:  # one GPU per launched process
        device = f"cuda:{os.environ['LOCAL_RANK']}"
    return _run(inputs["kind"], inputs["base_model"], read_jsonl(out_dir / EXAMPLES), out_dir,
                dataclasses.replace(cfg, launcher=None), system=inputs["system"], device=device,
                seed=inputs["seed"], tracking=inputs.get("tracking"), **inputs["load"])


def _run(kind, base_model, examples, out_dir: Path, cfg: TrainConfig, **kwargs) -> Path:
    if (out_dir / "train_log.json").exists():  # written last by `fit`: the step already finished
        log.info("%s: already trained", out_dir)
        return out_dir / "model"
    fn = train_dpo if kind == "dpo" else train_sft
    return Path(fn(base_model, examples, out_dir, cfg, **kwargs))
