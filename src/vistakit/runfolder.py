"""The run folder is the interface between steps: JSONL records, atomic writes, and "done" markers.

A step is finished when its marker exists; its outputs were written (atomically) before the marker, so a
run killed at any point redoes at most the unfinished step (or, for sampling, the unfinished batch).
"""

from __future__ import annotations

import json
import os
from pathlib import Path


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


def write_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2))
    os.replace(tmp, path)


def is_done(step_dir: Path) -> bool:
    return (step_dir / "DONE").exists()


def mark_done(step_dir: Path) -> None:
    step_dir.mkdir(parents=True, exist_ok=True)
    (step_dir / "DONE").write_text("")
