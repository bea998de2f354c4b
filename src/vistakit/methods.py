"""Methods as compositions of the loop's steps (SPEC.md, "Baselines"). A new method is one entry here."""

from __future__ import annotations

from dataclasses import dataclass

from vistakit.config import ConfigError


@dataclass(frozen=True)
class Method:
    name: str
    rounds: int | None  # fixed number of rounds, or None: the config's T
    augment: tuple[str, ...] = ()  # "rationalize"
    dedup: bool = False
    train: str = "sft"
    seed_only: bool = False  # SFT-Seed: no self-generated data at all


METHODS = {
    "sft-seed": Method("sft-seed", rounds=0, seed_only=True),
    "rft": Method("rft", rounds=1, dedup=True),
    "rest-em": Method("rest-em", rounds=None),
    "star": Method("star", rounds=None, augment=("rationalize",)),
}


def get_method(name: str) -> Method:
    if name not in METHODS:
        raise ConfigError(f"unknown method {name!r}; known: {', '.join(sorted(METHODS))}")
    return METHODS[name]
