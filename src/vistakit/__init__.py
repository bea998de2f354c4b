"""vistakit from Python (a notebook, a sweep script): load a recipe with overrides, run it, read a run folder's
metrics. README, "Python API":

    from vistakit import load_config, read_metrics, run

    cfg = load_config("recipes/rest-em-tiny.yaml", ["rounds=1", "run_dir=runs/api"])  # a recipe, or None
    history = run(cfg)               # one dict per round (accuracy, probes, ...), as run_dir/metrics.json
    read_metrics("runs/api")         # the same list, read back from a finished run folder

`load_config` checks the config as `vistakit run` does (ConfigError names the key); `RunConfig` is the typed
config it returns. `run` is `vistakit.loop.run`, imported on first use: `import vistakit` imports no torch,
so that `vistakit --help` and `vistakit config` (which import this package first) stay instant
(tests/test_config_schema.py).
"""

from vistakit.config import ConfigError, RunConfig, load_config
from vistakit.runfolder import read_metrics

__all__ = ["ConfigError", "RunConfig", "load_config", "read_metrics", "run"]


def __getattr__(name: str):
    """`vistakit.run`, imported when first asked for (it brings torch and transformers)."""
    if name == "run":
        from vistakit.loop import run

        globals()["run"] = run
        return run
    raise AttributeError(f"module 'vistakit' has no attribute {name!r}")
