"""Compare two sets of run folders round by round: every metric a round reports and the sha256 of every model
it trained. How behaviour was checked unchanged across the re-layout (issue 14):

    python scripts/compare_runs.py RUNS_A RUNS_B [method,method,...]

RUNS_A / RUNS_B hold one run folder per method (e.g. two `vistakit demo --run-dir` folders); prints one line
per method, SAME or DIFF, and each difference.
"""
import json, sys, hashlib
from pathlib import Path
a, b = Path(sys.argv[1]), Path(sys.argv[2])
methods = sys.argv[3].split(",") if len(sys.argv) > 3 else sorted(p.name for p in a.iterdir() if p.is_dir())
KEYS = ("accuracy", "kept", "samples", "queries_with_positive", "zero_positive_before", "zero_positive_after",
        "vas_dropped", "vas_auroc", "critical_fire_rate", "control_fire_rate", "kept_grounded", "format_rate",
        "sft_accuracy", "rl_queries", "self_select_accuracy", "phase_S", "partition", "sft_set", "r3v_examples", "probes")
def sha(p):
    return hashlib.sha256(p.read_bytes()).hexdigest()[:12] if p.exists() else None
for m in methods:
    ha, hb = json.loads((a / m / "metrics.json").read_text()), json.loads((b / m / "metrics.json").read_text())
    same = True
    for ea, eb in zip(ha, hb):
        for k in KEYS:
            if ea.get(k) != eb.get(k):
                same = False
                print(f"  {m} round {ea['round']} {k}: {str(ea.get(k))[:80]} != {str(eb.get(k))[:80]}")
        t = ea["round"]
        for sub in ("train", "grpo"):
            wa, wb = sha(a / m / f"round_{t}" / sub / "model" / "model.safetensors"), sha(b / m / f"round_{t}" / sub / "model" / "model.safetensors")
            if wa != wb:
                same = False
                print(f"  {m} round {t} {sub} weights differ {wa} {wb}")
    extra = set().union(*ha) ^ set().union(*hb)
    print(f"{m}: rounds {len(ha)}/{len(hb)}; accuracies {[round(e['accuracy'],4) for e in ha]} vs {[round(e['accuracy'],4) for e in hb]}; "
          f"kept {[e.get('kept') for e in ha]} vs {[e.get('kept') for e in hb]}; {'SAME' if same and len(ha)==len(hb) else 'DIFF'}; keys only in one: {sorted(extra)}")
