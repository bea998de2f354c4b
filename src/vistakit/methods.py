"""Methods as compositions of the loop's steps (SPEC.md, "Baselines"). A new method is one entry here."""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from vistakit.config import ConfigError


@dataclass(frozen=True)
class Method:
    name: str
    rounds: int | None  # fixed number of rounds, or None: the config's T
    augment: tuple[str, ...] = ()  # "rationalize" (STaR), "prefix" (VISTA step 1)
    dedup: bool = False
    vas_filter: bool = False  # VISTA step 2
    train: str = "sft"  # "sft" | "dpo" (DPO+NLL)
    seed_only: bool = False  # SFT-Seed: no self-generated data at all
    # A method with its own round: "module:function" (loop, current, m0, train, test, round_dir, t) -> M_t,
    # and an optional hook after each evaluation (loop, model, round_dir, test) -> extra metrics. Named, not
    # imported, here: those modules use the loop's steps.
    round_fn: str | None = None
    after_eval: str | None = None

    def hook(self, name: str):
        target = getattr(self, name)
        if target is None:
            return None
        module, fn = target.split(":")
        return getattr(importlib.import_module(module), fn)


METHODS = {
    "sft-seed": Method("sft-seed", rounds=0, seed_only=True),
    "rft": Method("rft", rounds=1, dedup=True),
    "rest-em": Method("rest-em", rounds=None),
    "star": Method("star", rounds=None, augment=("rationalize",)),
    "vista-sft": Method("vista-sft", rounds=None, augment=("prefix",), vas_filter=True),
    "vista-dpo": Method("vista-dpo", rounds=None, augment=("prefix",), vas_filter=True, train="dpo"),
    "prefix-only": Method("prefix-only", rounds=None, augment=("prefix",)),
    "vas-only": Method("vas-only", rounds=None, vas_filter=True),
    "vre": Method("vre", rounds=None, round_fn="vistakit.vre.round:vre_round",
                  after_eval="vistakit.vre.round:vre_after_eval"),
    "r3v": Method("r3v", rounds=None, round_fn="vistakit.r3v:r3v_round", after_eval="vistakit.r3v:r3v_after_eval"),
}


def get_method(name: str) -> Method:
    if name not in METHODS:
        raise ConfigError(f"unknown method {name!r}; known: {', '.join(sorted(METHODS))}")
    return METHODS[name]
