"""benchmarks/train_precision.py runs vistakit's SFT step both ways on the tiny model, and bf16 autocast
learns what float32 does (the same mean loss to within 2%)."""


def test_train_precision_benchmark_trains_both_ways_alike(capsys, repo_script):
    benchmark = repo_script("benchmarks/train_precision.py")
    result = benchmark.main(["--examples", "16", "--batch", "8", "--repeats", "1"])
    assert result["float32_s"] > 0 and result["bf16_s"] > 0 and result["ratio_bf16_over_float32"] > 0
    assert 0 < result["float32_loss"] < 20
    assert abs(result["bf16_loss"] - result["float32_loss"]) < 0.02 * result["float32_loss"]
    assert "bf16 / float32 wall time:" in capsys.readouterr().out
