"""The methods of a demo compared, for the console's verdict (`vistakit demo`) and the demo's report
(evaluation/demo_report.py) alike: accuracy per method and round; each method's gain over SFT-Seed, and
VISTA's over ReST-EM, with a 95% interval paired over the same test queries; and what the diagnostics say,
in words.

A comparison is read from the methods' run folders: their metrics (one dict per round, as metrics.json
holds them) and each round's evaluation, `round_t/eval/samples.jsonl`, for the paired gains. Every method's
round 0 is SFT-Seed's model (the demo starts each method from it), so round 0 is shown once, as SFT-Seed's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from vistakit.evaluation.report import Z95, Table, axis_range, paired_gain

SEED = "sft-seed"
TITLES = {"sft-seed": "SFT-Seed", "rft": "RFT", "rest-em": "ReST-EM", "star": "STaR", "vista-sft": "VISTA-SFT",
          "vista-dpo": "VISTA-DPO", "prefix-only": "prefix-only", "vas-only": "VAS-only", "vre": "VRE", "r3v": "R3V"}
# VAS's AUROC for finding the ungrounded positives (0.5: chance): how the findings put it in words
CHANCE_BAND = (0.45, 0.55)


def title(method: str) -> str:
    return TITLES.get(method, method)


@dataclass
class Gain:
    """Accuracy of `method` after `round` minus that of `versus` after `versus_round`, on the same queries."""

    method: str
    round: int
    versus: str
    versus_round: int
    gain: float  # a fraction of the queries: +0.026 is 2.6 points
    se: float
    n: int

    @property
    def low(self) -> float:
        return self.gain - Z95 * self.se

    @property
    def high(self) -> float:
        return self.gain + Z95 * self.se

    def points(self) -> str:
        """'+2.6 (95% CI -0.4 to +5.6)', in accuracy points."""
        return f"{100 * self.gain:+.1f} (95% CI {100 * self.low:+.1f} to {100 * self.high:+.1f})"

    def cell(self) -> str:
        """'+2.6 [-0.4, +5.6]': a table cell, whose header says it is a 95% CI in points."""
        return f"{100 * self.gain:+.1f} [{100 * self.low:+.1f}, {100 * self.high:+.1f}]"

    def word(self) -> str:
        if self.low > 0:
            return "better"
        if self.high < 0:
            return "worse"
        return "no clear difference (the interval includes 0)"


@dataclass
class Comparison:
    """The methods of one demo: `rows` (method, history), SFT-Seed's first; `dirs` their run folders; the
    test split's chance accuracy and answer-prior accuracy (answering without looking), where known."""

    rows: list[tuple[str, list[dict]]]
    dirs: dict[str, Path]
    chance: float | None = None
    prior: float | None = None
    gains: list[Gain] = field(default_factory=list)

    def __post_init__(self):
        if not self.gains:
            self.gains = paired_gains(self)

    def history(self, method: str) -> list[dict]:
        return next((hist for name, hist in self.rows if name == method), [])

    def evaluated(self, method: str) -> list[dict]:
        """The rounds a method's own model made (SFT-Seed: round 0) that were evaluated."""
        first = 0 if method == SEED else 1
        return [h for h in self.history(method) if h["round"] >= first and "accuracy" in h]

    def rounds(self) -> list[int]:
        return sorted({h["round"] for name, _ in self.rows for h in self.evaluated(name)})

    def test_queries(self) -> int | None:
        seed = self.evaluated(SEED)
        return seed[0].get("n") if seed else None


def eval_dir(run_dir: Path, t: int) -> Path:
    return Path(run_dir) / f"round_{t}" / "eval"


def paired_gains(c: Comparison) -> list[Gain]:
    """Each method's model of each round against SFT-Seed's, and each VISTA variant's against ReST-EM's of the
    same round: paired over the same test queries (report.paired_gain), where both rounds were evaluated on one
    set (a run with several evaluation sets has one folder per set: not compared here)."""
    out = []

    def compare(method: str, t: int, versus: str, vt: int) -> None:
        a, b = eval_dir(c.dirs[versus], vt), eval_dir(c.dirs[method], t)
        if (a / "samples.jsonl").exists() and (b / "samples.jsonl").exists():
            out.append(Gain(method, t, versus, vt, *paired_gain(a, b)))

    for method, _ in c.rows:
        if method == SEED:
            continue
        for h in c.evaluated(method):
            if SEED in c.dirs:
                compare(method, h["round"], SEED, 0)
            if method.startswith("vista") and "rest-em" in c.dirs and any(
                    r["round"] == h["round"] for r in c.evaluated("rest-em")):
                compare(method, h["round"], "rest-em", h["round"])
    return out


