"""Child processes of the loop (a training step under its launcher, sampling and scoring shards)."""

from __future__ import annotations

import ctypes
import signal


def die_with_parent() -> None:
    """Linux: the child gets SIGTERM when the loop dies, so a killed-and-resumed loop never runs a step twice."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass
