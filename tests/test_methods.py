"""Methods are compositions of public steps: one defined here alone runs end to end; a run folder moved
elsewhere resumes and evaluates; the package's imports run one way."""

import ast
import json
import shutil
from pathlib import Path

import pytest

from vistakit import steps
from vistakit.config import METHOD_NAMES, load_config
from vistakit.loop import run
from vistakit.methods import METHODS, Method
from vistakit.runfolder import read_jsonl

TINY = [
    "rounds=1", "seed_sft=true", "data.n_train=12", "data.n_seed=48", "data.n_test=6",
    "sampling.samples_per_query=3", "sampling.max_new_tokens=20", "sampling.queries_per_batch=4",
    "train.epochs=1", "train.examples_per_device_batch=4", "seed_train.epochs=10", "seed_train.learning_rate=0.003",
    "eval.max_new_tokens=20", "model.tiny_hidden_size=64", "model.tiny_layers=2", "diagnostics.queries=4",
]


def short_answers_round(ctx, t):
    """ReST-EM with dedup that keeps, per query, only the shortest correct response: a new method in 6 lines."""
    records = steps.sample(ctx, t)
    decisions = steps.select(ctx, records, dedup=True)
    shortest = {}
    for d in decisions:
        if d["kept"] and (d["query_id"] not in shortest or d["n_tokens"] < shortest[d["query_id"]]["n_tokens"]):
            shortest[d["query_id"]] = d
    decisions = [{**d, "kept": d is shortest.get(d["query_id"]),
                  "reason": "not_shortest" if d["kept"] and d is not shortest.get(d["query_id"]) else d["reason"]}
                 for d in decisions]
    steps.write_selection(ctx, t, records, decisions)
    return steps.train(ctx, t)


def test_a_method_defined_in_a_test_runs_end_to_end(tmp_path):
    cfg = load_config(None, TINY + [f"run_dir={tmp_path}"])
    history = run(cfg, method=Method(short_answers_round))
    assert [h["round"] for h in history] == [0, 1]
    decisions = read_jsonl(tmp_path / "round_1" / "select" / "decisions.jsonl")
    kept = [d for d in decisions if d["kept"]]
    assert kept and len({d["query_id"] for d in kept}) == len(kept)  # one per query
    train_set = read_jsonl(tmp_path / "round_1" / "select" / "train_set.jsonl")
    assert [(r["query_id"], r["sample"]) for r in train_set] == [(d["query_id"], d["sample"]) for d in kept]
    # the SFT set loads as a dataset in TRL's conversational prompt-completion format, images beside it
    from datasets import load_dataset
    from trl.data_utils import is_conversational

    ds = load_dataset("json", data_files=str(tmp_path / "round_1" / "select" / "train_set.jsonl"), split="train")
    assert {"prompt", "completion", "images"} <= set(ds.column_names) and is_conversational(ds[0])
    assert [row["completion"][0]["content"][0]["text"] for row in ds] == [r["response"] for r in train_set]
    assert all((tmp_path / row["images"][0]).exists() and row["prompt"][0]["content"][0]["type"] == "image"
               for row in ds)
    result = json.loads((tmp_path / "round_1" / "train" / "result.json").read_text())
    assert result == {"model": "round_1/train/model", "examples": len(kept)}  # relative to the run folder
    assert history[1]["kept"] == len(kept) and 0 <= history[1]["accuracy"] <= 1
    card = (tmp_path / "round_1" / "train" / "model" / "README.md").read_text()  # the model says what it is
    assert "pipeline_tag: image-text-to-text" in card and f"held-out accuracy (greedy): {history[1]['accuracy']:.3f}" in card
    assert f"{len(kept)} examples" in card and "trust_remote_code=True" in card


def test_training_reads_the_train_set_file(tmp_path):
    """Editing select/train_set.jsonl before the train step changes what is trained on."""
    cfg = load_config(None, TINY + [f"run_dir={tmp_path}", "method=rest-em"])

    def edited_round(ctx, t):
        records = steps.sample(ctx, t)
        steps.write_selection(ctx, t, records, steps.select(ctx, records))
        path = ctx.round_dir(t) / "select" / "train_set.jsonl"
        rows = read_jsonl(path)[:1] or [steps.train_row(records[0], ctx.by_id[records[0]["query_id"]])]
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        return steps.train(ctx, t)

    run(cfg, method=Method(edited_round))
    assert json.loads((tmp_path / "round_1" / "train" / "result.json").read_text())["examples"] == 1