def accuracy_table(c: Comparison) -> Table:
    rounds = c.rounds()
    rows = []
    for method, _ in c.rows:
        by_round = {h["round"]: h["accuracy"] for h in c.evaluated(method)}
        rows.append([title(method)] + [f"{by_round[t]:.3f}" if t in by_round else "" for t in rounds])
    n = c.test_queries()
    base = [f"chance {c.chance:.3f}" if c.chance is not None else None,
            f"answering the question's most frequent answer without looking {c.prior:.3f}" if c.prior is not None else None]
    return Table(f"Accuracy on {n or 'the'} held-out test queries (greedy decoding)",
                 ["method"] + [f"round {t}" for t in rounds], rows,
                 [("round 0", "SFT-Seed's model, trained on the seed chains: every method starts from it"),
                  ("round t", "the model after t rounds of the method's self-training")]
                 + ([("for reference", "; ".join(b for b in base if b))] if any(base) else []))


def gains_table(c: Comparison) -> Table:
    pairs = list(dict.fromkeys((g.method, g.versus) for g in c.gains))
    rounds = sorted({g.round for g in c.gains})
    cells = {(g.method, g.versus, g.round): g.cell() for g in c.gains}
    n = c.gains[0].n if c.gains else None
    return Table(f"Gain in accuracy points, paired over the same {n or ''} test queries, with its 95% CI in brackets",
                 ["comparison"] + [f"round {t}" for t in rounds],
                 [[f"{title(m)} - {title(v)}"] + [cells.get((m, v, t), "") for t in rounds] for m, v in pairs],
                 [("A - B", "accuracy of A's model after round t minus B's (SFT-Seed: its one model), in points"),
                  ("95% CI", "the mean of the per-query differences plus or minus 1.96 standard errors; an "
                             "interval that includes 0 is no clear difference")])


def findings(c: Comparison) -> list[str]:
    """What the gains and diagnostics say, a sentence each."""
    out = []
    last = {g.method: g.round for g in c.gains}
    for g in c.gains:
        if g.round == last[g.method]:
            out.append(f"{title(g.method)} after round {g.round} against {title(g.versus)}"
                       f"{' after round ' + str(g.versus_round) if g.versus != SEED else ''}: "
                       f"{g.points()} points: {g.word()}.")
    out += _vas_findings(c) + _reliance_findings(c) + _prefix_findings(c) + _diversity_findings(c)
    return out


def _vas_findings(c: Comparison) -> list[str]:
    out = []
    for method, _ in c.rows:
        scored = [(h["round"], h.get("vas_auroc") if h.get("vas_auroc") is not None else h.get("vas_auroc_two_pass"))
                  for h in c.evaluated(method)]
        scored = [(t, a) for t, a in scored if a is not None]
        if not scored:
            continue
        mean = sum(a for _, a in scored) / len(scored)
        label = "the task's grounded label" if any(h.get("vas_auroc") is not None for h in c.evaluated(method)) \
            else "the two-pass label"
        aurocs = ", ".join(f"{a:.2f}" for _, a in scored)
        when = _rounds([t for t, _ in scored])
        if CHANCE_BAND[0] <= mean <= CHANCE_BAND[1]:
            verdict = "separates grounded from ungrounded chains no better than chance on this organism"
        elif mean < CHANCE_BAND[0]:
            verdict = "scores ungrounded chains higher than grounded ones, worse than chance, on this organism"
        elif mean < 0.65:
            verdict = "separates grounded from ungrounded chains only weakly on this organism"
        else:
            verdict = "separates grounded from ungrounded chains on this organism"
        out.append(f"{title(method)}: VAS {verdict} (AUROC {aurocs} in {when}, by {label}; 0.5 is chance): "
                   "see docs/results.md.")
        kept = [h for h in c.evaluated(method) if h.get("positives_grounded") is not None and h.get("kept_grounded") is not None]
        if kept:
            h = kept[-1]
            before, after = round(h["positives_grounded"], 3), round(h["kept_grounded"], 3)  # as printed
            change = "raised" if after > before else "lowered" if after < before else "did not change"
            out.append(f"{title(method)}: the VAS filter {change} the grounded share of the training chains "
                       f"in round {h['round']} ({before:.3f} of the correct chains, {after:.3f} of those it kept).")
    return out


