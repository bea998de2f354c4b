"""The self-improvement loop (docs/methods.md, "The loop"): round 0 (M_0, optionally SFT on the seed
chains), then T rounds of sample -> verify -> augment -> filter -> train from M_0 -> evaluate, every step in
its own folder.

    run_dir/
      config.yaml            the resolved config
      data/                  the synthetic task, when no data.path is given; with data.train_sets / eval_sets,
                             each benchmark converted into data/<name>/ and the training rows in data/train.jsonl
      base_model/            the embedded tiny model, when model.base == "tiny"
      round_0/               seed SFT (if any; warmup/ first with seed_warmup_epochs), the evaluation of M_0
                             and its probes/ (evaluation/probes.py)
      round_t/sample/        samples.jsonl: every sample with pred, correct, grounded, source
      round_t/augment/       extra samples (STaR rationalisation)
      round_t/prefix/        VISTA prefix resampling: critical.jsonl (every negative), critical_control.jsonl
                             (grounded-correct samples scored by the same rule), samples.jsonl
      round_t/filter/        VISTA: vas.jsonl (the score of every positive), two_pass.jsonl (its two-pass
                             label), vas_layers.json (vas_layers=auto, round 1: the calibrated choice)
      round_t/select/        decisions.jsonl (every sample, kept or not, and why), train_set.jsonl,
                             diagnostics.json, vas_hist.png
      round_t/train/         model/, train_log.json (DPO: reference.jsonl, the pairs with M_0's log-probs)
      round_t/eval/          predictions (samples.jsonl) and metrics.json; with data.eval_sets, one folder per set
      round_t/probes/        image reliance and the swapped query of M_t (probes.json + each condition's samples)
      metrics.json           one entry per round
      report.md, report.html the run's report, rewritten after each round; provenance.jsonl, timings.jsonl
                             (evaluation/run_report.py)
      round_t/round.json     M_t, once the method's round is done (a resumed run skips the round)
      progress.json          what the run is doing now: method, round, step, batches (vistakit.progress)
Each step is a function of `vistakit.steps`; a method's round (`vistakit.methods`) composes them, and VRE and
R3V run their own steps in their own folders of round_t. Paths in the run folder's JSON files are relative to
it, so a moved folder resumes.
"""

from __future__ import annotations

import logging
import shlex
import time
from pathlib import Path

import torch
import yaml

from vistakit import progress, steps
from vistakit.config import ConfigError, RunConfig, to_dict
from vistakit.context import Context, Engine
from vistakit.evaluation import run_report
from vistakit.evaluation.model_card import write_card
from vistakit.evaluation.tracking import check_backend, log_round
from vistakit.methods import Method, get_method
from vistakit.models.load import check_checkpoint, check_device
from vistakit.models.smol import check_parts
from vistakit.runfolder import RunLock, drop_batch_files, write_json_if_changed, write_text
from vistakit.tasks.data import load_split
from vistakit.training.select import check_scene_labels

log = logging.getLogger(__name__)


def run(cfg: RunConfig, method: Method | None = None) -> list[dict]:
    """Round 0 (M_0: model.base, SFT on the seed chains if asked), then T rounds of `method` (default: the
    config's), each model evaluated and probed; returns the history written to metrics.json."""
    method = method or get_method(cfg.method)
    run_dir = Path(cfg.run_dir)
    check_model(cfg)
    check_backend(cfg)
    rounds = method.rounds if method.rounds is not None else cfg.rounds
    # one process per run folder; what it is doing in run_dir/progress.json (the demo shows it)
    with RunLock(run_dir), progress.report_to(run_dir / "progress.json"):
        progress.status(method=cfg.method, round=0, rounds=rounds, step="starting", done=None, total=None)
        run_dir.mkdir(parents=True, exist_ok=True)
        config_file = run_dir / "config.yaml"
        check_resume_config(config_file, to_dict(cfg))
        torch.manual_seed(cfg.seed)
        data_dir = steps.prepare_data(cfg, run_dir)
        split = lambda name: data_dir / f"{name}.jsonl"  # noqa: E731
        train = load_split(split(cfg.data.train_split), cfg.data.task)[: cfg.data.max_train_queries]
        if cfg.oracle_grounded:
            check_scene_labels(train, split(cfg.data.train_split))
        test = steps.load_eval_sets(cfg, run_dir, data_dir)
        use_seed = cfg.seed_sft or method.seed_sft
        seed = load_split(split(cfg.data.seed_split), cfg.data.task) if use_seed else []
        if not config_file.exists():  # pinned once the data checked out: a wrong data.path can be corrected
            write_text(config_file, yaml.safe_dump(to_dict(cfg), sort_keys=False))
        started = run_report.record_start(run_dir)  # provenance.jsonl: commit, versions, hardware, command
        ctx = Context(cfg, run_dir, train, test, Engine(cfg))
        base = steps.prepare_base_model(cfg, run_dir, data_dir)
        ctx.models[0] = steps.seed_sft(ctx, seed, base) if use_seed else base

        history = [round_entry(ctx, method, 0)]
        drop_batch_files(ctx.round_dir(0))  # each sample stored once, in its step's samples.jsonl
        run_report.round_done(run_dir, 0, started)  # timings.jsonl, report.md / report.html
        log_round(cfg, run_dir, history[-1])
        for t in range(1, rounds + 1):
            started = time.time()
            progress.status(round=t, step="starting", done=None, total=None)
            done = ctx.round_dir(t) / "round.json"
            if done.exists():
                ctx.models[t] = ctx.read_result(done)
            else:
                ctx.models[t] = method.round(ctx, t)
                ctx.write_result(done, ctx.models[t])
            history.append(round_entry(ctx, method, t))
            drop_batch_files(ctx.round_dir(t))
            run_report.round_done(run_dir, t, started)
            log_round(cfg, run_dir, history[-1])
        ctx.engine.close()
        write_json_if_changed(run_dir / "metrics.json", [{**h, "model": ctx.stored_path(h["model"])} for h in history])
        run_report.refresh(run_dir)  # with metrics.json: the methods' own numbers too
        progress.status(step="finished", done=None, total=None)
        return history


