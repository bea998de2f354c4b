"""Methods (docs/methods.md states each): each is one round function `round(ctx, t) -> M_t` composed of the public
steps in `vistakit.steps` (or VRE's in `vistakit.vre.steps`), one file per method. A new method is a new
function and one entry in METHODS (a test defines one in its own file: tests/test_methods.py).

SFT-Seed has no round: it is round 0 alone (M_0 after SFT on the seed chains).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from vistakit.config import ConfigError
from vistakit.context import Context
from vistakit.methods.r3v import r3v_metrics, r3v_round
from vistakit.methods.rest_em import rest_em_round
from vistakit.methods.rft import rft_round
from vistakit.methods.star import star_round
from vistakit.methods.vista import prefix_only_round, vas_only_round, vista_dpo_round, vista_sft_round
from vistakit.methods.vre import vre_metrics, vre_round


@dataclass(frozen=True)
class Method:
    round: Callable[[Context, int], str] | None  # None: no self-improvement rounds (SFT-Seed)
    rounds: int | None = None  # a fixed number of rounds; None: the config's T (`rounds`)
    seed_sft: bool = False  # always SFT model.base on the seed chains in round 0, whatever `seed_sft` says
    metrics: Callable[[Context, int, str], dict] | None = None  # extra numbers of round t's model, after its evaluation


METHODS: dict[str, Method] = {
    "sft-seed": Method(None, rounds=0, seed_sft=True),
    "rft": Method(rft_round, rounds=1),
    "rest-em": Method(rest_em_round),
    "star": Method(star_round),
    "vista-sft": Method(vista_sft_round),
    "vista-dpo": Method(vista_dpo_round),
    "prefix-only": Method(prefix_only_round),
    "vas-only": Method(vas_only_round),
    "vre": Method(vre_round, metrics=vre_metrics),
    "r3v": Method(r3v_round, metrics=r3v_metrics),
}


def get_method(name: str) -> Method:
    if name not in METHODS:
        raise ConfigError(f"unknown method {name!r}; known: {', '.join(sorted(METHODS))}")
    return METHODS[name]