def _reliance_findings(c: Comparison) -> list[str]:
    """Image reliance: accuracy with the query's own image minus with another query's, on the probe queries."""
    models = [(f"{title(SEED)}", h) for h in c.evaluated(SEED)[:1]]
    models += [(f"{title(m)} round {hist[-1]['round']}", hist[-1]) for m, _ in c.rows if m != SEED
               for hist in [c.evaluated(m)] if hist]
    probed = [(name, h["probes"]) for name, h in models if (h.get("probes") or {}).get("accuracy", {}).get("shuffled") is not None]
    if not probed:
        return []
    parts = [f"{name} {100 * (p['accuracy']['true'] - p['accuracy']['shuffled']):+.0f}" for name, p in probed]
    n = probed[0][1].get("queries")
    looks = max(p["accuracy"]["true"] - p["accuracy"]["shuffled"] for _, p in probed) >= 0.03
    return [f"Image reliance (accuracy with the query's own image minus with another query's, in points, on "
            f"{n or 'the first'} test queries): {'; '.join(parts)}."
            + ("" if looks else " The models barely use the image.")]


def _prefix_findings(c: Comparison) -> list[str]:
    out = []
    for method, _ in c.rows:
        rescued = [h for h in c.evaluated(method) if h.get("zero_positive_before") is not None
                   and h.get("zero_positive_after") is not None and (h.get("kept_by_source") or {}).get("prefix") is not None]
        if rescued:
            per = "; ".join(f"round {h['round']}: {h['zero_positive_before']} -> {h['zero_positive_after']}" for h in rescued)
            out.append(f"{title(method)}: prefix resampling left fewer training queries without a correct chain "
                       f"({per} of {rescued[0].get('queries')} queries).")
        fired = [h for h in c.evaluated(method) if h.get("critical_fire_rate") is not None]
        if fired and all(h["critical_fire_rate"] == 0 for h in fired):
            out.append(f"{title(method)}: the critical-token rule fired on none of the wrong chains "
                       f"({_rounds([h['round'] for h in fired])}), so prefix resampling added no chain.")
    return out


def _diversity_findings(c: Comparison) -> list[str]:
    """A model that draws one text for all K samples of most queries trains on copies, and leaves VAS
    nothing to rank within those queries."""
    out = []
    for method, _ in c.rows:
        counted = [h for h in c.evaluated(method) if h.get("one_text_queries") is not None and h.get("queries")]
        if counted and counted[-1]["one_text_queries"] >= counted[-1]["queries"] / 2:
            h = counted[-1]
            out.append(f"{title(method)}: in round {h['round']} the K samples were one and the same text for "
                       f"{h['one_text_queries']} of {h['queries']} training queries: the round trains on copies, "
                       "and VAS has nothing to rank within those queries.")
    return out


def _rounds(rounds: list[int]) -> str:
    return f"round {rounds[0]}" if len(rounds) == 1 else f"rounds {rounds[0]}-{rounds[-1]}"


def verdict(c: Comparison, report: Path | None = None) -> str:
    """The console's closing summary: the accuracy and gains tables, the findings, the report's path."""
    lines = ["", accuracy_table(c).text(), ""]
    if c.gains:
        lines += [gains_table(c).text(), ""]
    lines += ["What this run shows:"] + [f"- {f}" for f in findings(c)]
    if report is not None:
        lines += ["", f"Report (results, plots, diagnostics, example chains): {report}"]
    return "\n".join(lines)


def gains_plot(gains: list[Gain], out: Path) -> Path | None:
    """Each comparison's gain per round in accuracy points with its 95% interval, against the zero line; the
    axis holds 0 and every interval and spans at least 10 points."""
    if not gains:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pairs = list(dict.fromkeys((g.method, g.versus) for g in gains))
    fig, ax = plt.subplots(figsize=(9, 3.4))
    for i, (m, v) in enumerate(pairs):
        mine = [g for g in gains if (g.method, g.versus) == (m, v)]
        shift = (i - (len(pairs) - 1) / 2) * 0.12  # side by side within a round
        ax.errorbar([g.round + shift for g in mine], [100 * g.gain for g in mine],
                    yerr=[100 * Z95 * g.se for g in mine], marker="o", capsize=3, ls="none",
                    label=f"{title(m)} - {title(v)}")
    ax.axhline(0, color="k", lw=1)
    # at least 10 points: a 2-point difference must not fill the plot
    lo, hi = axis_range([0.0] + [g.low for g in gains] + [g.high for g in gains], pad=0.01, bounds=None)
    ax.set_ylim(100 * lo, 100 * hi)
    rounds = sorted({g.round for g in gains})
    ax.set_xticks(rounds)
    ax.set_xlim(rounds[0] - 0.5, rounds[-1] + 0.5)
    ax.set(title="gain in accuracy points, paired over the same test queries (95% intervals)", xlabel="round",
           ylabel="points")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
