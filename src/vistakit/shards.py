"""The sampling steps and the teacher-forced passes over N shards (`workers.shards`, `workers.launcher`), each shard a
process holding its own engine (HF generate or vLLM):

    workers: {shards: 8}                                  # 8 local processes, GPU i for shard i
    workers: {launcher: "torchrun --nproc_per_node 8"}    # or srun / accelerate launch: one rank per GPU
    workers: {engine: ray, shards: 16}                    # Ray tasks on a local cluster or workers.ray_address

A step that samples (`sample`, `rationalize`, `evaluate`, VISTA's prefix continuations, VRE's `partition` and re-examination) asks `sampler(ctx, model)` for
its backend: the open engine when there is one shard, else a `Shards`, which `sample_queries` hands the call
to. The run folder is the interface, as for the training step (training/step.py): `Shards` writes the
call's inputs to `STEP_DIR/shard_inputs.json` (the model, the run's config, the queries, the sampling
settings, seed and source), starts `python -m vistakit.cli sample-shard STEP_DIR --rank r --world N` for every
rank that has unfinished batches (or `<launcher> -m vistakit.cli sample-shard STEP_DIR` once, each rank taking
rank and world from RANK / WORLD_SIZE or SLURM_PROCID / SLURM_NTASKS; or, with `workers.engine: ray`, one Ray
task per unfinished rank calling `run_from_folder` in its worker), and merges the batch files
(`merge_batches`) into samples.jsonl once every shard exited 0. Shard r draws the batches b with
b % world == r, each seeded by (seed, source, b) as in one process, so the merged file is byte-identical to a
one-shard run's. A failed shard is started again (`workers.retries`), keeping its finished batches; then the
step stops with the tail of its log (`STEP_DIR/shards/rank_r.log`).

The teacher-forced passes (VISTA's critical tokens, VAS, the two-pass label) shard the same way: a step
asks `scorer(ctx, model)`, and `scoring.run_pass` hands a `Shards` the call; shard r scores the
length-sorted batches b with b % world == r, each rank on its own HF model in `model.scoring_dtype`, and
the results are read back from the batch files in record order, so they are identical to one process's at
the same threads per process (a CPU matmul's sums depend on the thread count, and a local shard takes its share
of the cores: `shard_env`).

Not sharded yet: the VAS layer calibration (vista.vas_layers: auto; a few queries), VRE's re-examination
with vre.scorer=policy (the scorer reads the loop's engine after it), the probes, R3V's test-time candidates; they run in the loop's process.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shlex
import socket
import subprocess
import sys
from pathlib import Path

import torch

from vistakit.children import start
from vistakit.config import RunConfig, from_dict, to_dict
from vistakit.context import Context, Engine
from vistakit.models.load import load, load_kwargs
from vistakit.runfolder import write_json
from vistakit.sampling.sample import batch_file, merge_batches, n_batches, sample_queries
from vistakit.tasks.data import Query
from vistakit.vista.prefix import critical_batch
from vistakit.vista.scoring import length_batches, run_pass
from vistakit.vista.two_pass import two_pass_batch
from vistakit.vista.vas_filter import vas_batch

log = logging.getLogger(__name__)

INPUTS = "shard_inputs.json"


def sampler(ctx: Context, model: str):
    """The backend a sampling step passes to `sample_queries`: the engine, open on `model`, with one shard;
    with more (or a launcher), a `Shards`, which closes the engine when it starts (the shards take the
    accelerators), so a step may still score with the engine before (VISTA's prefix step)."""
    w = ctx.cfg.workers
    if w.shards == 1 and w.launcher is None:
        return ctx.engine.open(model)
    return Shards(ctx.cfg, model, ctx.engine)


def scorer(ctx: Context, model: str):
    """(scorer, processor) for a teacher-forced pass (critical tokens, VAS, two-pass label): the engine's
    scoring model, open on `model`, with one shard; with more, a `Shards`, whose ranks load their own model
    and processor (None here)."""
    w = ctx.cfg.workers
    if w.shards == 1 and w.launcher is None:
        backend = ctx.engine.open(model)
        return ctx.engine.scorer, backend.processor
    return Shards(ctx.cfg, model, ctx.engine), None


# the teacher-forced passes a shard can run (scoring.run_pass names them by their batch function)
PASSES = {f.__name__: f for f in (critical_batch, vas_batch, two_pass_batch)}


class Shards:
    """`sample_queries`, or a teacher-forced pass (`scoring.run_pass`), over `workers.shards` processes (or
    the launcher's ranks) on `model`."""

    processor = None  # the steps pass `backend.processor` on to sample_queries; each shard loads its own

    def __init__(self, cfg: RunConfig, model: str, engine: Engine | None = None):
        self.cfg, self.model, self.engine = cfg, model, engine

    def run_sharded(self, queries: list[Query], out_dir: Path, **settings) -> list[dict]:
        out_dir = Path(out_dir)
        batches = n_batches(len(queries), settings["queries_per_batch"])
        if batches:
            if self.engine is not None:
                self.engine.close()
            write_json(out_dir / INPUTS, {"task": "sample", "model": self._model(), "config": to_dict(self.cfg),
                                          "queries": [query_row(q) for q in queries], "settings": settings})
            launch(out_dir, self.cfg, batches)
        return merge_batches(out_dir, batches)

    def run_pass(self, name: str, queries: dict[str, Query], records: list[dict], out_dir: Path, **settings) -> None:
        """Every batch file of the pass `name` (PASSES) in `out_dir`; scoring.run_pass merges them."""
        out_dir = Path(out_dir)
        batches = len(length_batches(records, settings["batch_size"]))
        if batches and any(not batch_file(out_dir, b).exists() for b in range(batches)):
            if self.engine is not None:
                self.engine.close()
            write_json(out_dir / INPUTS, {
                "task": "score", "pass": name, "model": self._model(), "config": to_dict(self.cfg),
                "queries": [query_row(q) for q in queries.values()],
                "records": [{"query_id": r["query_id"], "token_ids": r["token_ids"]} for r in records],
                "settings": settings})
            launch(out_dir, self.cfg, batches)

    def _model(self) -> str:
        return str(Path(self.model).resolve()) if Path(self.model).exists() else self.model


def query_row(q: Query) -> dict:
    """A query as shard_inputs.json holds it, its images by absolute path (a Ray worker has its own cwd)."""
    return {**dataclasses.asdict(q), "images": [str(Path(p).resolve()) if Path(p).exists() else str(p) for p in q.images]}


def launch(step_dir: Path, cfg: RunConfig, batches: int) -> None:
    """Every shard of `step_dir` run to exit 0, each failed one started again up to workers.retries times."""
    w = cfg.workers
    logs = step_dir / "shards"
    logs.mkdir(parents=True, exist_ok=True)
    for attempt in range(w.retries + 1):
        # resumed: only the ranks with unfinished batches start
        ranks = [r for r in range(w.shards)
                 if any(not batch_file(step_dir, b).exists() for b in range(r, batches, w.shards))]
        if w.engine == "ray":
            failed = _ray_attempt(step_dir, cfg, ranks)
        elif w.launcher is not None:
            cmd = shlex.split(w.launcher) + ["-m", "vistakit.cli", "sample-shard", str(step_dir)]
            if cmd[0] == "python":
                cmd[0] = sys.executable
            failed = _wait({"launcher": _start(cmd, logs / "launcher.log", os.environ.copy())})
        else:
            failed = _wait({r: _start([sys.executable, "-m", "vistakit.cli", "sample-shard", str(step_dir),
                                       "--rank", str(r), "--world", str(w.shards)],
                                      logs / f"rank_{r}.log", shard_env(r, w.shards, cfg.model.device))
                            for r in ranks})
        if not failed:
            return
        for name, (how, tail) in failed.items():
            log.warning("%s: shard %s failed (%s, attempt %d of %d):\n%s", step_dir, name, how, attempt + 1,
                        w.retries + 1, tail)
    name, (how, tail) = next(iter(failed.items()))
    where = "its error" if w.engine == "ray" else f"the end of {logs}/{'launcher' if name == 'launcher' else f'rank_{name}'}.log"
    raise RuntimeError(f"{step_dir}: shard {name} failed {w.retries + 1} times ({how}); {where}:\n{tail}")


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
    return start(cmd, log_file, env), log_file


def _wait(started: dict) -> dict:
    """{name: ("exit N", the log's last 3000 characters)} of the processes that failed."""
    failed = {}
    for name, (proc, log_file) in started.items():
        if proc.wait() != 0:
            failed[name] = (f"exit {proc.returncode}", log_file.read_text(errors="replace")[-3000:])
    return failed


def _ray_attempt(step_dir: Path, cfg: RunConfig, ranks: list[int]) -> dict:
    """One Ray task per rank, each `run_from_folder` in a Ray worker; {rank: ("raised", error)} of the failed."""
    import ray  # the optional 'ray' extra

    w = cfg.workers
    if not ray.is_initialized():
        if w.ray_address not in (None, "auto"):
            check_reachable(w.ray_address)
        ray.init(address=w.ray_address, include_dashboard=False, configure_logging=False)
    gpus = w.gpus_per_worker if w.gpus_per_worker is not None else float(cfg.model.device.startswith("cuda"))
    task = ray.remote(num_cpus=w.cpus_per_worker, num_gpus=gpus, max_retries=0)(run_from_folder)
    refs = {r: task.remote(str(step_dir.resolve()), r, w.shards) for r in ranks}
    failed = {}
    for r, ref in refs.items():
        try:
            ray.get(ref)
        except ray.exceptions.RayError as e:
            failed[r] = ("raised", str(e)[-3000:])
    return failed


def check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Ray's own connect retries for minutes on an address that does not answer: this fails in seconds."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except (OSError, ValueError) as e:
        raise RuntimeError(f"workers.ray_address {address!r}: no Ray cluster answers there ({e}); start one with "
                           "`ray start --head` or unset workers.ray_address for a local one") from None


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
    if inputs.get("task", "sample") == "score":
        m = cfg.model
        model, processor = load(inputs["model"], **{**load_kwargs(m), "dtype": m.scoring_dtype or m.dtype})
        run_pass(PASSES[inputs["pass"]], model.eval(), processor, {q.id: q for q in queries}, inputs["records"],
                 step_dir, shard=(rank, world), desc=inputs["pass"], **inputs["settings"])
        return
    engine = Engine(cfg)
    try:
        backend = engine.open(inputs["model"])
        sample_queries(backend, backend.processor, queries, step_dir, shard=(rank, world), **inputs["settings"])
    finally:
        engine.close()