def test_a_moved_run_folder_resumes_and_evaluates(tmp_path, monkeypatch):
    first = tmp_path / "a" / "run"
    cfg = load_config(None, TINY + ["rounds=2", "method=rest-em", f"run_dir={first}"])
    monkeypatch.chdir(tmp_path)
    full = run(cfg)
    # the same run, stopped after round 1's training (as if killed), moved, resumed from another directory
    shutil.rmtree(first / "round_2")
    for name in ("eval", "probes"):
        shutil.rmtree(first / "round_1" / name)
    (first / "round_1" / "round.json").unlink()
    moved = tmp_path / "elsewhere" / "run"
    moved.parent.mkdir()
    shutil.move(str(first), str(moved))
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    again = run(load_config(None, TINY + ["rounds=2", "method=rest-em", f"run_dir={moved}"]))
    assert [h["accuracy"] for h in again] == [h["accuracy"] for h in full]
    assert [h["model"] for h in json.loads((moved / "metrics.json").read_text())] == [
        "round_0/train/model", "round_1/train/model", "round_2/train/model"]
    # a finished round keeps each sample once: in its step's samples.jsonl (the batch files are gone),
    # decisions name it, and only the kept ones are repeated, as the training input
    assert not list(moved.rglob("batches"))
    r2 = moved / "round_2"
    ids = [tuple(r["token_ids"]) for f in r2.rglob("samples.jsonl") for r in read_jsonl(f) if "token_ids" in r]
    stored = [tuple(r["token_ids"]) for f in r2.rglob("*.jsonl") for r in read_jsonl(f) if "token_ids" in r]
    assert sorted(stored) == sorted(ids)  # token ids appear in the samples files only
    assert all("token_ids" not in d and "response" not in d for d in read_jsonl(r2 / "select" / "decisions.jsonl"))


def test_every_method_name_a_config_may_give_has_a_method():
    assert set(METHOD_NAMES) == set(METHODS)


def _imports(path: Path, package: str) -> set[str]:
    """The vistakit modules `path` imports when it runs (imports under `if TYPE_CHECKING:` never do)."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            node.body = []
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("vistakit"):
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("vistakit"))
    return out


def test_the_import_graph_has_no_cycle():
    src = Path(__file__).parents[1] / "src" / "vistakit"
    modules = {}
    for path in src.rglob("*.py"):
        parts = path.relative_to(src.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    graph = {m: {i for i in _imports(p, m) if i in modules and i != m} for m, p in modules.items()}
    # a package's __init__ importing its own submodules is how a package is assembled, not a cycle
    graph = {m: {i for i in deps if not (modules[m].name == "__init__.py" and i.startswith(m + "."))}
             for m, deps in graph.items()}
    state: dict[str, int] = {}

    def visit(m, stack):
        state[m] = 1
        for n in graph[m]:
            if state.get(n) == 1:
                pytest.fail("import cycle: " + " -> ".join(stack[stack.index(n):] + [n]) if n in stack else n)
            if n not in state:
                visit(n, stack + [n])
        state[m] = 2

    for m in graph:
        if m not in state:
            visit(m, [m])


def test_no_import_inside_a_function_except_optional_extras_and_the_cli():
    src = Path(__file__).parents[1] / "src" / "vistakit"
    # optional extras (vllm, peft, the benchmarks' datasets / math_verify / hub download), and the slow
    # imports only one step needs (trl for GRPO, matplotlib for a plot), a tracking backend only when chosen
    # (onnx: the `smol` extra, read once to build the pretrained organism; openai: the `openai` extra, VRE's
    # OpenAI-compatible scorer)
    allowed = {"vllm", "peft", "deepspeed", "ray", "datasets", "math_verify", "huggingface_hub", "trl", "matplotlib",
               "vistakit.sampling.vllm_backend", "wandb", "onnx", "openai"}
    found = []
    for path in src.rglob("*.py"):
        if path.name == "cli.py":  # the CLI defers heavy imports so that --help and `config` are instant
            continue
        if path == src / "__init__.py":  # `vistakit.run`, imported on first use: `import vistakit` stays light
            continue
        for fn in ast.walk(ast.parse(path.read_text())):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for node in ast.walk(fn):
                    names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                             else [node.module] if isinstance(node, ast.ImportFrom) else [])
                    found += [f"{path.relative_to(src)}:{node.lineno} {n}" for n in names
                              if n and n not in allowed and n.split(".")[0] not in allowed]
    assert not found, found
