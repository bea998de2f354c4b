"""The sampling steps over N shards of their queries (`workers.shards`, `workers.launcher`), each shard a
process holding its own engine (HF generate or vLLM):

    workers: {shards: 8}                                  # 8 local processes, GPU i for shard i
    workers: {launcher: "torchrun --nproc_per_node 8"}    # or srun / accelerate launch: one rank per GPU

A step that samples (`sample`, `rationalize`, `evaluate`, VRE's `partition`) asks `sampler(ctx, model)` for
its backend: the open engine when there is one shard, else a `Shards`, which `sample_queries` hands the call
to. The run folder is the interface, as for the training step (training/step.py): `Shards` writes the
call's inputs to `STEP_DIR/shard_inputs.json` (the model, the run's config, the queries, the sampling
settings, seed and source), starts `python -m vistakit.cli sample-shard STEP_DIR --rank r --world N` for every
rank that has unfinished batches (or `<launcher> -m vistakit.cli sample-shard STEP_DIR` once, each rank taking
rank and world from RANK / WORLD_SIZE or SLURM_PROCID / SLURM_NTASKS), and merges the batch files
(`merge_batches`) into samples.jsonl once every shard exited 0. Shard r draws the batches b with
b % world == r, each seeded by (seed, source, b) as in one process, so the merged file is byte-identical to a
one-shard run's. A failed shard is started again (`workers.retries`), keeping its finished batches; then the
step stops with the tail of its log (`STEP_DIR/shards/rank_r.log`).

Not sharded yet: the teacher-forced passes (VISTA's critical tokens, VAS and two-pass label), the prefix
continuations, the probes, R3V's test-time candidates; they run in the loop's process.
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

import torch

from vistakit.config import RunConfig, from_dict, to_dict
from vistakit.context import Context, Engine
from vistakit.runfolder import write_json
from vistakit.sampling.sample import batch_file, merge_batches, n_batches, sample_queries
from vistakit.tasks.data import Query
from vistakit.training.step import _die_with_parent

log = logging.getLogger(__name__)

INPUTS = "shard_inputs.json"


def sampler(ctx: Context, model: str):
    """The backend a sampling step passes to `sample_queries`: the engine, open on `model`, with one shard;
    with more (or a launcher), the engine closed (the shards take the accelerators) and a `Shards`."""
    w = ctx.cfg.workers
    if w.shards == 1 and w.launcher is None:
        return ctx.engine.open(model)
    ctx.engine.close()
    return Shards(ctx.cfg, model)


class Shards:
    """`sample_queries` over `workers.shards` processes (or the launcher's ranks) on `model`."""

    processor = None  # the steps pass `backend.processor` on to sample_queries; each shard loads its own

    def __init__(self, cfg: RunConfig, model: str):
        self.cfg, self.model = cfg, model

    def run_sharded(self, queries: list[Query], out_dir: Path, **settings) -> list[dict]:
        out_dir = Path(out_dir)
        batches = n_batches(len(queries), settings["queries_per_batch"])
        if batches:
            model = str(Path(self.model).resolve()) if Path(self.model).exists() else self.model
            write_json(out_dir / INPUTS, {"model": model, "config": to_dict(self.cfg),
                                          "queries": [query_row(q) for q in queries], "settings": settings})
            launch(out_dir, self.cfg, batches)
        return merge_batches(out_dir, batches)


def query_row(q: Query) -> dict:
    return {**dataclasses.asdict(q), "images": [str(p) for p in q.images]}


def launch(step_dir: Path, cfg: RunConfig, batches: int) -> None:
    """Every shard of `step_dir` run to exit 0, each failed one started again up to workers.retries times."""
    w = cfg.workers
    logs = step_dir / "shards"
    logs.mkdir(parents=True, exist_ok=True)
    for attempt in range(w.retries + 1):
        if w.launcher is not None:
            cmd = shlex.split(w.launcher) + ["-m", "vistakit.cli", "sample-shard", str(step_dir)]
            if cmd[0] == "python":
                cmd[0] = sys.executable
            failed = _wait({"launcher": _start(cmd, logs / "launcher.log", os.environ.copy())})
        else:
            # resumed: only the ranks with unfinished batches start
            ranks = [r for r in range(w.shards)
                     if any(not batch_file(step_dir, b).exists() for b in range(r, batches, w.shards))]
            failed = _wait({r: _start([sys.executable, "-m", "vistakit.cli", "sample-shard", str(step_dir),
                                       "--rank", str(r), "--world", str(w.shards)],
                                      logs / f"rank_{r}.log", shard_env(r, w.shards, cfg.model.device))
                            for r in ranks})
        if not failed:
            return
        for name, (code, tail) in failed.items():
            log.warning("%s: shard %s failed (exit %d, attempt %d of %d):\n%s", step_dir, name, code, attempt + 1,
                        w.retries + 1, tail)
    name, (code, tail) = next(iter(failed.items()))
    raise RuntimeError(f"{step_dir}: shard {name} failed {w.retries + 1} times (exit {code}); "
                       f"the end of {logs}/{'launcher' if name == 'launcher' else f'rank_{name}'}.log:\n{tail}")


def shard_env(rank: int, world: int, device: str) -> dict:
    """A local shard's environment: its share of the CPU threads (unless OMP_NUM_THREADS is set), and on
    CUDA one GPU (rank i: the i-th visible GPU, round robin when there are fewer GPUs than shards)."""
    env = os.environ.copy()
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // world)))
    if device.startswith("cuda"):
        visible = [g for g in env.get("CUDA_VISIBLE_DEVICES", "").split(",") if g] or \
            [str(i) for i in range(torch.cuda.device_count())]
        if visible:
            env["CUDA_VISIBLE_DEVICES"] = visible[rank % len(visible)]
    return env


def _start(cmd: list[str], log_file: Path, env: dict) -> tuple[subprocess.Popen, Path]:
    log.info("shard: %s", shlex.join(cmd))
    with open(log_file, "w") as f:  # the child holds its own copy of the descriptor
        proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, env=env,
                                preexec_fn=_die_with_parent if sys.platform == "linux" else None)
    return proc, log_file


