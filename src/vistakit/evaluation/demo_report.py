"""The demo's one report, `DEMO_DIR/report.md` and `report.html` (self-contained, plots embedded), from the
folder `vistakit demo` leaves: `sft-seed/`, `rest-em/`, `vista-sft/` ..., each a run folder.

    vistakit report runs/demo-seed0

Results first: accuracy per method and round, the gains with their 95% intervals, the plots and what the
diagnostics say in words (evaluation/compare.py, as the console's verdict); then the diagnostics tables;
then each method's mechanisms (selection, queries with no positive, VAS, example chains) and last each run's
provenance, config and wall time, all as the run reports (evaluation/run_report.py) build them.
"""

from __future__ import annotations

import time
from pathlib import Path

import yaml

from vistakit.config import METHOD_NAMES
from vistakit.evaluation.compare import SEED, Comparison, accuracy_table, findings, gains_plot, gains_table, title
from vistakit.evaluation.report import diagnostics_tables, method_notes, plot
from vistakit.evaluation.run_report import Doc, history, mechanisms, records
from vistakit.tasks.shapes import baselines


def is_run_folder(path: Path) -> bool:
    return (path / "config.yaml").exists() or (path / "round_0").is_dir()


def method_dirs(demo_dir: Path) -> dict[str, Path]:
    """The run folders of a demo folder by method, SFT-Seed first, the others in `vistakit methods` order."""
    found = {p.name: p for p in Path(demo_dir).iterdir() if p.is_dir() and is_run_folder(p)}
    order = {name: i for i, name in enumerate(METHOD_NAMES)}
    return {name: found[name] for name in sorted(found, key=lambda n: (order.get(n, len(order)), n))}


def is_demo_folder(path: Path) -> bool:
    return Path(path).is_dir() and SEED in method_dirs(path)


def comparison(demo_dir: Path) -> Comparison:
    """The methods of a demo folder, finished or still running (run_report.history reads both)."""
    dirs = method_dirs(demo_dir)
    chance, prior = baselines(dirs[SEED] / "data") if SEED in dirs else (None, None)
    return Comparison([(m, history(d)) for m, d in dirs.items()], dirs, chance, prior)


def write_demo_report(demo_dir: Path, c: Comparison | None = None) -> tuple[Path, Path]:
    demo_dir = Path(demo_dir)
    c = c or comparison(demo_dir)
    plots = demo_dir / "report_plots"
    plots.mkdir(exist_ok=True)
    doc = Doc(demo_dir)
    names = ", ".join(title(m) for m, _ in c.rows)
    doc.heading(f"Demo report: {names}", 1)
    configs = {m: (d / "config.yaml").read_text() if (d / "config.yaml").exists() else "" for m, d in c.dirs.items()}
    planned = {m: (yaml.safe_load(text) or {}).get("rounds") for m, text in configs.items() if m != SEED}
    waiting = [f"{title(m)} round {t}" for m, n in planned.items() if n
               for t in range(1, n + 1) if t not in {h["round"] for h in c.evaluated(m)}]
    doc.text(f"Folder {demo_dir.resolve()}. Every method starts from SFT-Seed's model (round 0) and trains for "
             f"{', '.join(sorted({str(n) for n in planned.values() if n})) or 'its'} rounds on its own samples; all "
             f"are evaluated on the same held-out test queries. "
             + (f"Not evaluated yet: {', '.join(waiting)}. " if waiting else "")
             + f"Written {time.strftime('%Y-%m-%d %H:%M:%S')} from the run folders' files.")

    doc.heading("Results")
    doc.legend_table(accuracy_table(c))
    if c.gains:
        doc.legend_table(gains_table(c))
    doc.heading("What this run shows", 3)
    doc.bullets(findings(c))
    baseline = next(((f"{title(SEED)} (round 0)", h["accuracy"]) for h in c.evaluated(SEED)), None)
    doc.image(plot([(title(m), hist) for m, hist in c.rows if m != SEED], plots / "accuracy.png", c.chance, c.prior,
                   baseline), "accuracy per method and round")
    figure = gains_plot(c.gains, plots / "gains.png")
    if figure is not None:
        doc.image(figure, "gains with 95% intervals")
    notes = method_notes([(m, c.evaluated(m)) for m, _ in c.rows])
    if notes:
        doc.code(notes, "text")

    doc.heading("Diagnostics")
    rows = [(title(m), hist if m == SEED else [h for h in hist if h["round"] > 0]) for m, hist in c.rows]
    for t in diagnostics_tables([(m, [h for h in hist if "accuracy" in h]) for m, hist in rows]):
        doc.legend_table(t)

    for method, hist in c.rows:
        if method == SEED:
            continue
        doc.heading(f"How {title(method)} trained")
        mechanisms(doc, c.dirs[method], yaml.safe_load(configs[method]) or {}, hist, _folder(plots / method), level=3)
    doc.heading("Provenance, config and wall time")
    for method, d in c.dirs.items():
        doc.heading(title(method), 3)
        doc.text(f"Run folder {d.resolve()}; its own report: {d / 'report.html'}.")
        records(doc, d, configs[method], level=4)
    return doc.write(f"Demo report: {names}")


def _folder(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
