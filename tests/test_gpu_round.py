"""benchmarks/gpu_round.py, the GPU check a lent GPU runs unattended, runs end to end on the tiny model."""


def test_gpu_round_runs_every_step_on_the_tiny_model(capsys, repo_script):
    module = repo_script("benchmarks/gpu_round.py")
    rows = module.main(["--tiny", "--queries", "8", "--max-new-tokens", "12", "--train-steps", "2"])
    assert [r["step"] for r in rows] == ["sampling (transformers)", "critical-token pass",
                                         "VAS pass (to the middle layer)", "training, full (2 steps)",
                                         "training, LoRA r=16 (2 steps)"]
    assert all(r["seconds"] > 0 for r in rows) and rows[0]["tokens_per_s"] > 0
    assert "sampling (vLLM): skipped" in capsys.readouterr().out
    assert module.SIZE_3B.num_layers == 36 and module.SIZE_3B.hidden_size == 2048  # Qwen2.5-VL-3B's text sizes
