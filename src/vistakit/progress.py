"""Progress that stays readable in a log file: a tqdm bar on a terminal; elsewhere (a log, a CI job, `nohup`)
one plain line every `every_s` seconds and at the end, instead of one line of thousands of characters of
carriage-return updates per bar.

A run also keeps what it is doing in a small JSON file, `run_dir/progress.json` (`report_to`, `status`):
its method, round, and the step, done and total of the bar running now. The loop's own child processes (a
training step under its launcher, sampling shards) write to the same file; the demo reads it to print one
line per method while the methods run side by side in processes of their own (`children.side_by_side`).
"""

from __future__ import annotations

import json
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator, TypeVar

from tqdm import tqdm

T = TypeVar("T")

STATUS_ENV = "VISTAKIT_STATUS"  # the status file of the run this process works for; its children inherit it
_status: dict = {}  # this process's copy of the status file
_loaded: list[str] = []  # the status file _status was read from


def on_terminal() -> bool:
    return sys.stderr.isatty()


@contextmanager
def report_to(path: Path) -> Iterator[None]:
    """Keep this process's progress (and its children's) in `path` while the block runs."""
    before = os.environ.get(STATUS_ENV), dict(_status), list(_loaded)
    os.environ[STATUS_ENV] = str(path)
    _status.clear()
    _loaded[:] = [str(path)]
    try:
        yield
    finally:
        if before[0] is None:
            os.environ.pop(STATUS_ENV, None)
        else:
            os.environ[STATUS_ENV] = before[0]
        _status.clear()
        _status.update(before[1])
        _loaded[:] = before[2]


def status(**fields) -> dict:
    """Merge `fields` into the status file (if this process has one, `report_to`) and return the status. A
    child process starts from what its parent wrote, so its lines keep the method and round."""
    path = os.environ.get(STATUS_ENV)
    if path and _loaded != [path]:  # first call in a child process, or a new run
        _status.clear()
        _status.update(read_status(Path(path)) or {})
        _loaded[:] = [path]
    _status.update(fields, time=time.time())
    if path:
        tmp = f"{path}.{os.getpid()}.tmp"
        try:
            with open(tmp, "w") as f:
                json.dump(_status, f)
            os.replace(tmp, path)  # a reader never sees half a file
        except OSError:  # the run folder is gone or read-only: progress is a courtesy, never the end of a run
            pass
    return _status


def read_status(path: Path) -> dict | None:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def where(s: dict) -> str:
    """'rest-em round 2/3' of a status: what a progress line is about."""
    text = s.get("method") or ""
    if s.get("round") is not None:
        text += f" round {s['round']}" + (f"/{s['rounds']}" if s.get("rounds") else "")
    return text.strip()


def status_line(s: dict) -> str:
    """One line of a status: 'round 2/3: sampling 5/10 batches'."""
    head = where({**s, "method": None})
    step = s.get("step") or "starting"
    if s.get("done") is not None:
        step += f" {s['done']}" + (f"/{s['total']}" if s.get("total") is not None else "") + f" {s.get('unit', '')}"
    return f"{head}: {step.strip()}" if head else step.strip()


class Ticker:
    """`done` of `total` units of one step: a tqdm bar on a terminal, else a plain line every `every_s` seconds
    and at the end; either way the status file, at most once a second."""

    def __init__(self, desc: str, total: int | None = None, unit: str = "batch", every_s: float = 30.0):
        self.desc, self.total, self.unit, self.every_s = desc, total, unit, every_s
        self.start = self.last = self.written = time.monotonic()
        self.done, self.said, self.note = 0, 0, ""
        self.bar = tqdm(total=total, desc=desc, unit=unit) if on_terminal() else None
        status(step=desc, done=0, total=total, unit=_plural(unit, total))

    def update(self, done: int, note: str = "") -> None:
        now = time.monotonic()
        if self.bar is not None:
            self.bar.update(done - self.done)
            if note:
                self.bar.set_postfix_str(note, refresh=False)
        self.done, self.note = done, note
        if now - self.written >= 1.0 or done == self.total:
            status(step=self.desc, done=done, total=self.total, unit=_plural(self.unit, self.total))
            self.written = now
        if self.bar is None and (now - self.last >= self.every_s or done == self.total):
            self._say(now)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        elif self.said != self.done:  # an iterable of unknown length ended, or a step stopped early
            self._say(time.monotonic())

    def _say(self, now: float) -> None:
        of = f"/{self.total}" if self.total is not None else ""
        rate = self.done / max(now - self.start, 1e-9)
        about = where(_status)
        print(f"{about + ': ' if about else ''}{self.desc}: {self.done}{of} {_plural(self.unit, self.total)} in "
              f"{now - self.start:.0f}s ({rate:.2f} {self.unit}/s){', ' + self.note if self.note else ''}",
              file=sys.stderr, flush=True)
        self.last, self.said = now, self.done


def _plural(unit: str, total: int | None) -> str:
    return unit if total == 1 or unit.endswith("s") else unit + "es" if unit.endswith(("ch", "sh")) else unit + "s"


def progress(iterable: Iterable[T], desc: str, unit: str = "batch", every_s: float = 30.0) -> Iterator[T]:
    ticker = Ticker(desc, len(iterable) if hasattr(iterable, "__len__") else None, unit, every_s)
    try:
        for i, item in enumerate(iterable, 1):
            yield item
            ticker.update(i)
    finally:
        ticker.close()
