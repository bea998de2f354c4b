"""The Python API (`from vistakit import load_config, run, read_metrics, RunConfig`): the README's snippet runs
as written, read from README.md so that the two cannot drift apart, and `import vistakit` stays light."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import vistakit

ROOT = Path(__file__).resolve().parents[1]
# what shrinks the snippet's recipe (recipes/rest-em-tiny.yaml) to a run of seconds; the snippet's own
# overrides come after these and win
FAST = [
    "data.n_train=8", "data.n_seed=16", "data.n_test=4", "diagnostics.queries=4",
    "sampling.samples_per_query=2", "sampling.max_new_tokens=16", "sampling.queries_per_batch=4",
    "train.epochs=1", "train.examples_per_device_batch=4", "seed_train.epochs=2",
    "eval.max_new_tokens=16", "model.tiny_hidden_size=64", "model.tiny_layers=2",
]


def readme_snippet() -> str:
    """The indented code block under README.md's "### Python API"."""
    text = (ROOT / "README.md").read_text().split("### Python API\n", 1)[1].split("\n#", 1)[0]
    block, started = [], False
    for line in text.splitlines():
        if line.startswith("    ") or (started and not line.strip()):
            started = True
            block.append(line)
        elif started:
            break
    return textwrap.dedent("\n".join(block)).strip() + "\n"


def test_the_readme_snippet_runs(tmp_path, monkeypatch, capsys):
    """The snippet as written, in a folder holding the repository's recipes, with `load_config` adding FAST's
    sizes before the snippet's own overrides (its recipe's sizes are minutes on a CPU)."""
    code = readme_snippet()
    assert "from vistakit import" in code and "run(cfg)" in code and "read_metrics(" in code
    (tmp_path / "recipes").symlink_to(ROOT / "recipes")
    monkeypatch.chdir(tmp_path)
    real = vistakit.load_config
    monkeypatch.setattr(vistakit, "load_config", lambda path=None, overrides=(): real(path, FAST + list(overrides)))
    namespace: dict = {}
    exec(compile(code, "README.md (Python API)", "exec"), namespace)
    assert isinstance(namespace["cfg"], vistakit.RunConfig) and namespace["cfg"].rounds == 1
    history = namespace["history"]
    assert [h["round"] for h in history] == [0, 1]
    out = capsys.readouterr().out.splitlines()
    printed = [line for line in out if line[:2] in ("0 ", "1 ")]  # the trainer prints its logs too
    assert len(printed) == 2 and printed[1].split()[1] == str(history[1]["accuracy"])
    run_dir = Path(namespace["cfg"].run_dir)
    metrics = vistakit.read_metrics(run_dir)
    assert [m["accuracy"] for m in metrics] == [h["accuracy"] for h in history]
    stored = json.loads((run_dir / "metrics.json").read_text())[1]["model"]  # M_1, relative to the folder
    assert not Path(stored).is_absolute() and Path(metrics[1]["model"]) == run_dir / stored
    assert Path(metrics[1]["model"]).is_dir()


def test_read_metrics_of_a_folder_without_them(tmp_path):
    with pytest.raises(FileNotFoundError, match="is not a run folder"):
        vistakit.read_metrics(tmp_path)
    (tmp_path / "round_0").mkdir()
    with pytest.raises(FileNotFoundError, match="has not finished"):
        vistakit.read_metrics(tmp_path)


def test_import_vistakit_is_light_and_run_is_the_loops():
    code = ("import sys, vistakit; from vistakit import ConfigError, RunConfig, load_config, read_metrics; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'transformers', 'PIL', 'numpy'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    from vistakit import run
    from vistakit.loop import run as loop_run

    assert run is loop_run and set(vistakit.__all__) >= {"RunConfig", "load_config", "run", "read_metrics"}
    with pytest.raises(AttributeError):
        vistakit.no_such_name
