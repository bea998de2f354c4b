import pytest

from vistakit.evaluation.diagnostics import auroc, diversity
from vistakit.evaluation.report import table


def _h(round_, acc, **extra):
    return {"round": round_, "accuracy": acc, "grounded_rate_of_correct": 0.5,
            "by_level": {"1": {"accuracy": acc}}, **extra}


def test_table_shows_vista_diagnostics_only_when_present():
    plain = table([("rest-em", [_h(0, 0.4), _h(1, 0.45)])])
    assert "no-positive" not in plain and "0.450" in plain
    text = table([("rest-em", [_h(1, 0.45)]),
                  ("vista-sft", [_h(1, 0.5, zero_positive_before=409, zero_positive_after=245, vas_auroc=0.4219)])])
    vista_line = text.splitlines()[-1]
    assert "409->245" in vista_line and "0.422" in vista_line
    assert text.splitlines()[-2].rstrip().endswith("-")  # rest-em has neither


def test_auroc_hand_values():
    assert auroc([0.9, 0.8, 0.1], [True, True, False]) == 1.0
    assert auroc([0.1, 0.9], [True, False]) == 0.0
    assert auroc([0.5, 0.5], [True, False]) == 0.5  # a tie counts half
    # 2 positives (0.7, 0.2) x 2 negatives (0.4, 0.1): pairs won 0.7>0.4, 0.7>0.1, 0.2>0.1 -> 3/4
    assert auroc([0.7, 0.4, 0.2, 0.1], [True, False, True, False]) == 0.75
    assert auroc([0.3], [True]) is None


def test_diversity_counts_distinct_chains_per_query():
    def rec(q, text, correct, source="sample"):
        return {"query_id": q, "response": text, "correct": correct, "source": source}
    records = [rec("a", "x", True), rec("a", "x", True), rec("a", "x", True),  # one text three times
               rec("b", "y", True), rec("b", "z", False), rec("b", "y", True),
               rec("c", "w", False), rec("c", "v", False),
               rec("b", "p", True, source="prefix")]  # a rescue is not one of the K samples
    assert diversity(records) == {"queries": 3, "one_text_queries": 1, "distinct_samples": 5,
                                  "distinct_positives": 2}


def test_vas_detection_counts():
    from vistakit.evaluation.diagnostics import vas_detection

    d = lambda vas, grounded, dropped: {"vas": vas, "vas_ratio": 0.3, "grounded": grounded,
                                        "reason": "low_vas" if dropped else "kept", "kept": not dropped}
    decisions = [d(-1.2, False, True), d(-0.9, True, True), d(0.4, False, False), d(1.0, True, False),
                 d(0.0, True, False), {"reason": "incorrect", "kept": False, "grounded": False}]
    got = vas_detection(decisions)
    assert got["positives_scored"] == 5 and got["dropped"] == 2
    assert got["ungrounded_rate"] == 2 / 5
    assert got["precision"] == 1 / 2 and got["recall"] == 1 / 2
    # -VAS for ungrounded {1.2, -0.4} vs grounded {0.9, -1.0, 0.0}: won 3 + 1 of 6 pairs
    assert abs(got["auroc"] - 4 / 6) < 1e-12


def test_method_notes_for_vre_and_r3v():
    from vistakit.evaluation.report import method_notes

    assert method_notes([("rest-em", [_h(1, 0.45)])]) == ""
    vre = _h(1, 0.5, format_rate=0.9, sft_accuracy=0.48, reflection_gain_rate=0.6,
             phase_S={"reflection": {"before": 0.2, "inside": 0.3, "after": 0.25}, "plain": {"before": 0.2}},
             partition={"easy": 1, "unstable": 2, "hard": 3}, rl_queries=2)
    r3v = _h(1, 0.5, self_select_accuracy=0.55, majority_accuracy=0.52, candidate_accuracy=0.45, test_at_k=0.7)
    text = method_notes([("vre", [vre]), ("r3v", [r3v])])
    assert "SFT model 0.480" in text and "0.200/0.300/0.250" in text and "unstable 2 -> RL 2" in text
    assert "self-select of 3 samples 0.550" in text


def test_paired_gain_hand_values(tmp_path):
    from vistakit.evaluation.report import paired_gain
    from vistakit.runfolder import write_jsonl

    def write(name, correct):
        write_jsonl(tmp_path / name / "samples.jsonl", [{"query_id": f"q{i}", "correct": c} for i, c in enumerate(correct)])

    write("a", [1, 0, 0, 1])
    write("b", [1, 1, 0, 0])  # differences 0, +1, 0, -1 -> mean 0, sample var 2/3, se sqrt(2/3/4)
    write("c", [0, 1, 1, 1])  # differences -1, +1, +1, 0 -> mean 0.25
    mean, se, n = paired_gain(tmp_path / "a", tmp_path / "b")
    assert n == 4 and mean == 0.0 and abs(se - (2 / 3 / 4) ** 0.5) < 1e-12
    mean, se, _ = paired_gain(tmp_path / "a", tmp_path / "c")
    assert mean == 0.25 and abs(se - ((1.25 ** 2 + 2 * 0.75 ** 2 + 0.25 ** 2) / 3 / 4) ** 0.5) < 1e-12
    write("d", [1, 0, 0])
    with pytest.raises(ValueError, match="different queries"):
        paired_gain(tmp_path / "a", tmp_path / "d")
