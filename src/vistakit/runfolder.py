"""The run folder is the interface between steps: JSONL records, atomic writes, and "done" markers.

A step is finished when its marker exists; its outputs were written (atomically) before the marker, so a
run killed at any point redoes at most the unfinished step (or, for sampling, the unfinished batch).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import time
from pathlib import Path

from filelock import FileLock, Timeout


def write_jsonl(path: Path, records) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w") as f:
        for r in records:
            f.write(json.dumps(r) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_jsonl(path: Path) -> list[dict]:
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def write_text(path: Path, text: str) -> None:
    """Atomically: a kill or a full disk mid-write leaves the old file (or none), never a torn one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_json(path: Path, obj) -> None:
    write_text(path, json.dumps(obj, indent=2))


def write_json_if_changed(path: Path, obj) -> None:
    """Leave an identical file alone: a finished run re-run on read-only storage must not fail rewriting it."""
    text = json.dumps(obj, indent=2)
    if not (path.exists() and path.read_text() == text):
        write_text(path, text)


class RunFolderLocked(RuntimeError):
    pass


class RunLock:
    """One process per run folder: an exclusive lock on `run_dir/.lock` (filelock's `FileLock`, an `flock` on
    Unix), which the kernel releases when the holder dies (a stale lock of a killed run is simply taken over).
    The file names the holder, so a second process refuses at once saying who holds it. No soft-lock fallback
    on a file system without `flock`: a marker file would outlive a killed run, so there it fails instead."""

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / ".lock"
        # preserve_lock_file: the file stays after release (the report reads when the run took it)
        self._lock = FileLock(self.path, blocking=False, fallback_to_soft=False, preserve_lock_file=True,
                              on_acquired=_write_holder)

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire()
        except Timeout:
            holder = self.path.read_text().strip() or "another process"
            raise RunFolderLocked(f"{self.path.parent} is in use by {holder}; wait for it to finish or stop it") from None
        return self

    def __exit__(self, *exc):
        self._lock.release()


def _write_holder(fd: int) -> None:
    """Called by filelock with the locked file's descriptor: replace the last holder's line with ours."""
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()} since {time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode(), 0)


def resolve_stored(run_dir: Path, stored: str | None, moved: bool = False) -> Path | None:
    """A path read from the run folder's files, where it is now: relative to the folder (vistakit writes
    them so), or as written (older folders: absolute, or relative to the run's working directory); with
    `moved`, also the same round_t/... or base_model/... inside `run_dir` (a folder moved or copied since
    it wrote an absolute path). None when none exists (a hub id, or a folder deleted since)."""
    if not stored:
        return None
    p = Path(stored)
    candidates = [] if p.is_absolute() else [Path(run_dir) / p]
    if moved:
        candidates += [next((Path(run_dir).joinpath(*p.parts[i:]) for i, part in enumerate(p.parts)
                             if re.fullmatch(r"round_\d+|base_model", part)), None)]
    return next((c for c in candidates + [p] if c is not None and c.exists()), None)


def read_metrics(run_dir: str | Path) -> list[dict]:
    """A finished run's metrics.json: one dict per round, as `vistakit.loop.run` returned them (accuracy, per
    level, the round's sample and selection counts, the probes, a method's own numbers), each "model" the
    path where M_t is now (stored relative to the folder, so a moved folder reads back), else as stored (a
    hub id). metrics.json is written when the last round is done; `vistakit report RUN_DIR` also reads a run
    still going."""
    run_dir = Path(run_dir)
    path = run_dir / "metrics.json"
    if not path.exists():
        what = "has not finished" if (run_dir / "round_0").is_dir() else "is not a run folder (no round_0/)"
        raise FileNotFoundError(f"{path} not found: {run_dir} {what}")
    history = json.loads(path.read_text())
    for h in history:
        if h.get("model"):
            h["model"] = str(resolve_stored(run_dir, h["model"], moved=True) or h["model"])
    return history


def is_done(step_dir: Path) -> bool:
    return (step_dir / "DONE").exists()


def mark_done(step_dir: Path) -> None:
    step_dir.mkdir(parents=True, exist_ok=True)
    (step_dir / "DONE").write_text("")


def drop_batch_files(round_dir: Path) -> int:
    """Delete the resumable batch files of every finished step of a finished round: a sampling step's
    records are in its samples.jsonl, a teacher-forced pass's results (prefix/critical/, filter/vas/, ...)
    in the cache file beside its folder (prefix/critical.jsonl, ...: vista.scoring.pass_dir), so each sample is then stored once (the
    batch files, and a sharded step's shard_inputs.json, are the scratch that lets an unfinished step
    resume). The shards' logs stay. Returns how many batch folders went."""
    dropped = 0
    for batches in sorted(Path(round_dir).rglob("batches")):
        step = batches.parent
        sampled = is_done(step) and (step / "samples.jsonl").exists()
        if batches.is_dir() and (sampled or (step.parent / f"{step.name}.jsonl").exists()):
            shutil.rmtree(batches)
            (step / "shard_inputs.json").unlink(missing_ok=True)
            dropped += 1
    return dropped
