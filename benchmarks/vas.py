"""VAS cost against a plain forward pass and against eager attention maps, on the same batch, in one run.

    python benchmarks/vas.py [--seq 512 2048] [--layers 8] [--hidden 512] [--device cpu|cuda]

Prints, per sequence length: the time of the VAS pass (which stops after its layer) / the plain SDPA
forward time (goal < 1: at the middle layer about half a forward), the same for the capture on a full forward
(`full`: what the pass cost before it stopped at its layer; goal <= 1.05), and the extra peak memory of the VAS forward, of the plain forward, and of an eager forward with
`output_attentions=True` (goal: VAS >= 10x less than eager). Memory on CPU is the peak RSS growth of a
fresh subprocess per mode, the least of 3 (allocations too small to show up read as ~0); on CUDA,
max_memory_allocated.
The model is a randomly initialised Qwen2.5-VL built locally (no download); the batch is two rows (one
10% shorter, left-padded) with a 448 px image (256 image tokens) and the response as the second half.

Measured (this project's 2-core CPU machine, 2026-12-02; docs/results.md has the rest): VAS pass / plain
forward at 2048 tokens, 0.621x with 2 threads on free cores before the pass skipped its layer's own attention
output, 0.542x after it; with 1 thread under load, 0.636x before and 0.544x after (same load, one run each).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from PIL import Image


def build(path: Path, args) -> None:
    from vistakit.models.tiny import TinySpec, build_tiny_model

    corpus = ["How many red shapes are there? Describe each shape, then answer.", "blue square at left"] * 50
    spec = TinySpec(hidden_size=args.hidden, num_layers=args.layers, num_heads=args.hidden // 64, num_kv_heads=2,
                    intermediate_size=int(args.hidden * 2.75), vocab_size=2048, image_size=448)
    build_tiny_model(path, corpus, spec)


def batch_for(processor, seq: int):
    """Two rows of about `seq` and 0.9 * `seq` tokens: prompt (image + instruction) then response."""
    from vistakit.models.inputs import encode, render_query

    tok = processor.tokenizer
    word = tok("red ", add_special_tokens=False)["input_ids"]
    image = [[Image.new("RGB", (448, 448), (120, 40, 200))]]
    prompts, responses = [], []
    for length in (seq, int(seq * 0.9)):
        base = len(encode(processor, [render_query(processor, "Count.")], image).inputs["input_ids"][0])
        n_words = max(0, (length // 2 - base) // len(word))
        prompts.append(render_query(processor, "Count. " + "red " * n_words))
        prompt_len = len(encode(processor, [prompts[-1]], image).inputs["input_ids"][0])
        responses.append((word * length)[: length - prompt_len])
    return prompts, image * 2, responses


def forward_fn(model, processor, seq: int, mode: str):
    from vistakit.models.inputs import encode
    from vistakit.models.segments import vision_token_ids
    from vistakit.vista.vas import capture_segment_mass, default_layers, forward_to_captured_layers, segment_indicators

    prompts, images, responses = batch_for(processor, seq)
    batch = encode(processor, prompts, images, responses)
    dev = model.device
    inputs = {k: v.to(dev) if torch.is_tensor(v) else v for k, v in batch.inputs.items()}
    ind, rows = segment_indicators(batch, vision_token_ids(model.config))
    ind, rows = ind.to(dev), rows.to(dev)

    @torch.no_grad()
    def run():
        if mode == "vas":  # as vistakit scores: the pass ends after the VAS layer
            with capture_segment_mass(model, default_layers(model), ind, rows):
                return forward_to_captured_layers(model, inputs)
        if mode == "vas_full":  # the capture on a whole forward pass
            with capture_segment_mass(model, default_layers(model), ind, rows, stop=False):
                return model(**inputs, use_cache=False, logits_to_keep=1)
        if mode == "eager":
            return model(**inputs, use_cache=False, logits_to_keep=1, output_attentions=True)
        return model(**inputs, use_cache=False, logits_to_keep=1)

    return run, inputs["input_ids"].shape


def load_model(path: Path, mode: str, device: str):
    from vistakit.models.load import load

    model, processor = load(path, attn_implementation="eager" if mode == "eager" else "sdpa", device=device)
    return model.eval(), processor


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def reset_peak_rss() -> None:
    with open("/proc/self/clear_refs", "w") as f:  # "5": reset the peak RSS (VmHWM), Linux >= 4.0
        f.write("5")


def peak_rss_mib() -> float:
    with open("/proc/self/status") as f:
        line = next(l for l in f if l.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def memory_child(path: str, seq: int, mode: str, device: str) -> None:
    """Run in a fresh process: extra peak memory of one forward in `mode`."""
    model, processor = load_model(Path(path), mode, device)
    run, _ = forward_fn(model, processor, seq, mode)
    with torch.no_grad():  # page the (memory-mapped) weights in now, or the first forward's RSS counts them
        sum(float(p.sum()) for p in model.parameters())
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        before = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        out = run()
        torch.cuda.synchronize()
        extra = (torch.cuda.max_memory_allocated() - before) / 2**20
    else:
        before = rss_mib()
        reset_peak_rss()
        out = run()
        extra = peak_rss_mib() - before
    del out
    print(json.dumps({"extra_mib": extra}))


def memory(path: Path, seq: int, mode: str, device: str, runs: int = 3) -> float:
    """The least extra peak memory over `runs` fresh processes: RSS growth carries allocator noise of a few
    tens of MiB, which only ever adds."""
    cmd = [sys.executable, __file__, "--child", str(path), str(seq), mode, "--device", device]
    outs = [subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
            for _ in range(runs)]
    return min(json.loads(out)["extra_mib"] for out in outs)


def timing(path: Path, seq: int, device: str, reps: int) -> dict:
    """Plain and VAS forwards, interleaved so that machine noise hits both alike. On CPU the process CPU time
    is measured too: other processes on a shared machine change wall time, not the work this one does."""
    model, processor = load_model(path, "sdpa", device)
    plain, shape = forward_fn(model, processor, seq, "plain")
    vas, _ = forward_fn(model, processor, seq, "vas")
    vas_full, _ = forward_fn(model, processor, seq, "vas_full")
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    fns = [("plain", plain), ("vas", vas), ("vas_full", vas_full)]
    wall = {name: [] for name, _ in fns}
    cpu = {name: [] for name, _ in fns}
    for i in range(reps + 2):
        for name, fn in fns[i % 3:] + fns[:i % 3]:  # rotated, so that machine noise hits all alike
            sync()
            t, c = time.perf_counter(), time.process_time()
            fn()
            sync()
            if i >= 2:  # warm-up
                wall[name].append(time.perf_counter() - t)
                cpu[name].append(time.process_time() - c)
    med = statistics.median
    return {"shape": tuple(shape), "plain": med(wall["plain"]), "vas": med(wall["vas"]),
            "wall_ratio": med(wall["vas"]) / med(wall["plain"]), "min_ratio": min(wall["vas"]) / min(wall["plain"]),
            "cpu_ratio": med(cpu["vas"]) / med(cpu["plain"]), "full_ratio": med(wall["vas_full"]) / med(wall["plain"])}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seq", type=int, nargs="+", default=[512, 2048])
    p.add_argument("--layers", type=int, default=8)
    p.add_argument("--hidden", type=int, default=512)
    p.add_argument("--reps", type=int, default=10)
    p.add_argument("--device", default="cpu")
    p.add_argument("--child", nargs=3, metavar=("MODEL", "SEQ", "MODE"))
    args = p.parse_args()
    if args.child:
        memory_child(args.child[0], int(args.child[1]), args.child[2], args.device)
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model"
        build(path, args)
        print(f"model: Qwen2.5-VL, {args.layers} decoder layers, hidden {args.hidden}, {args.hidden // 64} heads "
              f"(2 KV heads), VAS at layer {args.layers // 2}; device {args.device}; torch {torch.__version__}")
        print(f"{'seq':>5} {'batch':>10} {'plain s':>8} {'vas s':>8} {'wall':>6} {'min':>6} {'cpu':>6} {'full':>6} "
              f"{'plain MiB':>9} {'vas MiB':>8} {'eager MiB':>9} {'eager/vas':>9} {'capture':>8}")
        for seq in args.seq:
            t = timing(path, seq, args.device, args.reps)
            mem = {m: memory(path, seq, m, args.device) for m in ("plain", "vas", "eager")}
            capture = (mem["eager"] - mem["plain"]) / max(mem["vas"] - mem["plain"], 1.0)
            print(f"{seq:>5} {str(t['shape']):>10} {t['plain']:>8.4f} {t['vas']:>8.4f} {t['wall_ratio']:>6.3f} "
                  f"{t['min_ratio']:>6.3f} {t['cpu_ratio']:>6.3f} {t['full_ratio']:>6.3f} {mem['plain']:>9.1f} {mem['vas']:>8.1f} "
                  f"{mem['eager']:>9.1f} {mem['eager'] / max(mem['vas'], 1e-9):>9.1f} {capture:>8.0f}", flush=True)
        print("wall / min / cpu = the VAS pass (to its layer) over a plain SDPA forward: medians of wall time, minima "
              "of wall time, medians of process CPU time (interleaved runs); full = the capture on a whole forward "
              "over a plain one (median wall). MiB = extra peak memory of one whole forward. "
              "eager/vas = eager forward with every layer's attention maps over the VAS forward; capture = what "
              "the eager maps add to a plain forward over what the VAS capture adds (floored at 1 MiB).")


if __name__ == "__main__":
    main()
