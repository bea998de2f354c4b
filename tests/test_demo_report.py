"""The demo's verdict and report (evaluation/compare.py, evaluation/demo_report.py) from a hand-built demo folder:
three run folders whose evaluations are written by hand, so every paired gain and its interval is known."""

import json

import matplotlib.pyplot as plt
import pytest
import yaml

from vistakit.cli import main
from vistakit.evaluation.compare import Comparison, accuracy_table, findings, gains_table, verdict
from vistakit.evaluation.demo_report import comparison, method_dirs, write_demo_report
from vistakit.evaluation.report import axis_range, plot
from vistakit.runfolder import write_jsonl

# per-query correctness on 10 test queries
SEED = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]  # 0.4
REST = {1: [1, 1, 1, 1, 1, 0, 0, 0, 0, 0], 2: [1, 1, 1, 1, 1, 1, 1, 1, 0, 0]}  # 0.5, 0.8
VISTA = {1: REST[1], 2: [0, 1, 1, 1, 1, 1, 1, 1, 1, 0]}  # 0.5, 0.8: two queries differ from ReST-EM's round 2


def _probes(true, other):
    return {"queries": 10, "accuracy": {"true": true, "shuffled": other, "blank": other, "swapped": true}}


def _run(folder, method, per_round, extra=None):
    """A finished run folder: config.yaml, metrics.json and each round's eval/samples.jsonl."""
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text(yaml.safe_dump({"method": method, "rounds": max(per_round)}))
    history = []
    for t, correct in per_round.items():
        write_jsonl(folder / f"round_{t}" / "eval" / "samples.jsonl",
                    [{"query_id": f"q{i}", "correct": bool(c)} for i, c in enumerate(correct)])
        history.append({"round": t, "n": len(correct), "accuracy": sum(correct) / len(correct),
                        "grounded_rate_of_correct": 0.8, "probes": _probes(0.6, 0.5), **(extra or {}).get(t, {})})
    (folder / "metrics.json").write_text(json.dumps(history))


@pytest.fixture
def demo(tmp_path):
    d = tmp_path / "demo-seed0"
    _run(d / "sft-seed", "sft-seed", {0: SEED})
    _run(d / "rest-em", "rest-em", {0: SEED, **REST})
    vista = {1: {"vas_auroc": 0.49, "zero_positive_before": 31, "zero_positive_after": 21, "queries": 300,
                 "kept_by_source": {"sample": 40, "prefix": 5}, "positives_grounded": 0.80, "kept_grounded": 0.86},
             2: {"vas_auroc": 0.47, "zero_positive_before": 20, "zero_positive_after": 15, "queries": 300,
                 "kept_by_source": {"sample": 50, "prefix": 3}, "positives_grounded": 0.82, "kept_grounded": 0.81,
                 "probes": _probes(0.6, 0.6)}}
    _run(d / "vista-sft", "vista-sft", {0: SEED, **VISTA}, vista)
    (d / "rest-em.log").write_text("")  # a demo folder also holds the methods' logs
    return d


def test_the_verdict_states_each_gain_with_its_interval(demo):
    c = comparison(demo)
    assert [m for m, _ in c.rows] == ["sft-seed", "rest-em", "vista-sft"]
    lines = findings(c)
    # ReST-EM round 2 - SFT-Seed: 4 queries gained, none lost: mean 0.4, sd 0.516, se 0.163
    assert lines[0] == "ReST-EM after round 2 against SFT-Seed: +40.0 (95% CI +8.0 to +72.0) points: better."
    # VISTA-SFT round 2: 5 gained, 1 lost: mean 0.4, se 0.221
    assert lines[1] == ("VISTA-SFT after round 2 against SFT-Seed: +40.0 (95% CI -3.3 to +83.3) points: "
                        "no clear difference (the interval includes 0).")
    # against ReST-EM's round 2 on the same queries: one won, one lost: mean 0, se 0.149
    assert lines[2] == ("VISTA-SFT after round 2 against ReST-EM after round 2: +0.0 (95% CI -29.2 to +29.2) "
                        "points: no clear difference (the interval includes 0).")
    assert ("VISTA-SFT: VAS separates grounded from ungrounded chains no better than chance on this organism "
            "(AUROC 0.49, 0.47 in rounds 1-2, by the task's grounded label; 0.5 is chance): see docs/results.md.") in lines
    assert ("VISTA-SFT: the VAS filter lowered the grounded share of the training chains in round 2 (0.820 of the "
            "correct chains, 0.810 of those it kept).") in lines
    assert ("Image reliance (accuracy with the query's own image minus with another query's, in points, on 10 test "
            "queries): SFT-Seed +10; ReST-EM round 2 +10; VISTA-SFT round 2 +0.") in lines
    assert ("VISTA-SFT: prefix resampling left fewer training queries without a correct chain (round 1: 31 -> 21; "
            "round 2: 20 -> 15 of 300 queries).") in lines
    assert not any("ReST-EM: prefix" in line for line in lines)  # no prefix step, no sentence


def test_a_change_too_small_to_print_is_not_called_a_rise(demo):
    metrics = demo / "vista-sft" / "metrics.json"
    history = json.loads(metrics.read_text())
    history[-1].update(positives_grounded=0.9281, kept_grounded=0.9284)  # both print as 0.928
    metrics.write_text(json.dumps(history))
    assert ("VISTA-SFT: the VAS filter did not change the grounded share of the training chains in round 2 "
            "(0.928 of the correct chains, 0.928 of those it kept).") in findings(comparison(demo))