def round_entry(ctx: Context, method: Method, t: int) -> dict:
    """Round t's line of metrics.json: M_t's evaluation, the round's samples and diagnostics, the method's
    own numbers, M_t's probes."""
    model = ctx.models[t]
    entry = {"round": t, "model": model, **steps.evaluate(ctx, t, model), **steps.round_stats(ctx, t)}
    if method.metrics is not None:
        entry.update(method.metrics(ctx, t, model))
    entry.update(steps.probe(ctx, t, model))
    write_card(ctx.cfg, ctx.round_dir(t), t, model, entry)
    log.info("%s round %d: accuracy %.3f", ctx.cfg.method, t, entry["accuracy"])
    return entry


def check_model(cfg: RunConfig) -> None:
    """model.base exists and loads safely, or its parts are installed; model.device exists (before any work)."""
    try:
        check_device(cfg.model.device)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    if cfg.model.base == "smol":
        check_parts(cfg.model.smol_parts)
    elif cfg.model.base != "tiny":
        try:
            check_checkpoint(cfg.model.base)
        except (FileNotFoundError, ValueError) as e:
            raise ConfigError(str(e)) from None


def check_resume_config(path: Path, resolved: dict) -> None:
    """A re-run resumes only with the config the folder was made with: mixing outputs of two configs
    in one run folder would be silent and wrong. `run_dir` is not compared (a moved folder resumes). A
    config.yaml that does not parse as a mapping is one a kill or a full disk tore while it was first
    written (before vistakit wrote it atomically): it is said and replaced."""
    if not path.exists():
        return
    try:
        old = yaml.safe_load(path.read_text())
    except yaml.YAMLError:
        old = None
    if not isinstance(old, dict):
        log.warning("%s is empty or torn (a run killed while writing it): writing it again", path)
        path.unlink()
        return

    def flat(d, prefix=""):
        return {k2: v2 for k, v in d.items() for k2, v2 in
                (flat(v, f"{prefix}{k}.").items() if isinstance(v, dict) else [(f"{prefix}{k}", v)])}

    a, b = flat(old), flat(resolved)
    defaults = flat(to_dict(RunConfig()))
    # a key added to vistakit after the folder was made is no difference when it holds its default
    diff = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k) and k != "run_dir"
                  and not k.startswith(("tracking.", "workers."))  # where it is tracked / sampled changes no result
                  and not (k not in a and k in defaults and b.get(k) == defaults[k]))
    if diff:
        was = ", ".join(f"{k}: {a.get(k)!r} there, {b.get(k)!r} now" for k in diff[:5])
        resume = " ".join(shlex.quote(f"{k}={'null' if a[k] is None else a[k]}") for k in diff
                          if k in a and not isinstance(a[k], list))
        hint = (f"to resume it as it was made (a preset's default may have changed since), add {resume} to "
                "the command; " if resume else "")
        raise ConfigError(f"{path.parent} was made with another config ({', '.join(diff)} differ: {was}); "
                          f"{hint}to change them, use a new run_dir")
