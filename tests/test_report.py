from vistakit.diagnostics import auroc
from vistakit.report import table


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