def test_a_rule_that_never_fires_and_samples_that_repeat_are_said(demo):
    metrics = demo / "vista-sft" / "metrics.json"
    history = json.loads(metrics.read_text())
    for h in history[1:]:
        h.update(critical_fire_rate=0.0, kept_by_source={"sample": 50}, one_text_queries=264)
    metrics.write_text(json.dumps(history))
    lines = findings(comparison(demo))
    assert ("VISTA-SFT: the critical-token rule fired on none of the wrong chains (rounds 1-2), so prefix "
            "resampling added no chain.") in lines
    assert ("VISTA-SFT: in round 2 the K samples were one and the same text for 264 of 300 training queries: the "
            "round trains on copies, and VAS has nothing to rank within those queries.") in lines
    history[2].update(critical_fire_rate=0.01, one_text_queries=149)  # fires once; fewer than half repeat
    metrics.write_text(json.dumps(history))
    lines = findings(comparison(demo))
    assert not any("fired on none" in line or "one and the same text" in line for line in lines)


def test_the_tables_show_each_method_once_per_round(demo):
    c = comparison(demo)
    text = accuracy_table(c).text().splitlines()
    assert text[1].split() == ["method", "round", "0", "round", "1", "round", "2"]
    assert text[3].split() == ["SFT-Seed", "0.400"]  # round 0 once, as SFT-Seed's
    assert text[4].split() == ["ReST-EM", "0.500", "0.800"]
    gains = gains_table(c).text().splitlines()
    assert gains[3].split() == ["ReST-EM", "-", "SFT-Seed", "+10.0", "[-9.6,", "+29.6]", "+40.0", "[+8.0,", "+72.0]"]
    assert gains[5].split()[:3] == ["VISTA-SFT", "-", "ReST-EM"]
    assert "95% CI" in gains[0] and "+-" not in "\n".join(gains)  # the interval is named, never a bare +-
    out = verdict(c, demo / "report.html")
    assert out.rstrip().endswith(f"Report (results, plots, diagnostics, example chains): {demo / 'report.html'}")


def test_the_demo_report_lists_every_method(demo, capsys):
    assert main(["report", str(demo)]) == 0  # a demo folder, not a run folder: its methods compared
    assert str(demo / "report.html") in capsys.readouterr().out
    md = (demo / "report.md").read_text()
    page = (demo / "report.html").read_text()
    assert md.startswith("# Demo report: SFT-Seed, ReST-EM, VISTA-SFT\n")
    sections = [line for line in md.splitlines() if line.startswith("## ")]
    assert sections == ["## Results", "## Diagnostics", "## How ReST-EM trained", "## How VISTA-SFT trained",
                        "## Provenance, config and wall time"]  # results first, then mechanisms, then records
    for method in ("SFT-Seed", "ReST-EM", "VISTA-SFT"):
        assert f"| {method} |" in md and f"<h3>{method}</h3>" in page
    assert "| VISTA-SFT - ReST-EM |" in md and "](report_plots/accuracy.png)" in md and "](report_plots/gains.png)" in md
    assert page.count("data:image/png;base64,") >= 2
    assert list(method_dirs(demo)) == ["sft-seed", "rest-em", "vista-sft"]
    assert main(["report", str(demo / "rest-em.log")]) == 2  # neither a run folder nor a demo folder


def test_the_accuracy_axis_holds_the_baseline_and_does_not_exaggerate(monkeypatch, tmp_path):
    lo, hi = axis_range([0.667, 0.691])  # a 2-point drop: the axis still spans 10 points
    assert hi - lo >= 0.10 and lo <= 0.667 and hi >= 0.691
    assert axis_range([0.02, 0.03]) == (0.0, pytest.approx(0.10))  # kept within [0, 1]
    drawn = []
    monkeypatch.setattr(plt, "close", drawn.append)
    rows = [("ReST-EM", [{"round": 0, "accuracy": 0.691, "n": 1000}, {"round": 3, "accuracy": 0.665, "n": 1000}])]
    plot(rows, tmp_path / "a.png", chance=0.297, prior=0.509, baseline=("SFT-Seed (round 0)", 0.72))
    ax = drawn[0].axes[0]
    low, high = ax.get_ylim()
    assert low <= 0.297 and high >= 0.72  # chance and the baseline on the axis, though no point is near them
    assert "SFT-Seed (round 0)" in ax.get_legend_handles_labels()[1]
    errors = [c for c in ax.containers]  # the error bars: 95% intervals of 1000 queries, about 2.9 points
    assert errors and abs(errors[0].lines[2][0].get_segments()[0][1][1] - (0.691 + 1.96 * (0.691 * 0.309 / 1000) ** 0.5)) < 1e-9
    plot(rows, tmp_path / "b.png")  # a run's own report: its round 0 is the baseline
    low, high = drawn[1].axes[0].get_ylim()
    assert low <= 0.665 - 0.03 and high >= 0.691 and high - low >= 0.10


def test_a_method_still_running_is_compared_on_its_finished_rounds(demo):
    (demo / "vista-sft" / "metrics.json").write_text(json.dumps(json.loads((demo / "vista-sft" / "metrics.json").read_text())[:2]))
    c = Comparison(comparison(demo).rows, method_dirs(demo))
    assert [(g.method, g.round, g.versus) for g in c.gains] == [
        ("rest-em", 1, "sft-seed"), ("rest-em", 2, "sft-seed"), ("vista-sft", 1, "sft-seed"), ("vista-sft", 1, "rest-em")]
    write_demo_report(demo, c)
    assert "VISTA-SFT round 2" in (demo / "report.md").read_text()  # said to be not evaluated yet