def _wait(started: dict) -> dict:
    """{name: (exit code, the log's last 3000 characters)} of the processes that failed."""
    failed = {}
    for name, (proc, log_file) in started.items():
        if proc.wait() != 0:
            failed[name] = (proc.returncode, log_file.read_text(errors="replace")[-3000:])
    return failed


def rank_and_world(rank: int | None = None, world: int | None = None) -> tuple[int, int]:
    """Given, else from the launcher's environment (torchrun / accelerate: RANK, WORLD_SIZE; srun:
    SLURM_PROCID, SLURM_NTASKS), else (0, 1)."""
    env = os.environ
    if rank is None:
        rank = int(env.get("RANK", env.get("SLURM_PROCID", 0)))
    if world is None:
        world = int(env.get("WORLD_SIZE", env.get("SLURM_NTASKS", 1)))
    if not 0 <= rank < world:
        raise ValueError(f"shard rank {rank} is not in 0..{world - 1}")
    return rank, world


def run_from_folder(step_dir: Path, rank: int | None = None, world: int | None = None) -> None:
    """`vistakit sample-shard STEP_DIR`: shard (rank, world) of the call in STEP_DIR/shard_inputs.json, in this
    process: its unfinished batch files, on its own engine."""
    step_dir = Path(step_dir)
    rank, world = rank_and_world(rank, world)
    inputs = json.loads((step_dir / INPUTS).read_text())
    cfg = from_dict(RunConfig, inputs["config"], str(step_dir / INPUTS))
    if cfg.model.device.startswith("cuda") and "LOCAL_RANK" in os.environ:  # a launcher's rank: one GPU each
        cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, device=f"cuda:{os.environ['LOCAL_RANK']}"))
    queries = [Query(**{**row, "images": [Path(p) for p in row["images"]]}) for row in inputs["queries"]]
    engine = Engine(cfg)
    try:
        backend = engine.open(inputs["model"])
        sample_queries(backend, backend.processor, queries, step_dir, shard=(rank, world), **inputs["settings"])
    finally:
        engine.close()
