"""A model card (README.md) beside every model a run trains, so the folder says what it is when it is
copied out of the run: the method and round, what it was trained from and on, and how it scored."""

from __future__ import annotations

import json
from pathlib import Path

from vistakit.config import RunConfig
from vistakit.runfolder import write_text


def card(cfg: RunConfig, t: int, entry: dict, train_examples: int | None) -> str:
    base = cfg.model.base
    hub_base = base if base != "tiny" and not Path(base).exists() else None
    front = ["---", "library_name: transformers", "pipeline_tag: image-text-to-text",
             f"tags: [vistakit, {cfg.method}]", *([f"base_model: {hub_base}"] if hub_base else []), "---"]
    groups = [f"{key[3:]} {name}: {m['accuracy']:.3f} (n={m['n']})" for key, by in entry.items()
              if key.startswith("by_") and isinstance(by, dict) for name, m in by.items() if "accuracy" in m]
    groups += [f"{name}: {m['accuracy']:.3f} (n={m['n']})" for name, m in (entry.get("eval_sets") or {}).items()]
    data = cfg.data.train_sets or [cfg.data.path or f"the synthetic shapes task (generator seed {cfg.data.generator_seed})"]
    lines = [
        *front, "",
        f"# {cfg.method}, round {t}",
        "",
        f"Made by vistakit's `{cfg.method}` (round {t} of {cfg.rounds}, run seed {cfg.seed}): "
        + ("M_0, the base model after SFT on the seed chains." if t == 0 else
           "a fresh copy of M_0 trained on the round's own verified samples (select/train_set.jsonl"
           + (f", {train_examples} examples" if train_examples is not None else "") + ")."),
        "",
        f"- base model: `{base}`",
        f"- training data: {', '.join(map(str, data))}",
        f"- held-out accuracy (greedy): {entry['accuracy']:.3f}" if isinstance(entry.get("accuracy"), (int, float)) else None,
        *[f"  - {g}" for g in groups],
        "",
        "Load it with plain transformers (the processor's code travels in `processing_vistakit.py`):",
        "",
        "```python",
        "from transformers import AutoModelForImageTextToText, AutoProcessor",
        "processor = AutoProcessor.from_pretrained(PATH, trust_remote_code=True)",
        "model = AutoModelForImageTextToText.from_pretrained(PATH)",
        "```",
        "",
        "The run folder's metrics.json, config.yaml and round folders hold the rest.",
    ]
    return "\n".join(line for line in lines if line is not None) + "\n"


def write_card(cfg: RunConfig, round_dir: Path, t: int, model: str, entry: dict) -> None:
    """README.md in `model`'s folder when round t made it (never in a base model the user gave, nor in an
    earlier round's model a round kept because nothing survived its filter)."""
    folder = Path(model)
    try:
        folder.resolve().relative_to(Path(round_dir).resolve())
    except ValueError:
        return
    if not (folder / "config.json").exists():
        return
    result = folder.parent / "result.json"
    examples = json.loads(result.read_text()).get("examples") if result.exists() else None
    write_text(folder / "README.md", card(cfg, t, entry, examples))
