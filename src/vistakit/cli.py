"""`vistakit run CONFIG [key=value ...]`, `vistakit demo`, `vistakit eval MODEL --data DIR`,
`vistakit prepare BENCHMARK --source PATH_OR_ID --out DIR`, `vistakit train-step STEP_DIR` (one training
step from the run folder; the loop runs it under `train.launcher`, e.g. `accelerate launch`)."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from importlib import resources
from pathlib import Path

from vistakit.config import ConfigError, load_config
from vistakit.data import DataError
from vistakit.runfolder import RunFolderLocked
from vistakit.report import diagnostics_table, method_notes, paired_gain, plot, table


def cmd_run(args) -> None:
    from vistakit.loop import Loop

    cfg = load_config(args.config, args.overrides)
    history = Loop(cfg).run()
    print(table([(cfg.method, history)]))
    print(diagnostics_table([(cfg.method, history)]))


def cmd_demo(args) -> None:
    """SFT-Seed on the embedded tiny model, then the method from that seed model, sharing round 0."""
    from vistakit.loop import Loop

    preset = resources.files("vistakit.presets") / "demo.yaml"
    run_dir = Path(args.run_dir or f"runs/demo-seed{args.seed}")
    base = [f"seed={args.seed}", f"data.generator_seed={args.seed}"]
    start = time.time()
    seed_cfg = load_config(preset, base + ["method=sft-seed", f"run_dir={run_dir / 'sft-seed'}"] + args.overrides)
    seed_hist = Loop(seed_cfg).run()
    rows = [("sft-seed", seed_hist)]
    for method in args.method.split(","):
        cfg = load_config(preset, base + [
            f"method={method}", f"run_dir={run_dir / method}", "seed_sft=false",
            f"model.base={seed_hist[0]['model']}", f"data.path={run_dir / 'sft-seed' / 'data'}",
        ] + _method_preset(method) + args.overrides)
        rows.append((method, Loop(cfg).run()))
    chance, prior = _baselines(run_dir / "sft-seed" / "data")
    print(table(rows[:1] + [(name, hist[1:]) for name, hist in rows[1:]]))  # round 0 is SFT-Seed's row
    print("\nDiagnostics (probes of M_t on the first held-out queries; the sampling columns are round t's, by M_t-1):")
    print(diagnostics_table(rows[:1] + [(name, hist[1:]) for name, hist in rows[1:]]))
    for name, hist in rows[1:]:
        last = hist[-1]["round"]
        base, final = run_dir / "sft-seed" / "round_0" / "eval", run_dir / name / f"round_{last}" / "eval"
        if not (base / "samples.jsonl").exists() or not (final / "samples.jsonl").exists():
            continue  # named evaluation sets: one folder per set
        gain, se, n = paired_gain(base, final)
        print(f"{name} round {last} - SFT-Seed: {100 * gain:+.1f} +- {100 * se:.1f} points (paired, {n} test queries)")
    notes = method_notes(rows[1:])
    if notes:  # VRE, R3V
        print(notes)
    for name, _ in rows[1:]:
        if (run_dir / name / "phase_attention.png").exists():
            print(f"{name}: attention to the image per phase: {run_dir / name / 'phase_attention.png'}")
    figure = plot(rows, run_dir / "accuracy.png", chance)
    print(f"test split: chance accuracy {chance:.3f}, answer-prior (no look) accuracy {prior:.3f}; "
          f"demo took {(time.time() - start) / 60:.1f} min; plot {figure}; run folders under {run_dir}")


def _method_preset(method: str) -> list[str]:
    """`presets/demo-<method>.yaml`, if there is one, as overrides for that method's run only (so the shared
    preset, and the run folders of the other methods, stay as they were)."""
    import yaml

    f = resources.files("vistakit.presets") / f"demo-{method}.yaml"
    if not f.is_file():
        return []

    def flat(d, prefix=""):
        for k, v in d.items():
            if isinstance(v, dict):
                yield from flat(v, f"{prefix}{k}.")
            else:
                # YAML's own spelling, which the override parser reads back as the same value (3.0e-05 is a float,
                # JSON's 3e-05 would be a string to YAML 1.1)
                yield f"{prefix}{k}=" + yaml.safe_dump(v, default_flow_style=True).replace("\n...\n", "").strip()

    return list(flat(yaml.safe_load(f.read_text()) or {}))


def _baselines(data_dir: Path) -> tuple[float, float]:
    from vistakit.runfolder import read_jsonl
    from vistakit.tasks.shapes import chance_accuracy, prior_accuracy

    rows = read_jsonl(data_dir / "test.jsonl")
    return chance_accuracy(rows), prior_accuracy(rows)


def cmd_eval(args) -> None:
    from vistakit.data import load_split
    from vistakit.evaluate import evaluate
    from vistakit.models.load import load
    from vistakit.sampling import HFBackend

    model, processor = load(args.model, args.dtype, device=args.device)
    queries = load_split(Path(args.data) / f"{args.split}.jsonl", args.task)[: args.max_queries]
    out = Path(args.out or f"runs/eval/{Path(args.model).name}-{args.split}")
    if (out / "samples.jsonl").exists():
        raise ConfigError(f"{out} already holds an evaluation; pass another --out")
    metrics = evaluate(HFBackend(model.eval(), processor), processor, queries, out,
                       max_new_tokens=args.max_new_tokens, queries_per_batch=args.queries_per_batch)
    print(table([(Path(args.model).name[:10], [{"round": 0, **metrics}])]))


def cmd_prepare(args) -> None:
    from vistakit.tasks.benchmark import get_benchmark, prepare

    bench = get_benchmark(args.benchmark)
    out = Path(args.out or f"data/{bench.name}")
    splits = args.splits.split(",") if args.splits else None
    files = prepare(bench.name, args.source, out, splits, args.limit)
    for split, path in files.items():
        print(f"{bench.name} {split}: {sum(1 for _ in open(path))} rows in {path}")
    print(f"use it with: data.sources.{bench.name}={files[next(iter(files))].parent}")


def cmd_train_step(args) -> None:
    from vistakit.train_step import run_from_folder

    run_from_folder(Path(args.step_dir))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="vistakit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="run a recipe")
    p.add_argument("config")
    p.add_argument("overrides", nargs="*", help="key=value, e.g. sampling.samples_per_query=4")
    p.set_defaults(fn=cmd_run)
    p = sub.add_parser("demo", help="the embedded default: tiny Qwen2.5-VL on the synthetic shapes task")
    p.add_argument("--method", default="rest-em,vista-sft", help="comma-separated methods run from the same seed model")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--run-dir", default=None)
    p.add_argument("overrides", nargs="*")
    p.set_defaults(fn=cmd_demo)
    p = sub.add_parser("eval", help="greedy accuracy of a model on a split")
    p.add_argument("model")
    p.add_argument("--data", required=True, help="folder with <split>.jsonl")
    p.add_argument("--split", default="test")
    p.add_argument("--task", default=None, help="verifier; default: the rows' own 'task' field")
    p.add_argument("--out", default=None, help="default: runs/eval/<model folder>-<split>")
    p.add_argument("--dtype", default="float32")
    p.add_argument("--device", default="cpu")
    p.add_argument("--max-new-tokens", type=int, default=2048)
    p.add_argument("--queries-per-batch", type=int, default=32)
    p.add_argument("--max-queries", type=int, default=None)
    p.set_defaults(fn=cmd_eval)
    p = sub.add_parser("prepare", help="convert a benchmark (hub id, hub files, or original release) to vistakit rows")
    p.add_argument("benchmark", help="chartqa | geometry3k | geometry3k-mc | mathvista | scienceqa | slake | vqa-rad | wemath")
    p.add_argument("--source", default=None, help="hub id, or a local folder (original release, save_to_disk, "
                   "hub files); default: the benchmark's hub id")
    p.add_argument("--out", default=None, help="output folder; default: data/<benchmark>")
    p.add_argument("--splits", default=None, help="comma-separated, e.g. train,test; default: all")
    p.add_argument("--limit", type=int, default=None, help="keep the first N rows of each split")
    p.set_defaults(fn=cmd_prepare)
    p = sub.add_parser("train-step", help="train from round_t/train/train_inputs.json (run by train.launcher)")
    p.add_argument("step_dir")
    p.set_defaults(fn=cmd_train_step)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    for noisy in ("httpx", "transformers", "accelerate"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        args.fn(args)
    except (ConfigError, DataError, RunFolderLocked) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
