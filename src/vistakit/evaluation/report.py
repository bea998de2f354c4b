"""Run report: the per-round table a researcher reads first, and a plot of accuracy and grounded rate."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from vistakit.runfolder import read_jsonl


def table(rows: list[tuple[str, list[dict]]]) -> str:
    """One line per (method, round): accuracy overall and per level (or, with several evaluation sets, each
    set's headline score; `acc` is then their in-domain mean), and the grounded rate of correct answers."""
    levels = sorted({lvl for _, hist in rows for h in hist for lvl in h.get("by_level", {})})
    sets = list(dict.fromkeys(name for _, hist in rows for h in hist for name in h.get("eval_sets", {})))
    vista = any("zero_positive_before" in h for _, hist in rows for h in hist)
    head = f"{'method':<11} {'round':>5} {'acc':>6} " + " ".join(f"{'L' + lvl:>6}" for lvl in levels)
    head += "".join(f" {name[:10]:>10}" for name in sets) + f" {'grounded':>9}"
    if vista:  # VISTA's diagnostics: train queries without a positive before -> after prefix resampling
        head += f" {'no-positive':>11} {'VAS AUROC':>9}"
    lines = [head, "-" * len(head)]
    for name, hist in rows:
        for h in hist:
            g = h["grounded_rate_of_correct"]
            g = "-" if g is None else f"{g:.3f}"
            per_level = " ".join(f"{h.get('by_level', {}).get(lvl, {}).get('accuracy', float('nan')):>6.3f}" for lvl in levels)
            per_set = "".join(f" {h.get('eval_sets', {}).get(s, {}).get('score', float('nan')):>10.3f}" for s in sets)
            line = f"{name:<11} {h['round']:>5} {h['accuracy']:>6.3f} {per_level}{per_set} {g:>9}"
            if vista:
                zero = f"{h['zero_positive_before']}->{h['zero_positive_after']}" if "zero_positive_before" in h else "-"
                auc = h.get("vas_auroc")
                line += f" {zero:>11} {'-' if auc is None else f'{auc:.3f}':>9}"
            lines.append(line)
    return "\n".join(lines)


@dataclass
class Table:
    """A table with a title and a legend of its columns, written as aligned text (the console) or, by the
    run report, as Markdown and HTML: the one place its cells are made."""

    title: str
    head: list[str]
    rows: list[list[str]]
    legend: list[tuple[str, str]] = field(default_factory=list)

    def text(self) -> str:
        widths = [max(len(str(r[i])) for r in [self.head] + self.rows) for i in range(len(self.head))]
        line = lambda r: "  ".join(str(v).ljust(w) if i == 0 else str(v).rjust(w)  # noqa: E731
                                   for i, (v, w) in enumerate(zip(r, widths))).rstrip()
        out = [self.title + ":", line(self.head), "-" * len(line(self.head))] + [line(r) for r in self.rows]
        return "\n".join(out + [f"  {name}: {text}" for name, text in self.legend])


def diagnostics_tables(rows: list[tuple[str, list[dict]]]) -> list[Table]:
    """The model-organism diagnostics per (method, round), in two tables with a legend each: does M_t look at
    the image (its probes), and what VISTA's steps did with round t's samples (by M_t-1); the second only
    where a VISTA step ran."""
    f = lambda v, spec=".2f": "-" if v is None else format(v, spec)  # noqa: E731
    looks, steps = [], []
    n = None
    for name, hist in rows:
        for h in hist:
            p = h.get("probes", {})
            n = n or p.get("queries")
            acc, p1 = p.get("accuracy", {}), p.get("first_token_prob", {})
            looks.append([name, h["round"], "/".join(f(acc.get(c)) for c in ("true", "shuffled", "blank")) if acc else "-",
                          f(acc.get("swapped")), f"{f(p1.get('original'))} -> {f(p1.get('swapped'))}" if p1 else "-",
                          f(h.get("sample_no_look")),
                          f"{f(h.get('sample_prior'))}/{f(p.get('prior_rate', {}).get('true'))}"])
            if any(h.get(k) is not None for k in ("critical_fire_rate", "vas_auroc", "vas_auroc_two_pass")):
                steps.append([name, h["round"],
                              f"{f(h.get('critical_fire_rate'))}/{f(h.get('control_fire_rate'))}",
                              f(h.get("critical_at_first_token")),
                              f"{f(h.get('positives_grounded'))} -> {f(h.get('kept_grounded'))}"
                              if h.get("positives_grounded") is not None else "-",
                              f"{f(h.get('vas_auroc'), '.3f')}/{f(h.get('vas_auroc_two_pass'), '.3f')}",
                              f(h.get("first_tokens_auroc_two_pass"), ".3f")])
    tables = [Table(f"Does the model look at the image? Probes of M_t on the first {n or ''} test queries",
                    ["method", "round", "acc own/other/blank", "acc swapped", "p(tok 1) orig -> swap",
                     "no-look smp", "prior smp/greedy"], looks,
                    [("acc own/other/blank", "greedy accuracy with the query's own image / another query's "
                      "image / a blank image: a model that looks loses accuracy without its own image"),
                     ("acc swapped", "accuracy with the instruction before the image (the query VISTA's critical-"
                      "token pass uses)"),
                     ("p(tok 1)", "mean probability of the model's own first response token, original -> "
                      "swapped query: close values mean the swapped query is in distribution"),
                     ("no-look smp", "share of round t's samples (by M_t-1) the task labels as made without "
                      "looking"),
                     ("prior smp/greedy", "share of answers that give the question's usual answer where the image "
                      "says otherwise: round t's samples / M_t's greedy answers")])]
    if steps:
        tables.append(Table("VISTA's steps on round t's samples (by M_t-1)",
                            ["method", "round", "crit fires neg/ctrl", "crit at tok 1", "grounded pos -> kept",
                             "VAS AUROC label/2-pass", "text AUROC"], steps,
                            [("crit fires neg/ctrl", "share of wrong chains in which the rule finds a critical "
                              "token / share of grounded correct chains (a control, where it should not fire)"),
                             ("crit at tok 1", "share of the critical tokens that are the first response token"),
                             ("grounded pos -> kept", "grounded share of the positives (correct chains), before "
                              "-> after the VAS filter"),
                             ("VAS AUROC", "how well a low VAS finds the correct chains made without looking, by "
                              "the task's grounded label / by the two-pass label; 0.5 is chance"),
                             ("text AUROC", "the same for a detector that reads only the response's first tokens "
                              "(two-pass label): what VAS must beat")]))
    return tables


def diagnostics_table(rows: list[tuple[str, list[dict]]]) -> str:
    """`diagnostics_tables` as text, each with its legend."""
    return "\n\n".join(t.text() for t in diagnostics_tables(rows))


def paired_gain(base: Path, other: Path) -> tuple[float, float, int]:
    """Accuracy of `other` minus `base` on the same test queries (two eval folders' samples.jsonl), with the
    standard error of the mean per-query difference: on a few hundred queries the unpaired noise (+-2 points)
    hides gains the paired comparison resolves."""
    a = {r["query_id"]: float(r["correct"]) for r in read_jsonl(base / "samples.jsonl")}
    b = {r["query_id"]: float(r["correct"]) for r in read_jsonl(other / "samples.jsonl")}
    if a.keys() != b.keys():
        raise ValueError(f"{base} and {other} evaluated different queries ({len(a)} vs {len(b)})")
    d = [b[q] - a[q] for q in a]
    n = len(d)
    se = statistics.stdev(d) / math.sqrt(n) if n > 1 else float("nan")
    return statistics.fmean(d), se, n


Z95 = 1.96  # two-sided 95% normal quantile: the intervals of accuracies and of paired gains


def axis_range(values: list[float], min_span: float = 0.10, pad: float = 0.02,
               bounds: tuple[float, float] | None = (0.0, 1.0)) -> tuple[float, float]:
    """y-limits holding every value (accuracies and their intervals, the baseline, chance, the prior; or gains
    and 0), spanning at least `min_span` (10 points of accuracy): an autoscaled axis makes a 2-point drop look
    like a cliff. Shifted into `bounds` (accuracies: [0, 1]; None for gains, which may be negative)."""
    lo, hi = min(values) - pad, max(values) + pad
    if hi - lo < min_span:
        mid = (lo + hi) / 2
        lo, hi = mid - min_span / 2, mid + min_span / 2
    if bounds is None:
        return lo, hi
    low, high = bounds
    if lo < low:  # shifted into bounds, keeping the span
        lo, hi = low, hi + (low - lo)
    if hi > high:
        lo, hi = lo - (hi - high), high
    return max(lo, low), min(hi, high)


def interval(p: float, n: int | None) -> float:
    """Half-width of the 95% interval of an accuracy p on n queries (normal approximation); 0 when n is unknown."""
    return Z95 * math.sqrt(p * (1 - p) / n) if n else 0.0


def plot(rows: list[tuple[str, list[dict]]], out: Path, chance: float | None = None, prior: float | None = None,
         baseline: tuple[str, float] | None = None) -> Path:
    """Accuracy per round with its 95% interval, against the baseline (`baseline` (label, accuracy); default:
    the first row's round 0, M_0), chance and the answer prior (answering without looking); and the grounded
    share of correct answers. The accuracy axis holds all of them and spans at least 10 points."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if baseline is None:
        first = next((h for _, hist in rows for h in hist if h["round"] == 0 and "accuracy" in h), None)
        baseline = ("M_0 (round 0)", first["accuracy"]) if first else None
    fig, (ax_acc, ax_g) = plt.subplots(1, 2, figsize=(9, 3.8), gridspec_kw={"width_ratios": [3, 2]})
    values = []
    for name, hist in rows:
        hist = [h for h in hist if "accuracy" in h]
        rounds = [h["round"] for h in hist]
        acc = [h["accuracy"] for h in hist]
        err = [interval(h["accuracy"], h.get("n")) for h in hist]
        values += [a - e for a, e in zip(acc, err)] + [a + e for a, e in zip(acc, err)]
        ax_acc.errorbar(rounds, acc, yerr=err, marker="o", capsize=3, label=name)
        ax_g.plot(rounds, [h.get("grounded_rate_of_correct") or 0 for h in hist], marker="o", label=name)
    for (label, level), style in zip([baseline, ("chance", chance), ("answer prior, no look", prior)],
                                     [dict(color="k", ls="-", lw=1.2), dict(color="grey", ls=":", lw=1.2),
                                      dict(color="grey", ls="--", lw=1.2)]):
        if label is not None and level is not None:
            ax_acc.axhline(level, label=label, **style)
            values.append(level)
    ax_acc.set_ylim(*axis_range(values or [0.0, 1.0]))
    ax_acc.set(title="held-out accuracy (greedy), 95% intervals", xlabel="round", ylabel="accuracy")
    ax_g.set(title="grounded share of correct answers", xlabel="round", ylim=(0, 1.02))
    for ax in (ax_acc, ax_g):
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(axis="y", alpha=0.3)
    handles, labels = ax_acc.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 4), fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, 0.1 + 0.05 * (len(labels) > 4), 1, 1))
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def method_notes(rows: list[tuple[str, list[dict]]]) -> str:
    """Lines for the numbers only some methods have: VRE's SFT-model accuracy (before GRPO), template use,
    reflection gain and image-attention ratio per phase; R3V's test-time self-select."""
    lines = []
    fmt = lambda v: "-" if v is None else f"{v:.3f}"
    for name, hist in rows:
        for h in hist:
            if "format_rate" in h:
                ph = h.get("phase_S", {})
                refl, plain = ph.get("reflection", {}), ph.get("plain", {})
                lines.append(
                    f"{name} round {h['round']}: acc {h['accuracy']:.3f} (SFT model {fmt(h.get('sft_accuracy'))}), "
                    f"template {h['format_rate']:.2f}, reflection gain {fmt(h.get('reflection_gain_rate'))}, "
                    f"reasoning grounded {fmt(h.get('reasoning_grounded_rate_of_correct'))}, "
                    f"S before/inside/after {fmt(refl.get('before'))}/{fmt(refl.get('inside'))}/{fmt(refl.get('after'))}"
                    f" (plain responses: {fmt(plain.get('before'))}/{fmt(plain.get('after'))})"
                    + (f", unstable {h['partition']['unstable']} -> RL {h.get('rl_queries')}" if "partition" in h else ""))
            if "self_select_accuracy" in h:
                lines.append(f"{name} round {h['round']}: greedy {h['accuracy']:.3f}, self-select of "
                             f"3 samples {h['self_select_accuracy']:.3f}, majority {h['majority_accuracy']:.3f}, "
                             f"one sample {h['candidate_accuracy']:.3f}, any of 3 {h['test_at_k']:.3f}")
    return "\n".join(lines)
