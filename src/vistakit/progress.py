"""Progress that stays readable in a log file: a tqdm bar on a terminal; elsewhere (a log, a CI job, `nohup`)
one plain line every `every_s` seconds and at the end, instead of one line of thousands of characters of
carriage-return updates per bar."""

from __future__ import annotations

import sys
import time
from typing import Iterable, Iterator, TypeVar

from tqdm import tqdm

T = TypeVar("T")


def on_terminal() -> bool:
    return sys.stderr.isatty()


def progress(iterable: Iterable[T], desc: str, unit: str = "batch", every_s: float = 30.0) -> Iterable[T]:
    if on_terminal():
        return tqdm(iterable, desc=desc, unit=unit)
    return _lines(iterable, desc, unit, every_s)


def _lines(iterable: Iterable[T], desc: str, unit: str, every_s: float) -> Iterator[T]:
    total = len(iterable) if hasattr(iterable, "__len__") else None
    start = last = time.monotonic()
    done, said = 0, 0

    def say(now: float) -> None:
        of = f"/{total}" if total is not None else ""
        rate = done / max(now - start, 1e-9)
        print(f"{desc}: {done}{of} {unit} in {now - start:.0f}s ({rate:.2f} {unit}/s)", file=sys.stderr, flush=True)

    for item in iterable:
        yield item
        done += 1
        now = time.monotonic()
        if now - last >= every_s or done == total:
            say(now)
            last, said = now, done
    if said != done:  # an iterable of unknown length ended
        say(time.monotonic())
