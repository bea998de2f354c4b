"""vistakit's command line: `vistakit --help` lists the commands, `vistakit COMMAND --help` explains one.

    vistakit demo                                             the embedded demo on CPU, nothing downloaded
    vistakit run RECIPE [key=value ...] [--dry-run]           a self-improvement run (resumes when re-run)
    vistakit config [RECIPE] [key=value ...]                  every config key: type, value, help
    vistakit report DIR                                       report.html of a run folder, or of a demo comparing its methods
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import shutil
import sys
import time
from importlib import resources
from pathlib import Path

# The one deliberate exception to imports at the top of a module: the CLI defers heavy imports (torch,
# transformers, PIL, and every vistakit module that imports them) into the command functions, so that `--help`,
# `vistakit config` and a config error are instant. At module level it imports only the config and the light
# run-folder and report helpers.
from vistakit.config import METHOD_SUMMARIES, ConfigError, RunConfig, describe, describe_text, load_config
from vistakit.runfolder import RunFolderLocked
from vistakit.evaluation.report import diagnostics_table, table

log = logging.getLogger("vistakit.cli")  # not __name__: run as `python -m vistakit.cli` that is __main__


def cmd_run(args) -> None:
    cfg = load_config(args.config, args.overrides)
    if args.dry_run:
        print("\n".join(dry_run(cfg)))
        return
    from vistakit.loop import run

    history = run(cfg)
    print(table([(cfg.method, history)]))
    print(diagnostics_table([(cfg.method, history)]))


def cmd_methods(args) -> None:
    width = max(map(len, METHOD_SUMMARIES))
    print("\n".join(f"{name:<{width}}  {line}" for name, line in METHOD_SUMMARIES.items()))


def cmd_config(args) -> None:
    path, overrides = args.config, args.overrides
    if path and "=" in path and not Path(path).exists():  # `vistakit config rounds=1`: the defaults, overridden
        path, overrides = None, [path] + overrides
    print(describe_text(load_config(path, overrides)))


def dry_run(cfg: RunConfig) -> list[str]:
    """`vistakit run --dry-run`: what a run would need, checked without loading a model or writing anything,
    so that a run that would fail on a GPU box fails here first: model.device exists; model.base (a local
    folder's processor is built as the run builds it; a hub id is looked up when the hub can be reached, and
    its family's processor checked against torchvision); the tracking backend; data.task, data.path and every
    row of every split the run reads (the config itself is valid once loaded). Returns what was checked, a
    line each; a problem stops with ConfigError / DataError naming the key, or the file, line and field of
    the row."""
    from vistakit.tasks import get_task
    from vistakit.tasks.benchmark import needed_splits, Source, get_benchmark
    from vistakit.tasks.data import DataError, load_split

    d, run_dir = cfg.data, Path(cfg.run_dir)
    done = [f"config: valid (method {cfg.method}, {cfg.rounds} rounds)"]
    resumed = (run_dir / "config.yaml").exists()
    done.append(f"run_dir: {run_dir} " + ("holds a run: it resumes, and stops if its config.yaml differs"
                                          if resumed else "is new"))
    if cfg.model.device != "cpu":
        from vistakit.models.load import check_device  # imports torch; loads no model

        try:
            done.append(f"model.device: {check_device(cfg.model.device)}")
        except ValueError as e:
            raise ConfigError(str(e)) from None
    for key, name in [("model.base", cfg.model.base)] + (
            [("vre.scorer_model", cfg.vre.scorer_model)] if cfg.method == "vre" and cfg.vre.scorer == "local" else []):
        if name == "tiny":
            done.append(f"{key}: the embedded tiny model, built into {run_dir / 'base_model'}")
            continue
        if name == "smol" and key == "model.base":
            from vistakit.models.smol import check_parts  # raises ConfigError naming the install command

            check_parts(cfg.model.smol_parts)
            done.append(f"model.base: smol: the pretrained parts ({cfg.model.smol_parts}), assembled into "
                        f"{run_dir / 'base_model'}")
            continue
        done.append(f"{key}: {name}: {_check_model_name(name, key, cfg)}")
    if cfg.tracking.report_to != "none":
        from vistakit.evaluation.tracking import check_backend  # imports accelerate

        check_backend(cfg)
        done.append(f"tracking.report_to: {cfg.tracking.report_to}: its package is installed")
    if d.task is not None:
        try:
            get_task(d.task)
        except KeyError as e:
            raise ConfigError(f"'data.task': {e.args[0]}") from None
        done.append(f"data.task: {d.task}: a registered task")

    def check(path: Path, what: str, need_cot: bool = False, hint: str = "") -> list:
        if not path.exists():
            raise DataError(f"{what}: {path} not found" + (f": {hint}" if hint else ""))
        queries = load_split(path, d.task)  # every row: fields, task, answer type, images opened
        if need_cot:
            missing = [q.id for q in queries if not q.cot]
            if missing:
                raise DataError(f"{path}: rows without field 'cot' for seed SFT: {missing[:5]}")
        done.append(f"{what}: {path}: {len(queries)} rows, every row and image checked")
        return queries

    train = []
    if d.train_sets or d.eval_sets:  # benchmarks: converted when the run starts, into run_dir/data/<name>/
        for name, splits in needed_splits(d).items():
            bench = get_benchmark(name)
            source = Source(bench, d.sources.get(name) or bench.hf_id)  # a local source must exist and be readable
            if source.kind == "prepared":
                for split in splits:
                    check(source.path / f"{split}.jsonl", f"data.sources.{name} ({split})")
            else:
                done.append(f"data.sources.{name}: would read split(s) {', '.join(splits)} of {source.source} "
                            f"({source.kind}) into {run_dir / 'data' / name} when the run starts")
    if d.path or d.train_sets:
        data_dir = Path(d.path) if d.path else run_dir / "data"
        if d.path and not data_dir.is_dir():
            raise ConfigError(f"data.path: no folder at {data_dir}" + (" (a file: data.path is the folder of the "
                              "splits)" if data_dir.exists() else ""))
        hint = (f"data.path {data_dir} has no such file" if d.path else
                f"with data.train_sets the run writes only {d.train_split}.jsonl into {data_dir}")
        if d.path:
            train = check(data_dir / f"{d.train_split}.jsonl", "data.train_split", hint=hint)
        if not d.eval_sets:
            check(data_dir / f"{d.eval_split}.jsonl", "data.eval_split",
                  hint=hint if d.path else f"{hint}; set data.eval_sets")
        from vistakit.methods import get_method  # imports torch; loads no model

        if cfg.seed_sft or get_method(cfg.method).seed_sft:
            check(data_dir / f"{d.seed_split}.jsonl", "data.seed_split", need_cot=True,
                  hint=hint + (" (seed_sft: round 0 trains on its gold chains)" if cfg.seed_sft else
                               f" (method {cfg.method} trains round 0 on its gold chains)"))
        else:
            done.append("data.seed_split: not read (no seed SFT)")
    else:
        done.append(f"data: the synthetic task ({d.n_train} train, {d.n_seed} seed, {d.n_test} test queries, "
                    f"generator_seed {d.generator_seed}) is generated into {run_dir / 'data'}: valid by construction")
    if cfg.method == "vre" and cfg.vre.scorer == "scene" and any(q.scene is None for q in train):
        raise ConfigError(f"'vre.scorer' scene needs the synthetic task's ground truth (field 'scene'), which rows of "
                          f"{Path(d.path) / f'{d.train_split}.jsonl'} lack: set vre.scorer to policy, local or openai")
    if cfg.oracle_grounded and (d.train_sets or d.path):
        from vistakit.training.select import check_scene_labels

        if d.train_sets:
            raise ConfigError("'oracle_grounded' needs the synthetic task's scene labels; the benchmarks of "
                              "data.train_sets have none: set oracle_grounded=false")
        check_scene_labels(train, Path(d.path) / f"{d.train_split}.jsonl")
    if cfg.method == "vre" and cfg.vre.scorer == "scene" and d.train_sets:
        raise ConfigError("'vre.scorer' scene needs the synthetic task's ground truth; the benchmarks of "
                          "data.train_sets have none: set vre.scorer to policy, local or openai")
    done.append("dry run: no model loaded, nothing written")
    return done


def _check_model_name(name: str, key: str, cfg: RunConfig) -> str:
    """A checkpoint `key` names (model.base, vre.scorer_model), as the dry run checks it: a local folder must
    hold a safetensors checkpoint whose processor builds here; a hub id must exist on the hub when the hub can
    be reached, and its family's processor must not need a torchvision this machine lacks. Returns the line
    saying what was found; what would fail the run raises ConfigError naming `key`."""
    from vistakit.models.load import check_checkpoint, check_hub_id, check_processor, torchvision_missing

    try:
        check_checkpoint(name, key)
        path = Path(name).expanduser()
        if path.is_dir():
            return (f"a checkpoint folder (config.json, safetensors); its processor builds here "
                    f"({check_processor(path, cfg.model, key)})")
        found, family = check_hub_id(name, key)
        hint = torchvision_missing(family)
        if hint:
            raise ValueError(f"{key}: {name}: the run could not build its processor on this machine: {hint}")
        return found
    except (FileNotFoundError, ValueError) as e:
        raise ConfigError(str(e)) from None


def cmd_demo(args) -> None:
    """SFT-Seed on the organism (the embedded tiny model, or the model of pretrained parts), then the methods
    from that seed model, sharing round 0; then the verdict and the demo's report."""
    from vistakit.evaluation.compare import Comparison, verdict
    from vistakit.evaluation.demo_report import write_demo_report
    from vistakit.tasks.shapes import baselines
    from vistakit.loop import run
    from vistakit.runfolder import read_metrics

    preset = resources.files("vistakit.presets") / ORGANISMS[args.organism]
    run_dir = Path(args.run_dir or f"runs/{preset.name.removesuffix('.yaml')}-seed{args.seed}")
    base = [f"seed={args.seed}", f"data.generator_seed={args.seed}"]
    start = time.time()
    seed_cfg = load_config(preset, base + ["method=sft-seed", f"run_dir={run_dir / 'sft-seed'}"]
                           + _seed_overrides(args.overrides))
    seed_hist = run(seed_cfg)
    rows = [("sft-seed", seed_hist)]
    overrides = {method: base + [
        f"method={method}", f"run_dir={run_dir / method}", "seed_sft=false",
        f"model.base={seed_hist[0]['model']}", f"data.path={run_dir / 'sft-seed' / 'data'}",
    ] + _method_preset(method, args.organism) + args.overrides for method in args.method.split(",")}
    configs = {method: load_config(preset, o) for method, o in overrides.items()}
    for method in configs:
        _share_round_zero(run_dir / "sft-seed", run_dir / method)
    jobs = _demo_jobs(args.jobs, configs)
    if jobs > 1:
        from vistakit.children import side_by_side

        log.info("%s: side by side from SFT-Seed's model, %d at a time; a line per method when it moves on; "
                 "their full logs: %s", ", ".join(configs), jobs, ", ".join(str(run_dir / f"{m}.log") for m in configs))
        side_by_side({m: [sys.executable, "-m", "vistakit.cli", "run", str(preset), *o] for m, o in overrides.items()},
                     run_dir, jobs, status={m: run_dir / m / "progress.json" for m in configs})
        rows += [(method, read_metrics(run_dir / method)) for method in configs]
    else:
        rows += [(method, run(cfg)) for method, cfg in configs.items()]
    chance, prior = baselines(run_dir / "sft-seed" / "data")
    comparison = Comparison(rows, {m: run_dir / m for m, _ in rows}, chance, prior)
    _, page = write_demo_report(run_dir, comparison)
    print(verdict(comparison, page))
    print(f"The demo took {(time.time() - start) / 60:.1f} min; each method's run folder and log: "
          f"{run_dir}/<method>/, {run_dir}/<method>.log")


METHOD_SECTIONS = ("vista.", "vre.", "r3v.")
# `demo --organism`: its preset. tiny: a 1M-parameter Qwen2.5-VL from random weights (minutes); smol: a VLM of
# pretrained parts (SmolLM2-135M + DINOv2-S, needs the parts installed; its seed model takes a little over an hour)
ORGANISMS = {"tiny": "demo.yaml", "smol": "smol.yaml"}


def _seed_overrides(overrides: list[str]) -> list[str]:
    """The demo's overrides without those of a method's own section, which SFT-Seed never reads: with them its
    run folder's config would differ, and `--method vre vre.train.epochs=3` could not reuse a seed model the
    demo made before."""
    return [o for o in overrides if not o.startswith(METHOD_SECTIONS)]


def _share_round_zero(seed_dir: Path, method_dir: Path) -> None:
    """Copy SFT-Seed's evaluation and probes of M_0 into a method's round 0, which evaluates the same model
    on the same queries with the same settings (a method's own sections change neither): on the pretrained
    organism that is 6 minutes a method at 2 threads, 13 at one."""
    for step in ("eval", "probes"):
        src, dst = seed_dir / "round_0" / step, method_dir / "round_0" / step
        done = src / ("metrics.json" if step == "eval" else "probes.json")
        if done.exists() and not dst.exists():
            shutil.copytree(src, dst)


def _demo_jobs(jobs: int | None, configs: dict[str, RunConfig]) -> int:
    """--jobs, else on CPU one process per method up to the cores (see `children.side_by_side`); 1 on an
    accelerator, which one process already fills."""
    from vistakit.children import cpu_threads

    if jobs is not None:
        return max(1, jobs)
    if any(cfg.model.device != "cpu" for cfg in configs.values()):
        return 1
    return min(len(configs), cpu_threads())


def _method_preset(method: str, organism: str = "tiny") -> list[str]:
    """`presets/<organism's preset>-<method>.yaml` (demo-vre.yaml), if there is one, as overrides for that
    method's run only (so the shared preset, and the run folders of the other methods, stay as they were)."""
    import yaml

    f = resources.files("vistakit.presets") / ORGANISMS[organism].replace(".yaml", f"-{method}.yaml")
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


def cmd_eval(args) -> None:
    from vistakit.tasks.data import load_split
    from vistakit.evaluation.evaluate import evaluate
    from vistakit.models.load import load
    from vistakit.sampling.hf_backend import HFBackend

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
    from vistakit.training.step import run_from_folder

    run_from_folder(Path(args.step_dir))


def cmd_sample_shard(args) -> None:
    from vistakit.shards import run_from_folder

    run_from_folder(Path(args.step_dir), args.rank, args.world)


def cmd_report(args) -> None:
    from vistakit.evaluation.demo_report import is_demo_folder, is_run_folder, write_demo_report
    from vistakit.evaluation.run_report import write_report

    run_dir = Path(args.run_dir)
    if is_run_folder(run_dir):
        paths = write_report(run_dir)
    elif is_demo_folder(run_dir):
        paths = write_demo_report(run_dir)
    else:
        raise ConfigError(f"{run_dir} is neither a run folder (config.yaml, round_0/) nor a demo folder (sft-seed/ "
                          "beside the methods' run folders)")
    for path in paths:
        print(path)


def cmd_verify_check(args) -> None:
    from vistakit.tasks.verify_check import check_rows, format_report, read_rows

    print(format_report(check_rows(read_rows(Path(args.file), args.task)), only_differing=args.differing))


DESCRIPTION = """Self-improvement training of vision-language models: sample chains of thought with the
current model, verify the answers, keep the good ones, retrain from the base model, repeat. Methods: VISTA
(vista-sft, vista-dpo), VRE, and the baselines SFT-Seed, RFT, STaR, ReST-EM and R3V (`vistakit methods`;
docs/methods.md states each)."""

EXAMPLES = """examples:
  vistakit demo                                                  SFT-Seed, ReST-EM and VISTA-SFT on CPU (minutes)
  vistakit run recipes/qwen2.5-vl-3b-vista-sft.yaml data.path=/data/my_task --dry-run
  vistakit run recipes/qwen2.5-vl-3b-vista-sft.yaml data.path=/data/my_task run_dir=runs/mine
  vistakit report runs/mine                                      the run's report.md and report.html
  vistakit eval runs/mine/round_3/train/model --data /data/my_task
"""


def main(argv: list[str] | None = None) -> int:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(prog="vistakit", description=DESCRIPTION, epilog=EXAMPLES, formatter_class=raw)
    sub = parser.add_subparsers(dest="command", required=True, title="commands", metavar="COMMAND")
    commands: dict[str, argparse.ArgumentParser] = {}

    def command(name: str, help_: str, description: str | None = None, **kwargs) -> argparse.ArgumentParser:
        commands[name] = sub.add_parser(name, help=help_, description=description or help_[0].upper() + help_[1:] + ".",
                                        formatter_class=raw, **kwargs)
        return commands[name]

    p = command("run", "run a recipe: round 0 (M_0), then T rounds of its method, every step written to run_dir",
                "Run a recipe: round 0 (M_0, and its evaluation), then T rounds of the recipe's method, every step "
                "written to\nrun_dir. Re-running the same command resumes after the last finished step.",
                epilog=_config_keys())
    p.add_argument("config", metavar="RECIPE", help="a YAML config, e.g. recipes/qwen2.5-vl-3b-vista-sft.yaml")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="override a config key, e.g. "
                   "sampling.samples_per_query=4 data.path=/data/my_task")
    p.add_argument("--dry-run", action="store_true", help="check the config, model.device, model.base (its "
                   "processor; a hub id on the hub) and every data row the run would read, without loading a "
                   "model or writing anything; exit 2 naming the key when the run would fail")
    p.set_defaults(fn=cmd_run)
    p = command("config", "every config key: dotted name, type, value (the recipe's, else the default) and help")
    p.add_argument("config", nargs="?", default=None, metavar="RECIPE", help="a YAML config; default: the defaults")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="overrides, as for run")
    p.set_defaults(fn=cmd_config)
    p = command("methods", "the methods a config's `method` may name, one line each")
    p.set_defaults(fn=cmd_methods)
    p = command("demo", "the embedded demo: SFT-Seed, then other methods from it, on a synthetic task, on CPU",
                "The embedded demo: a synthetic visual task and a small model (nothing downloaded), SFT-Seed in "
                "round 0, then\neach method of --method from that seed model; prints accuracy per round, "
                "diagnostics and each method's\ngain over SFT-Seed.")
    p.add_argument("--method", default="rest-em,vista-sft", help="comma-separated methods run from the same seed "
                   "model (default: rest-em,vista-sft)")
    p.add_argument("--seed", type=int, default=0, help="seed of the task, the model's initialisation and sampling")
    p.add_argument("--organism", choices=sorted(ORGANISMS), default="tiny",
                   help="tiny: a 1M-parameter Qwen2.5-VL trained from random weights (minutes); smol: a VLM of "
                   "pretrained parts, SmolLM2-135M-Instruct + DINOv2-S/14 (install the parts first: docs/guide.md)")
    p.add_argument("--run-dir", default=None, help="default: runs/demo-seed<N> (tiny), runs/smol-seed<N> (smol)")
    p.add_argument("--jobs", type=int, default=None, help="methods run side by side after SFT-Seed, each in its own "
                   "process with its share of the CPU threads; default: on CPU one per method, up to the cores; "
                   "on a GPU 1")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides for every run but a method's "
                   "own sections (vista.*, vre.*, r3v.*), which SFT-Seed's run does not get")
    p.set_defaults(fn=cmd_demo)
    p = command("eval", "greedy accuracy of a model on a split of a data folder")
    p.add_argument("model", help="a checkpoint folder or hub id, e.g. runs/mine/round_3/train/model")
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
    p = command("report", "(re)write report.md and report.html of a run folder, or of a demo folder (its methods "
                "compared), from the folder's files; no model loaded")
    p.add_argument("run_dir", help="a run folder, or a demo folder (runs/demo-seed0: sft-seed/, rest-em/, ...)")
    p.set_defaults(fn=cmd_report)
    p = command("verify-check", "both verdicts (official, train) of your model's responses, and their agreement per "
                "task", "Both verdicts (official, train) of each row of a JSONL file of {task, response, gold[, "
                "answer_type, choices,\nlabel]}, and their agreement per task (docs/verification.md).")
    p.add_argument("file")
    p.add_argument("--task", default=None, help="task of the rows without a 'task' field")
    p.add_argument("--differing", action="store_true", help="list only the rows where the verdicts differ or "
                   "one disagrees with the row's label (the table still counts every row)")
    p.set_defaults(fn=cmd_verify_check)
    p = command("prepare", "convert a benchmark (hub id, hub files, or original release) to vistakit's rows")
    p.add_argument("benchmark", help="chartqa | geometry3k | geometry3k-mc | mathvista | scienceqa | slake | vqa-rad | wemath")
    p.add_argument("--source", default=None, help="hub id, or a local folder (original release, save_to_disk, "
                   "hub files); default: the benchmark's hub id")
    p.add_argument("--out", default=None, help="output folder; default: data/<benchmark>")
    p.add_argument("--splits", default=None, help="comma-separated, e.g. train,test; default: all")
    p.add_argument("--limit", type=int, default=None, help="keep the first N rows of each split")
    p.set_defaults(fn=cmd_prepare)
    p = command("train-step", "one training step from STEP_DIR/train_inputs.json (what a run starts under "
                "train.launcher)")
    p.add_argument("step_dir")
    p.set_defaults(fn=cmd_train_step)
    p = command("sample-shard", "one shard of a sampling or scoring step from STEP_DIR/shard_inputs.json (what a "
                "run starts for workers.shards or workers.launcher)")
    p.add_argument("step_dir")
    p.add_argument("--rank", type=int, default=None, help="default: RANK, else SLURM_PROCID, else 0")
    p.add_argument("--world", type=int, default=None, help="default: WORLD_SIZE, else SLURM_NTASKS, else 1")
    p.set_defaults(fn=cmd_sample_shard)
    args, extra = parser.parse_known_args(argv)
    if args.command in ("run", "config") and all("=" in e and not e.startswith("-") for e in extra):
        args.overrides += extra  # overrides after an option (`run C --dry-run a=1`): argparse leaves them over
    elif extra:  # the subcommand's usage, not the top level's
        commands[args.command].error(f"unrecognized arguments: {' '.join(extra)}")
    console = logging.StreamHandler()
    console.setFormatter(ConsoleFormat())
    logging.basicConfig(level=logging.WARNING, handlers=[console])  # the libraries: their warnings only
    logging.getLogger("vistakit").setLevel(logging.INFO)
    if args.command in ("run", "demo", "eval", "prepare", "train-step", "sample-shard") and not sys.stderr.isatty():
        _quiet_library_bars()
    try:
        args.fn(args)
    except BrokenPipeError:  # `vistakit config | head`: the reader has what it wanted
        sys.stdout = open(os.devnull, "w")
        return 0
    except Exception as e:
        from vistakit.tasks.data import DataError  # imported here, not at the top: see the comment above the imports

        if not isinstance(e, (ConfigError, DataError, RunFolderLocked)):
            raise
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


