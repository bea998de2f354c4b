"""Child processes of the loop (a training step under its launcher, sampling and scoring shards) and of the
demo (its methods side by side)."""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from vistakit.progress import read_status, status_line

log = logging.getLogger(__name__)


def die_with_parent() -> None:
    """Linux: the child gets SIGTERM when the loop dies, so a killed-and-resumed loop never runs a step twice."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def start(cmd: list[str], log_file: Path, env: dict, append: bool = False) -> subprocess.Popen:
    """`cmd` in the background, its output in log_file (appended: a resumed demo keeps its methods' history),
    killed with the loop."""
    with open(log_file, "a" if append else "w") as f:  # the child holds its own copy of the descriptor
        return subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, env=env,
                                preexec_fn=die_with_parent if sys.platform == "linux" else None)


def cpu_threads() -> int:
    """The threads a run may use: OMP_NUM_THREADS when set, else the cores."""
    return max(1, int(os.environ.get("OMP_NUM_THREADS") or os.cpu_count() or 1))


def side_by_side(commands: dict[str, list[str]], log_dir: Path, jobs: int, status: dict[str, Path] | None = None,
                 every_s: float = 30.0) -> None:
    """Run the commands, `jobs` at a time, each with its share of the CPU threads (of OMP_NUM_THREADS, else of
    the cores), its output in log_dir/<name>.log. Tiny models' matmuls gain little from a second thread, so on
    a few cores separate processes finish sooner: on 2 cores a ReST-EM round took 1.3x as long at one thread
    beside another run as alone at two. Every `every_s` seconds in which one moved on, one line per running
    command from its status file (`status[name]`, the run's progress.json: round, step, batches). Raises,
    naming the log, when one fails (the others still finish)."""
    threads = max(1, cpu_threads() // jobs)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    pending, running, started, failed = list(commands.items()), {}, {}, []
    width = max(map(len, commands), default=0)
    said, said_at = {}, time.time()
    while pending or running:
        while pending and len(running) < jobs:
            name, cmd = pending.pop(0)
            running[name] = start(cmd, log_dir / f"{name}.log", env, append=True)
            started[name] = time.time()
        time.sleep(0.5)
        for name, proc in list(running.items()):
            if proc.poll() is not None:
                del running[name]
                log.info("%s: %s after %.1f min", name, "done" if proc.returncode == 0 else "failed",
                         (time.time() - started[name]) / 60)
                if proc.returncode != 0:
                    failed.append(f"{name} (exit {proc.returncode}; log {log_dir / f'{name}.log'})")
        now = time.time()
        if status and running and now - said_at >= every_s:
            lines = {name: status_line(read_status(status[name]) or {}) for name in running}
            if lines != said or now - said_at >= 10 * every_s:  # a line when one moved on, else now and then
                for name, line in lines.items():
                    log.info("%-*s  %s  (%.1f min)", width, name, line, (now - started[name]) / 60)
                said, said_at = lines, now
    if failed:
        raise RuntimeError("failed: " + ", ".join(failed))
