"""Run report: the per-round table a researcher reads first, and a plot of accuracy and grounded rate."""

from __future__ import annotations

import math
import statistics
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


def diagnostics_table(rows: list[tuple[str, list[dict]]]) -> str:
    """The model-organism diagnostics per (method, round): does the model look (greedy accuracy with the true /
    another query's / a blank image), does it know the swapped query (accuracy, p(first token) original ->
    swapped), how many of its samples were made without looking (the task's marker) and how many gave the
    answer the question alone suggests where the image says otherwise (round t's samples / M_t's greedy
    answers with the true image), and, for the VISTA steps, the critical-token
    rule on negatives vs the grounded-correct control, the grounded share of positives before -> after the
    filter and the detectors' AUROCs (VAS by the scene truth and by the two-pass label; the text-only
    first-tokens detector by the two-pass label). Probes and sampling of round t use M_t and M_{t-1}."""
    f = lambda v, spec=".2f": "-" if v is None else format(v, spec)
    head = (f"{'method':<11} {'round':>5} {'true/shuf/blank':>15} {'swapped':>7} {'p1 orig->swap':>13} "
            f"{'no-look':>7} {'prior smp/greedy':>16} {'crit fires neg/ctrl':>19} {'at tok0':>7} {'grounded pos->kept':>18} "
            f"{'VAS AUROC scene/2p':>18} {'text 2p':>7}")
    lines = [head, "-" * len(head)]
    for name, hist in rows:
        for h in hist:
            p = h.get("probes", {})
            acc, p1 = p.get("accuracy", {}), p.get("first_token_prob", {})
            looks = "/".join(f(acc.get(c)) for c in ("true", "shuffled", "blank")) if acc else "-"
            fires = f"{f(h.get('critical_fire_rate'))}/{f(h.get('control_fire_rate'))}" if "critical_fire_rate" in h else "-"
            grounded = (f"{f(h.get('positives_grounded'))}->{f(h.get('kept_grounded'))}"
                        if h.get("positives_grounded") is not None else "-")
            auc = (f"{f(h.get('vas_auroc'), '.3f')}/{f(h.get('vas_auroc_two_pass'), '.3f')}"
                   if h.get("vas_auroc") is not None or h.get("vas_auroc_two_pass") is not None else "-")
            prior = f"{f(h.get('sample_prior'))}/{f(p.get('prior_rate', {}).get('true'))}"
            lines.append(f"{name:<11} {h['round']:>5} {looks:>15} {f(acc.get('swapped')):>7} "
                         f"{f(p1.get('original')) + '->' + f(p1.get('swapped')) if p1 else '-':>13} "
                         f"{f(h.get('sample_no_look')):>7} {prior:>16} {fires:>19} {f(h.get('critical_at_first_token')):>7} "
                         f"{grounded:>18} {auc:>18} {f(h.get('first_tokens_auroc_two_pass'), '.3f'):>7}")
    return "\n".join(lines)


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


def plot(rows: list[tuple[str, list[dict]]], out: Path, chance: float | None = None) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_acc, ax_g) = plt.subplots(1, 2, figsize=(9, 3.5))
    for name, hist in rows:
        rounds = [h["round"] for h in hist]
        marker = "o" if len(hist) > 1 else "s"
        ax_acc.plot(rounds, [h["accuracy"] for h in hist], marker=marker, label=name)
        ax_g.plot(rounds, [h["grounded_rate_of_correct"] or 0 for h in hist], marker=marker, label=name)
    if chance is not None:
        ax_acc.axhline(chance, color="grey", ls="--", lw=1, label="chance")
    ax_acc.set(title="held-out accuracy (greedy)", xlabel="round", ylabel="accuracy")
    ax_g.set(title="grounded share of correct answers", xlabel="round")
    for ax in (ax_acc, ax_g):
        ax.xaxis.get_major_locator().set_params(integer=True)
    ax_acc.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
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