class ConsoleFormat(logging.Formatter):
    """vistakit's own lines as 'time message'; a warning, or a library's line, also names its source."""

    def __init__(self):
        super().__init__("%(asctime)s %(message)s", datefmt="%H:%M:%S")
        self.named = logging.Formatter("%(asctime)s %(name)s %(levelname)s: %(message)s", datefmt="%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        own = record.name.startswith("vistakit") and record.levelno < logging.WARNING
        return super().format(record) if own else self.named.format(record)


def _quiet_library_bars() -> None:
    """In a log file, the libraries' own bars (loading weights, writing shards, datasets) are one line of
    carriage returns each: off; vistakit's own progress prints a plain line now and then (vistakit.progress)."""
    import huggingface_hub.utils
    import transformers.utils.logging

    transformers.utils.logging.disable_progress_bar()
    huggingface_hub.utils.disable_progress_bars()
    try:
        import datasets.utils.logging  # the 'bench' extra
    except ImportError:
        return
    datasets.utils.logging.disable_progress_bar()


def _config_keys() -> str:
    """`vistakit run --help`'s epilog: the config's sections, one line each (what it holds, how many keys);
    `vistakit config` lists the keys themselves."""
    sections: dict[str, list] = {"": ["the run: method, folder, rounds, seeds", 0]}
    for f in describe(RunConfig()):
        if f.section:
            what = f.help.split("; ")[0]
            if len(what) > 70:  # one line: the parentheses go first
                what = re.sub(r"\s*\([^)]*\)", "", what)
            sections[f.name] = [f"{what} (its keys as {f.same_as}.*)" if f.same_as else what, 0]
        else:
            sections[f.name.rpartition(".")[0]][1] += 1
    lines = ["config sections (set a key in the recipe, or override it as section.key=value; `vistakit config "
             "[RECIPE]`\nlists every key with its type, value and help; docs/config.md has the same table):"]
    for name, (what, n) in sections.items():
        label = f"{name}.*" if name else "(top level)"
        lines.append(f"  {label:<16} {what}" + (f" ({n} key{'s' * (n != 1)})" if n else ""))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
