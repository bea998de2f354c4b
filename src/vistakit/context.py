"""What every step of a run is given: the config, the run folder, the queries, the models made so far, and
the one engine that holds a model on the accelerator.

Steps (`vistakit.steps`, `vistakit.vre.steps`) read and write the run folder; the context only saves them
from reloading the queries and the model between two steps that use the same one.
"""

from __future__ import annotations

import gc
import json
from dataclasses import dataclass, field
from pathlib import Path

import torch

from vistakit.config import RunConfig
from vistakit.models.load import load, load_kwargs, load_model
from vistakit.runfolder import resolve_stored, write_json
from vistakit.sampling.hf_backend import HFBackend
from vistakit.tasks.data import Query
from vistakit.vista.scoring import ScoringModel


class Engine:
    """One model open at a time: the sampler (HF generate or vLLM) and, when a step asks, the HF model for
    teacher-forced passes (`scorer`). Opening another model closes the open one first (one engine holds the
    GPU); asking for the open one again reuses it (e.g. the probes after the evaluation of the same model)."""

    def __init__(self, cfg: RunConfig):
        self.cfg = cfg
        self.sampler, self.scorer, self.model_path = None, None, None

    def open(self, model_path: str):
        if self.sampler is not None and self.model_path == model_path:
            return self.sampler
        self.close()
        m = self.cfg.model
        scoring_dtype = m.scoring_dtype or m.dtype
        if self.cfg.sampling.backend == "vllm":
            from vistakit.sampling.vllm_backend import VLLMBackend  # the optional 'vllm' extra

            backend = VLLMBackend(model_path, self.cfg.sampling.vllm, dtype=m.dtype, seed=self.cfg.seed,
                                  trust_remote_code=m.trust_remote_code)
        else:
            model, processor = load(model_path, **load_kwargs(m))
            backend = HFBackend(model.eval(), processor)
        reuse = self.cfg.sampling.backend == "hf" and scoring_dtype == m.dtype
        self.sampler, self.model_path = backend, model_path
        self.scorer = ScoringModel(backend, None if reuse else lambda: load_model(
            model_path, scoring_dtype, m.attn_implementation, m.device, m.trust_remote_code), m.device)
        return backend

    def close(self) -> None:
        """Free the accelerator, e.g. before training loads M_0."""
        for obj in (self.scorer, self.sampler):
            if obj is not None and hasattr(obj, "close"):
                obj.close()
        self.sampler, self.scorer, self.model_path = None, None, None
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


@dataclass
class Context:
    cfg: RunConfig
    run_dir: Path
    train: list[Query]
    test: list[Query] | dict[str, list[Query]]
    engine: Engine
    models: dict[int, str] = field(default_factory=dict)  # M_t of every round done: models[0] is M_0

    @property
    def by_id(self) -> dict[str, Query]:
        return {q.id: q for q in self.train}

    @property
    def system(self) -> str | None:
        return self.cfg.model.system_prompt

    def round_dir(self, t: int) -> Path:
        return self.run_dir / f"round_{t}"

    def seed(self, t: int) -> int:
        """Round t's sampling seed (every step of the round derives its batches' seeds from it)."""
        return self.cfg.seed * 1000 + t

    def stored_path(self, path: str | Path) -> str:
        """`path` as written into the run folder: relative to it when inside it, so a moved folder resumes."""
        p = Path(path)
        try:
            return p.resolve().relative_to(self.run_dir.resolve()).as_posix()
        except ValueError:
            return str(path)  # outside the run folder (a hub id, model.base): as given

    def resolve(self, stored: str) -> str:
        """A path read from the run folder (`stored_path`), as a path usable from the working directory."""
        return str(resolve_stored(self.run_dir, stored) or stored)  # not found: a hub id, as stored

    def write_result(self, path: Path, model: str, **extra) -> None:
        write_json(path, {"model": self.stored_path(model), **extra})

    def read_result(self, path: Path) -> str:
        return self.resolve(json.loads(path.read_text())["model"])
