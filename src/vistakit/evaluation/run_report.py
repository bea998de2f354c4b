"""A run's own record, `run_dir/report.md` and `run_dir/report.html` (the same content; the HTML is
self-contained, its plots embedded as base64 PNG), built from the run folder's files alone: it serves a
finished run, one still going or killed, and folders made before it existed.

    vistakit report RUN_DIR      # (re)writes RUN_DIR/report.md, report.html and the plots in report_plots/

The loop writes the two records the folder would otherwise lack: `provenance.jsonl` (`record_start`, one line
per process start: commit, versions, hardware, command line) and `timings.jsonl` (`round_done`, one line per
round this process ran), and rewrites the report after every round. The report holds the provenance, the
resolved config, wall time per step, the per-round tables of `evaluation/report.py`, the accuracy plot, the
VAS histograms, zero-positive queries per level, and a few seeded example chains per round: kept, dropped
(with the reason) and rescued negatives with their critical token marked. It loads no model: only the
tokenizer of the model that sampled a round, to find the critical token's characters.

Simplified: a step's wall time is read from its folder's file times (see `step_times`), not measured inside
the step; rounds that metrics.json does not hold yet (a run still going) are rebuilt from their eval/,
select/ and probes/ folders, without a method's own numbers (VRE's, R3V's), which come with metrics.json.
"""

from __future__ import annotations

import base64
import html
import importlib.metadata
import io
import json
import logging
import os
import platform
import random
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml
from PIL import Image
from transformers import AutoTokenizer

from vistakit.config import RunConfig
from vistakit.context import Context, Engine
from vistakit.evaluation.diagnostics import vas_histogram
from vistakit.evaluation.report import Table, diagnostics_tables, method_notes, plot, table
from vistakit.runfolder import read_jsonl, resolve_stored, write_text
from vistakit.steps import round_stats, with_samples
from vistakit.tasks.shapes import baselines

log = logging.getLogger(__name__)

PACKAGES = ("torch", "transformers", "trl", "accelerate", "peft", "vllm")
EXAMPLES_PER_KIND = 2  # chains shown per round for each of kept, dropped, rescued


# --- what the loop records ---------------------------------------------------------------------------------

def record_start(run_dir: Path, argv: list[str] | None = None) -> float:
    """Append this process's provenance to run_dir/provenance.jsonl; returns the attempt's start (the time
    the loop took the run folder's lock, which precedes the data and round 0)."""
    lock = run_dir / ".lock"
    start = lock.stat().st_mtime if lock.exists() else time.time()
    entry = {"start": start, "start_local": _clock(start), **provenance(), "command": list(argv or sys.argv)}
    try:
        with open(run_dir / "provenance.jsonl", "a") as f:
            f.write(json.dumps(entry) + "\n")
    except OSError as e:  # read-only storage: the run itself goes on
        log.warning("could not record provenance in %s: %s", run_dir, e)
    return start


def round_done(run_dir: Path, t: int, started: float) -> None:
    """After round t: append its start and end to run_dir/timings.jsonl if this process did any of its work
    (a round resumed as done keeps the line of the attempt that finished it), then rewrite the report."""
    try:
        if any(finished >= started for round_, _, finished in _step_folders(run_dir) if round_ == t):
            with open(run_dir / "timings.jsonl", "a") as f:
                f.write(json.dumps({"round": t, "start": started, "end": time.time()}) + "\n")
    except OSError as e:
        log.warning("could not record round %d's time in %s: %s", t, run_dir, e)
    refresh(run_dir)


def refresh(run_dir: Path) -> None:
    """`write_report` for the loop: a report that fails to build is logged, never the end of a run."""
    try:
        write_report(run_dir)
    except Exception:  # noqa: BLE001 - the report is a record of the run, not a step of it
        log.warning("run report of %s not written", run_dir, exc_info=True)


def provenance() -> dict:
    """vistakit's version and commit (of the checkout it runs from, if it is one: whether tracked files were
    changed), the versions of the libraries it runs on, Python, the platform, CPU and GPU."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return {"vistakit": _version(), **git_state(Path(__file__).resolve().parents[1]), "versions": versions,
            "python": platform.python_version(), "platform": platform.platform(), "cpu": _cpu(), "gpu": _gpus(),
            "host": platform.node()}


def git_state(package_dir: Path) -> dict:
    """{"commit", "dirty", "changed"} of the git checkout holding package_dir (None where vistakit is installed
    from a wheel, or git is missing). `dirty`: tracked files differ from the commit (untracked ones are not
    counted)."""
    def git(*args):
        return subprocess.run(["git", "-C", str(package_dir), *args], capture_output=True, text=True, timeout=20)

    none = {"commit": None, "dirty": None, "changed": []}
    try:
        if git("ls-files", "--error-unmatch", "loop.py").returncode != 0:  # not a checkout of vistakit
            return none
        commit = git("rev-parse", "HEAD").stdout.strip()
        changed = [line[3:] for line in git("status", "--porcelain", "--untracked-files=no").stdout.splitlines()]
    except (OSError, subprocess.SubprocessError):
        return none
    return {"commit": commit or None, "dirty": bool(changed), "changed": changed[:20]}


def _version() -> str | None:
    try:
        return importlib.metadata.version("vistakit")
    except importlib.metadata.PackageNotFoundError:
        return None


def _cpu() -> str:
    name = platform.processor()
    try:
        name = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{name or platform.machine()} ({os.cpu_count()} cores)"


def _gpus() -> list[str]:
    """GPU names by nvidia-smi: asking torch would initialise CUDA in the loop's process (before vLLM's workers)."""
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in out.splitlines() if line.strip()]


def _clock(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))


# --- reading the run folder --------------------------------------------------------------------------------

def rounds(run_dir: Path) -> list[int]:
    return sorted(int(p.name[6:]) for p in run_dir.glob("round_*") if p.is_dir() and p.name[6:].isdigit())


def history(run_dir: Path) -> list[dict]:
    """One entry per round, as metrics.json has them: metrics.json's own (written when a run ends), and the
    later rounds rebuilt from their folders (eval/metrics.json, select/, probes/probes.json). A round not
    evaluated yet has no "accuracy"."""
    path = run_dir / "metrics.json"
    entries = {h["round"]: h for h in json.loads(path.read_text())} if path.exists() else {}
    ctx = Context(RunConfig(run_dir=str(run_dir)), run_dir, [], [], Engine(RunConfig()))  # for its round_dir
    for t in rounds(run_dir):
        if t in entries:
            continue
        r = run_dir / f"round_{t}"
        entry = {"round": t}
        if (r / "eval" / "metrics.json").exists():
            entry.update(json.loads((r / "eval" / "metrics.json").read_text()))
        entry.update(round_stats(ctx, t))
        if (r / "probes" / "probes.json").exists():
            entry["probes"] = json.loads((r / "probes" / "probes.json").read_text())
        entries[t] = entry
    return [entries[t] for t in sorted(entries)]


def resolve(run_dir: Path, stored: str | None) -> Path | None:
    """Where a stored path is now, the folder possibly moved since it was written (runfolder.resolve_stored)."""
    return resolve_stored(run_dir, stored, moved=True)


def models(run_dir: Path, config: dict, hist: list[dict]) -> dict[int, Path | None]:
    """M_t of every round, where its folder still is (None if gone, or a hub id not stored locally)."""
    out = {h["round"]: resolve(run_dir, h.get("model")) for h in hist if h.get("model")}
    for t in rounds(run_dir):
        done = run_dir / f"round_{t}" / "round.json"
        if out.get(t) is None and done.exists():
            out[t] = resolve(run_dir, json.loads(done.read_text()).get("model"))
    if out.get(0) is None:
        seed = run_dir / "round_0" / "train" / "result.json"
        base = (config.get("model") or {}).get("base")
        out[0] = (resolve(run_dir, json.loads(seed.read_text()).get("model")) if seed.exists()
                  else run_dir / "base_model" if base == "tiny" else resolve(run_dir, base))
    return out


def _step_folders(run_dir: Path) -> list[tuple[int | None, str, float]]:
    """(round, step folder, when it finished) of every step folder: the newest of its own files (DONE,
    metrics.json, result.json, ... are each step's last), not counting the subfolders (models, batches)."""
    found = []
    tops = [(None, p) for p in (run_dir / "data", run_dir / "base_model") if p.is_dir()]
    subs = [(t, p) for t in rounds(run_dir) for p in sorted((run_dir / f"round_{t}").iterdir()) if p.is_dir()]
    for t, folder in tops + subs:
        times = [f.stat().st_mtime for f in folder.iterdir() if f.is_file() and not f.name.endswith(".tmp")]
        if times:
            found.append((t, folder.name, max(times)))
    return found


def attempt_starts(run_dir: Path) -> list[float]:
    """When each process that worked on the run started: provenance.jsonl, and for older folders the lock
    file (rewritten by the last process to take it)."""
    starts = [p["start"] for p in _read_log(run_dir / "provenance.jsonl")]
    if (run_dir / ".lock").exists():
        starts.append((run_dir / ".lock").stat().st_mtime)
    return sorted(set(starts))


def step_times(run_dir: Path) -> list[dict]:
    """Wall time of every step folder, in the order they finished: from the end of the step before it, or the
    start of the attempt that made it if that is later, to its own end. It counts what the loop did in
    between (e.g. loading the model the step uses); a resumed run counts the attempt that finished the step.
    The time a run was stopped is not counted where the next attempt's start is recorded (provenance.jsonl;
    older folders: only the last attempt's, by its lock file)."""
    starts = attempt_starts(run_dir)
    out, previous = [], None
    for t, name, finished in sorted(_step_folders(run_dir), key=lambda s: s[2]):
        bounds = [x for x in (previous, max((s for s in starts if s <= finished), default=None)) if x is not None]
        out.append({"round": t, "step": name, "finished": finished,
                    "seconds": finished - max(bounds) if bounds else None})
        previous = finished
    return out


def _read(path: Path) -> list[dict]:
    return read_jsonl(path) if path.exists() else []


def _read_log(path: Path) -> list[dict]:
    """An append-only record (provenance.jsonl, timings.jsonl): a line a kill tore mid-append is skipped."""
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            log.warning("%s: skipping a torn line (a run killed while appending it)", path)
    return out


def data_dir(run_dir: Path, config: dict, split: str | None = None) -> Path | None:
    """The folder of the run's splits (data.path, else run_dir/data), if it is still there (and holds `split`)."""
    data = config.get("data") or {}
    split = split or f"{data.get('eval_split', 'test')}.jsonl"
    candidates = [run_dir / "data"] if data.get("train_sets") or not data.get("path") else []
    if data.get("path"):
        candidates += [Path(data["path"]), run_dir / data["path"]]
    return next((folder for folder in candidates if (folder / split).exists()), None)


def queries(run_dir: Path, config: dict) -> tuple[dict[str, dict], Path | None]:
    """The train split's rows by id, and their folder (for the images), if it is still there."""
    split = f"{(config.get('data') or {}).get('train_split', 'train')}.jsonl"
    folder = data_dir(run_dir, config, split)
    return ({r["id"]: r for r in read_jsonl(folder / split)}, folder) if folder else ({}, None)


class Tokenizers:
    """The tokenizer of each model that sampled a round, loaded once (local files only; None if gone)."""

    def __init__(self, models: dict[int, Path | None]):
        self.models, self.cache = models, {}

    def __call__(self, t: int):
        """The tokenizer of M_t, or of any other round's model (a run's models share their tokenizer)."""
        for path in [self.models.get(t)] + [p for _, p in sorted(self.models.items())]:
            if path is None:
                continue
            if path not in self.cache:
                try:
                    self.cache[path] = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
                except Exception:  # noqa: BLE001 - any checkpoint that will not give a tokenizer: try the next
                    self.cache[path] = None
            if self.cache[path] is not None:
                return self.cache[path]
        return None


# --- example chains ----------------------------------------------------------------------------------------

def examples(round_dir: Path, t: int, n: int = EXAMPLES_PER_KIND) -> dict[str, list[dict]]:
    """A seeded choice of round t's samples: kept, dropped (one per reason first), and rescued negatives
    (prefix resamples that reached the answer, each with its parent negative from sample/)."""
    if not (round_dir / "select" / "decisions.jsonl").exists():
        return {}
    try:
        joined = with_samples(round_dir)
    except (RuntimeError, KeyError, FileNotFoundError):  # an older folder: decisions held the text themselves
        joined = [d for d in read_jsonl(round_dir / "select" / "decisions.jsonl") if "response" in d]
    rng = random.Random(f"run-report-{t}")
    kept = [d for d in joined if d["kept"]]
    by_reason: dict[str, list[dict]] = {}
    for d in joined:
        if not d["kept"]:
            by_reason.setdefault(d["reason"], []).append(d)
    reasons = sorted(by_reason)
    rng.shuffle(reasons)
    dropped = [rng.choice(by_reason[r]) for r in reasons[:n]]  # a different reason each, first
    rest = [d for d in joined if not d["kept"] and d not in dropped]
    dropped += rng.sample(rest, min(n - len(dropped), len(rest)))
    # a query's prefix samples are numbered per parent: (query, source, sample) alone is not one sample
    key = lambda r: (r["query_id"], r["source"], r["sample"], r.get("parent_sample"))  # noqa: E731
    decided = {key(d): d for d in joined}
    parents = {(r["query_id"], r["sample"]): r for r in _read(round_dir / "sample" / "samples.jsonl")}
    rescued = [{**r, "decision": decided.get(key(r)),
                "parent": parents.get((r["query_id"], r["parent_sample"]))}
               for r in _read(round_dir / "prefix" / "samples.jsonl")
               if r.get("correct") and r.get("critical_index") is not None]
    rescued = [r for r in rescued if r["parent"] is not None]
    return {"kept": rng.sample(kept, min(n, len(kept))), "dropped": dropped,
            "rescued": rng.sample(rescued, min(n, len(rescued)))}


def split_at_critical(tokenizer, rescued: dict) -> dict:
    """The parent negative and the rescued sample as (text before the critical token, the token's text, the
    rest): the parent's ids decoded up to critical_index, the original token and the replacement marked. With
    no tokenizer, split where the two texts first differ."""
    parent, i = rescued["parent"], rescued["critical_index"]
    ids, new_ids = parent["token_ids"], rescued["token_ids"]
    if tokenizer is not None and ids and i < len(ids):
        dec = lambda x: tokenizer.decode(x, skip_special_tokens=True)  # noqa: E731
        before, full = dec(ids[:i]), dec(ids)
        with_old = dec(ids[: i + 1])
        if with_old.startswith(before) and full.startswith(with_old):
            old, old_rest = with_old[len(before):], full[len(with_old):]
            if len(new_ids) > i and new_ids[i] == rescued["replacement_token"]:
                new_full, with_new = dec(new_ids), dec(new_ids[: i + 1])
                new, new_rest = with_new[len(before):], new_full[len(with_new):]
            else:  # the replacement was the end of the response: it stands as it was up to the critical token
                new, new_rest = "⟨end⟩", ""
            return {"before": before, "old": old, "old_rest": old_rest, "new": new, "new_rest": new_rest,
                    "by": "tokenizer"}
    a, b = parent["response"], rescued["response"]
    k = next((j for j, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    return {"before": a[:k], "old": "", "old_rest": a[k:], "new": "", "new_rest": b[k:], "by": "text"}


# --- the document ------------------------------------------------------------------------------------------

NOT_A_NUMBER = " class='l'"  # a cell of words, aligned left (numbers, and cells of numbers and marks, right)
CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222;line-height:1.4}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;margin:.5em 0;font-size:14px}td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}
th{background:#f3f3f3;vertical-align:bottom}td:first-child,th:first-child,td.l{text-align:left}td:first-child{white-space:nowrap}
.caption{font-weight:600;margin:1em 0 .2em}dl.legend{font-size:13px;color:#444;margin:.2em 0 1em}
dl.legend dt{float:left;clear:left;font-weight:600;margin-right:.5em}dl.legend dd{margin:0 0 .15em 0}
ul.findings li{margin:.3em 0}
pre{background:#f7f7f7;padding:.5em;overflow-x:auto;white-space:pre-wrap}
pre.table{white-space:pre;font-size:12px}img{max-width:100%}
del{background:#fbb;text-decoration:line-through}ins{background:#bfb;text-decoration:none}
.ex{border-left:3px solid #ccc;padding-left:.8em;margin:.8em 0;overflow:hidden}.ex img{float:right;width:120px;margin-left:1em}
.meta{color:#555;font-size:90%}details{margin:.5em 0}"""


class Doc:
    """The report in Markdown and HTML at once: every block is written to both (HTML escaped, images inline)."""

    def __init__(self, run_dir: Path):
        self.run_dir, self.md, self.html = run_dir, [], []

    def heading(self, text: str, level: int = 2) -> None:
        self.md.append(f"{'#' * level} {text}\n")
        self.html.append(f"<h{level}>{html.escape(text)}</h{level}>")

    def text(self, text: str) -> None:
        self.md.append(text + "\n")
        self.html.append(f"<p>{html.escape(text)}</p>")

    def code(self, text: str, kind: str = "") -> None:
        fence = "`" * max(3, 1 + max((len(m) for m in re.findall("`+", text)), default=0))
        self.md.append(f"{fence}{kind}\n{text}\n{fence}\n")
        self.html.append(f"<pre class='{'table' if kind == 'text' else ''}'>{html.escape(text)}</pre>")

    def table(self, head: list[str], rows: list[list]) -> None:
        cell = lambda v: "-" if v is None else str(v)  # noqa: E731
        md_row = lambda r: "| " + " | ".join(cell(v).replace("|", "\\|") for v in r) + " |"  # noqa: E731
        self.md.append("\n".join([md_row(head), "|" + "---|" * len(head)] + [md_row(r) for r in rows]) + "\n")
        self.html.append("<div class='scroll'><table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head)
                         + "</tr>" + "".join("<tr>" + "".join(f"<td{NOT_A_NUMBER if re.search('[A-Za-z]{2}', cell(v)) else ''}>"
                                                     f"{html.escape(cell(v))}</td>" for v in r)
                                             + "</tr>" for r in rows) + "</table></div>")

    def legend_table(self, t: Table) -> None:
        """A table with its title above and the legend of its columns below."""
        self.md.append(f"**{t.title}**\n")
        self.html.append(f"<p class='caption'>{html.escape(t.title)}</p>")
        self.table(t.head, t.rows)
        if t.legend:
            self.md.append("".join(f"- *{name}*: {text}\n" for name, text in t.legend))
            self.html.append("<dl class='legend'>" + "".join(f"<dt>{html.escape(name)}:</dt><dd>{html.escape(text)}</dd>"
                                                          for name, text in t.legend) + "</dl>")

    def bullets(self, items: list[str]) -> None:
        self.md.append("".join(f"- {item}\n" for item in items))
        self.html.append("<ul class='findings'>" + "".join(f"<li>{html.escape(i)}</li>" for i in items) + "</ul>")

    def image(self, path: Path, alt: str) -> None:
        self.md.append(f"![{alt}]({os.path.relpath(path, self.run_dir)})\n")
        self.html.append(f"<p><img alt='{html.escape(alt)}' src='{png_data(path)}'></p>")

    def details(self, summary: str, text: str, kind: str = "") -> None:
        self.md.append(f"<details><summary>{html.escape(summary)}</summary>\n")
        self.code(text, kind)
        self.md.append("</details>\n")
        pre = self.html.pop()
        self.html.append(f"<details><summary>{html.escape(summary)}</summary>{pre}</details>")

    def raw(self, md: str, html_text: str) -> None:
        self.md.append(md)
        self.html.append(html_text)

    def write(self, title: str) -> tuple[Path, Path]:
        md, page = self.run_dir / "report.md", self.run_dir / "report.html"
        write_text(md, "\n".join(self.md))
        write_text(page, f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
                         f"<style>{CSS}</style></head><body>\n" + "\n".join(self.html) + "\n</body></html>\n")
        return md, page


def png_data(path: Path, max_side: int | None = None) -> str:
    """A PNG (or any image, as PNG) as a data: URI, optionally shrunk to max_side pixels."""
    if max_side is None and path.suffix.lower() == ".png":
        data = path.read_bytes()
    else:
        with Image.open(path) as im:
            im = im.convert("RGB")
            if max_side:
                im.thumbnail((max_side, max_side))
            buf = io.BytesIO()
            im.save(buf, format="PNG")
            data = buf.getvalue()
    return "data:image/png;base64," + base64.b64encode(data).decode()


def write_report(run_dir: Path) -> tuple[Path, Path]:
    """run_dir/report.md and report.html from the run folder's files; returns their paths. Results first (the
    rounds, the plot, the diagnostics), then the mechanisms (selection, queries with no positive, VAS,
    example chains), then provenance, config and wall time."""
    run_dir = Path(run_dir)
    config_text = (run_dir / "config.yaml").read_text() if (run_dir / "config.yaml").exists() else ""
    config = (yaml.safe_load(config_text) or {}) if config_text else {}
    method = config.get("method", "?")
    hist = history(run_dir)
    plots = run_dir / "report_plots"
    plots.mkdir(exist_ok=True)
    doc = Doc(run_dir)
    folder = run_dir.resolve().name  # `vistakit report .` names the folder too
    name = method if folder == method else f"{method} ({folder})"
    doc.heading(f"Run report: {name}", 1)
    done = [h["round"] for h in hist if "accuracy" in h]
    doc.text(f"Run folder {run_dir.resolve()}; rounds evaluated: {', '.join(map(str, done)) or 'none'} (round 0 is "
             f"M_0; config rounds {config.get('rounds', '?')})"
             f"{' (metrics.json written: the run ended)' if (run_dir / 'metrics.json').exists() else ''}. "
             f"Written {_clock(time.time())} by vistakit {_version()} from the folder's files.")

    doc.heading("Rounds")
    evaluated = [h for h in hist if "accuracy" in h and "grounded_rate_of_correct" in h]
    if evaluated:
        doc.text("Greedy accuracy of M_t on the held-out queries (overall and per level), the grounded share of "
                 "its correct answers; VISTA: training queries with no positive before -> after prefix "
                 "resampling, and the VAS AUROC.")
        doc.code(table([(method, evaluated)]), "text")
        notes = method_notes([(method, evaluated)])
        if notes:
            doc.code(notes, "text")
        chance, prior = baselines(data_dir(run_dir, config))
        doc.image(plot([(method, evaluated)], plots / "accuracy.png", chance, prior), "accuracy per round")
        for t in diagnostics_tables([(method, evaluated)]):
            doc.legend_table(t)
    missing = [h["round"] for h in hist if "accuracy" not in h]
    if missing:
        doc.text(f"Not evaluated yet: round {', '.join(map(str, missing))}.")
    mechanisms(doc, run_dir, config, hist, plots)
    records(doc, run_dir, config_text)
    return doc.write(f"Run report: {name}")


def mechanisms(doc: Doc, run_dir: Path, config: dict, hist: list[dict], plots: Path, level: int = 2) -> None:
    """What the method did with its samples: the selection per round, the queries with no positive and VAS,
    the attention per phase (VRE), and example chains: kept, dropped with the reason, rescued."""
    _selection(doc, run_dir, hist, level)
    _zero_positive(doc, run_dir, config, plots, level)
    if (run_dir / "phase_attention.png").exists():
        doc.heading("Attention to the image per phase", level)
        doc.image(run_dir / "phase_attention.png", "attention per phase")
    _examples(doc, run_dir, config, hist, level)


def records(doc: Doc, run_dir: Path, config_text: str, level: int = 2) -> None:
    """Where and how the run was made: provenance, the resolved config, wall time per step."""
    _provenance(doc, run_dir, config_text, level)
    _timings(doc, run_dir, level)


def _provenance(doc: Doc, run_dir: Path, config_text: str, level: int = 2) -> None:
    doc.heading("Provenance", level)
    attempts = _read_log(run_dir / "provenance.jsonl")
    if not attempts:
        doc.text("Not recorded: the folder was made before vistakit recorded provenance.jsonl. This report was "
                 f"written by vistakit {_version()} at commit {git_state(Path(__file__).resolve().parents[1])['commit']}.")
    else:
        p = attempts[-1]
        commit = p.get("commit") or "not a git checkout"
        v = p.get("versions", {})
        rows = [["vistakit", p.get("vistakit")],
                ["commit", f"{commit}{' (tracked files changed: ' + ', '.join(p['changed']) + ')' if p.get('dirty') else ''}"],
                ["started", p.get("start_local")], ["command", " ".join(p.get("command", []))],
                ["python", p.get("python")], ["platform", p.get("platform")], ["host", p.get("host")],
                ["CPU", p.get("cpu")], ["GPU", ", ".join(p.get("gpu") or []) or "none seen (nvidia-smi)"]]
        rows += [[name, version] for name, version in v.items() if version is not None]
        doc.text(f"The last of {len(attempts)} process start(s) that worked on this folder:")
        doc.table(["", "value"], rows)
        if len(attempts) > 1:
            doc.table(["attempt", "started", "commit", "dirty"],
                      [[i + 1, a.get("start_local"), a.get("commit"), a.get("dirty")] for i, a in enumerate(attempts)])
    if config_text:
        doc.details("config.yaml (the resolved config)", config_text.rstrip(), "yaml")


def minutes(seconds: float) -> str:
    """'47m59.9s'; counted in tenths, so 2879.99 s reads 48m00.0s, not 47m60.0s."""
    tenths = round(seconds * 10)
    return f"{tenths // 600}m{tenths % 600 // 10:02d}.{tenths % 10}s"


def _timings(doc: Doc, run_dir: Path, level: int = 2) -> None:
    doc.heading("Wall time", level)
    times = step_times(run_dir)
    doc.text("A step's wall time runs from the end of the step before it (or the start of the attempt that made "
             "it, if later) to the moment its folder got its last file (DONE, metrics.json, ...), by the files' "
             "modification times; it includes loading the model the step uses. A resumed run counts the attempt "
             "that finished each step, not the time it was stopped; '-': the attempt's start was not recorded. "
             "A copy that did not keep the file times (cp without -p) shows the copy's.")
    fmt = lambda s: "-" if s is None else minutes(s)  # noqa: E731
    by_round: dict = {}
    for s in times:
        by_round.setdefault(s["round"], {})[s["step"]] = s["seconds"]
    names: list[str] = []  # the steps in the order they ran: each new one before the next known one of its round
    for steps in by_round.values():
        order = list(steps)
        for i, name in enumerate(order):
            if name not in names:
                after = next((names.index(n) for n in order[i + 1:] if n in names), len(names))
                names.insert(after, name)
    loop = {r["round"]: r for r in _read_log(run_dir / "timings.jsonl")}  # the last attempt that worked on the round
    doc.table(["round"] + names + ["all its steps", "the loop's round (start to end)"],
              [["setup" if t is None else t] + [fmt(steps[n]) if n in steps else "" for n in names]
               + [fmt(sum(v or 0.0 for v in steps.values())),
                  fmt(loop[t]["end"] - loop[t]["start"]) if t in loop else "-"] for t, steps in by_round.items()])
    if times:
        doc.text(f"All steps: {fmt(sum(s['seconds'] or 0.0 for s in times))}; the first finished "
                 f"{_clock(times[0]['finished'])}, the last {_clock(times[-1]['finished'])}.")


def _selection(doc: Doc, run_dir: Path, hist: list[dict], level: int = 2) -> None:
    rows = []
    for h in hist:
        if "samples" not in h:
            continue
        r = run_dir / f"round_{h['round']}"
        diag = json.loads((r / "select" / "diagnostics.json").read_text()) if (r / "select" / "diagnostics.json").exists() else {}
        levels = diag.get("zero_positive_by_level", {})
        trained = json.loads((r / "train" / "result.json").read_text()) if (r / "train" / "result.json").exists() else {}
        crit, div = diag.get("critical_tokens", {}), diag.get("diversity")
        rows.append([h["round"], h["samples"],
                     f"{div['distinct_samples']}, {div['one_text_queries']}" if div else None,
                     h["kept"], f"{h['kept'] / max(h['samples'], 1):.2f}",
                     ", ".join(f"{k} {v}" for k, v in diag.get("kept_by_source", {}).items()),
                     ", ".join(f"{k} {v}" for k, v in diag.get("reasons", {}).items() if k != "kept"),
                     f"{h.get('queries_with_positive')}/{h.get('queries')}",
                     "; ".join(f"L{k} {v['zero_before']}→{v['zero_after']}" for k, v in levels.items()) or None,
                     f"{crit['fire_rate']:.3f}" if crit.get("fire_rate") is not None else None,
                     trained.get("examples")])
    if rows:
        doc.heading("Selection", level)
        doc.text("Round t's samples (by M_t-1) and what the selection kept: the distinct texts among the samples "
                 "and the queries whose samples are all one text (a model that repeats itself trains on copies), "
                 "kept / all samples, kept by source, dropped by reason, training queries with a kept positive, "
                 "queries with no positive per level before -> after prefix resampling, the critical-token rule's "
                 "fire rate on negatives, the training examples of M_t.")
        doc.table(["round", "samples", "distinct, one-text queries", "kept", "kept share", "kept by source",
                   "dropped", "queries solved", "no positive (by level)", "crit fires", "train examples"], rows)


def _zero_positive(doc: Doc, run_dir: Path, config: dict, plots: Path, level: int = 2) -> None:
    per_round, hists = {}, []
    for t in rounds(run_dir):
        select = run_dir / f"round_{t}" / "select"
        if (select / "diagnostics.json").exists():
            levels = json.loads((select / "diagnostics.json").read_text()).get("zero_positive_by_level")
            if levels:
                per_round[t] = levels
        if (select / "decisions.jsonl").exists():  # drawn again: folders made before the histogram left out VAS 0
            tau = (config.get("vista") or {}).get("tau", RunConfig().vista.tau)
            drawn = vas_histogram(read_jsonl(select / "decisions.jsonl"), plots / f"vas_hist_round_{t}.png", tau)
            if drawn is not None:
                hists.append((t, drawn))
        elif (select / "vas_hist.png").exists():
            hists.append((t, select / "vas_hist.png"))
    if not per_round and not hists:
        return
    doc.heading("Queries with no positive" + ("; VAS" if hists else ""), level)
    if per_round:
        prefix = any((run_dir / f"round_{t}" / "prefix").is_dir() for t in per_round)
        doc.text("Training queries with no correct sample, per level" + (", before and after prefix resampling"
                 if prefix else "") + " (select/diagnostics.json).")
        doc.image(zero_positive_plot(per_round, plots / "zero_positive.png", prefix), "zero-positive queries")
    for t, path in hists:
        doc.text(f"Round {t}: VAS of the correct chains, kept vs dropped by the filter (left), and by the task's "
                 "grounded label (right); the dashed line is the filter's cut, tau.")
        doc.image(path, f"VAS histogram round {t}")


def zero_positive_plot(per_round: dict[int, dict], out: Path, after: bool = True) -> Path:
    """Bars of the queries with no positive per (round, level): before and (`after`) after prefix resampling."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [(t, lvl) for t, levels in per_round.items() for lvl in levels]
    fig, ax = plt.subplots(figsize=(max(4.0, 0.6 * len(labels) + 2), 3.2))
    x = range(len(labels))
    width = 0.4 if after else 0.6
    ax.bar([i - 0.2 * after for i in x], [per_round[t][lvl]["zero_before"] for t, lvl in labels], width,
           label="sampled" if after else None)
    if after:
        ax.bar([i + 0.2 for i in x], [per_round[t][lvl]["zero_after"] for t, lvl in labels], width,
               label="+ prefix resampling")
    ax.set_xticks(list(x), [f"r{t} L{lvl}" for t, lvl in labels], fontsize=8)
    ax.set(title="train queries with no positive", ylabel="queries")
    if after:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def _examples(doc: Doc, run_dir: Path, config: dict, hist: list[dict], level: int = 2) -> None:
    rows, data_dir = queries(run_dir, config)
    tokenizers = Tokenizers(models(run_dir, config, hist))
    shown = False
    for t in rounds(run_dir):
        ex = examples(run_dir / f"round_{t}", t)
        if not any(ex.values()):
            continue
        if not shown:
            doc.heading("Example chains", level)
            doc.text(f"A seeded choice of each round's samples ({EXAMPLES_PER_KIND} of each kind; the same on "
                     "every rewrite): kept, dropped with the reason, and rescued negatives: a negative's prefix up "
                     "to its critical token, continued from the replacement token to a correct answer (the original token struck "
                     "through in red, its replacement in green).")
            shown = True
        doc.heading(f"Round {t} (samples by M_{t - 1})", level + 1)
        for kind in ("kept", "dropped", "rescued"):
            for d in ex.get(kind, []):
                _example(doc, kind, d, rows.get(d["query_id"]), data_dir, tokenizers(t - 1))


def _example(doc: Doc, kind: str, d: dict, query: dict | None, data_dir: Path | None, tokenizer) -> None:
    decision = d.get("decision") or d
    meta = [f"{kind}: {d['query_id']}", f"{d['source']} #{d['sample']}", f"pred {d.get('pred')!r}",
            f"correct {d.get('correct')}", f"grounded {d.get('grounded')}"]
    if decision.get("reason"):
        meta.append(f"decision {decision['reason']}")
    if decision.get("vas") is not None:
        meta.append(f"VAS {decision['vas']:.2f}")
    question = f"{query['question']} (answer {query.get('answer')!r}, level {query.get('level')})" if query else ""
    image = None
    if query and data_dir is not None:
        name = query.get("image") or (query.get("images") or [None])[0]
        image = data_dir / name if name and (data_dir / name).exists() else None
    img_html = f"<img alt='query image' src='{png_data(image, 168)}'>" if image else ""
    head_md = f"- **{' · '.join(meta)}**" + (f"  \n  {question}" if question else "") + "\n"
    head_html = (f"<div class='ex'>{img_html}<div class='meta'><b>{html.escape(' · '.join(meta))}</b></div>"
                 f"<div>{html.escape(question)}</div>")
    if kind != "rescued":
        doc.raw(head_md + _indent_code(d["response"]), head_html + f"<pre>{html.escape(d['response'])}</pre></div>")
        return
    s = split_at_critical(tokenizer, d)
    shown = {k: _visible(s[k]) for k in ("old", "new")}  # a whitespace token marked where it can be seen
    tok = (f"critical token at {d['critical_index']}: id {d['critical_token']} {s['old']!r} -> id "
           f"{d['replacement_token']} {s['new']!r}" if s["by"] == "tokenizer" else
           f"critical token at {d['critical_index']} (no tokenizer found: split where the texts first differ)")
    e = html.escape
    # the Markdown holds the same <pre> blocks as the HTML: a mark (~~, **) inside a code fence prints as is
    parent = f"<pre>{e(s['before'])}<del>{e(shown['old'])}</del>{e(s['old_rest'])}</pre>"
    rescued = f"<pre>{e(s['before'])}<ins>{e(shown['new'])}</ins>{e(s['new_rest'])}</pre>"
    doc.raw(head_md + f"  {tok}; parent negative (sample {d['parent_sample']}):\n\n{parent}\n\n  rescued:\n\n{rescued}\n",
            head_html + f"<div class='meta'>{e(tok)}; parent negative (sample {d['parent_sample']}):</div>"
            f"{parent}<div class='meta'>rescued:</div>{rescued}</div>")


def _visible(token: str) -> str:
    """A token of whitespace alone, drawn: a newline as ⏎ (and the line break), a space as ␣."""
    return token.replace(" ", "␣").replace("\n", "⏎\n") if token and not token.strip() else token


def _indent_code(text: str) -> str:
    fence = "`" * max(3, 1 + max((len(m) for m in re.findall("`+", text)), default=0))
    return "".join(f"  {line}\n" for line in [fence, *text.splitlines(), fence])
