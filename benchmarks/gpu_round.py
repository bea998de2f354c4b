"""One VISTA round's steps at the paper's model size on one GPU: what each step costs, unattended, no download.

    python benchmarks/gpu_round.py                 # on a GPU box: a Qwen2.5-VL-3B-sized model, random weights
    python benchmarks/gpu_round.py --tiny          # the embedded tiny model on CPU: a smoke check of the script

Builds a randomly initialised Qwen2.5-VL with the 3B checkpoint's text sizes (36 layers, hidden 2048, 16 heads,
2 KV heads, MLP 11008, M-RoPE sections 16/24/24) and its vision tower's depth and width (32 blocks, hidden 1280;
the embedded builder's MLP of 2 x hidden, not 3420, and full attention in the last block only, not every 8th),
with the embedded task's small tokenizer: the output head has ~0.5k rows, not 152k (at 152k the head is ~10%
of a 3B forward, so tokens/s here are a little optimistic). Never run on a GPU yet. On synthetic shapes queries (448 px images, 256 image tokens) it runs, each timed alone:
  1. sampling with transformers generate (K samples per query), tokens/s;
  2. the same with the vLLM backend, where vllm is installed;
  3. the critical-token pass over every sample (as if all were negatives, swapped query);
  4. the VAS pass over every sample (as if all were positives; it stops at the middle layer);
  5. a few full fine-tuning steps and a few LoRA steps (bf16 autocast, float32 weights).
Prints per step: seconds, tokens/s where it applies, and peak GPU memory. A random model rarely stops before
max_new_tokens, so every sample is max_new_tokens long: the sampling figures are for that length. Expect
under 8 minutes on an H100/H200; record the printed table in docs/results.md with the machine.
"""

from __future__ import annotations

import argparse
import importlib.util
import tempfile
import time
from pathlib import Path

import torch

from vistakit.config import LoRAConfig, TrainConfig, VLLMConfig
from vistakit.models.load import load
from vistakit.models.tiny import TinySpec, build_tiny_model
from vistakit.sampling.hf_backend import HFBackend
from vistakit.sampling.sample import sample_queries
from vistakit.tasks.data import instruction_for, load_split
from vistakit.tasks.shapes import corpus, write_dataset
from vistakit.training.sft import train_sft
from vistakit.vista.prefix import find_critical
from vistakit.vista.vas_filter import score_positives

SIZE_3B = TinySpec(hidden_size=2048, num_layers=36, num_heads=16, num_kv_heads=2, intermediate_size=11008,
                   vision_depth=32, vision_hidden_size=1280, vision_heads=16, image_size=448, text_init_std=0.02)


class Timer:
    """Seconds and peak GPU memory of one step."""

    def __init__(self, device: str):
        self.cuda = device.startswith("cuda")

    def __enter__(self):
        if self.cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        if self.cuda:
            torch.cuda.synchronize()
        self.seconds = time.perf_counter() - self.start
        self.peak_gib = torch.cuda.max_memory_allocated() / 2**30 if self.cuda else float("nan")


def main(argv: list[str] | None = None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tiny", action="store_true", help="the embedded tiny model on CPU (a smoke check)")
    p.add_argument("--queries", type=int, default=64)
    p.add_argument("--samples-per-query", type=int, default=4)
    p.add_argument("--max-new-tokens", type=int, default=256)
    p.add_argument("--queries-per-batch", type=int, default=16)
    p.add_argument("--train-steps", type=int, default=8)
    args = p.parse_args(argv)
    device = "cpu" if args.tiny else "cuda"
    dtype = "float32" if args.tiny else "bfloat16"
    rows: list[dict] = []

    def report(step: str, timer: Timer, tokens: int | None = None) -> None:
        rows.append({"step": step, "seconds": timer.seconds, "peak_gib": timer.peak_gib,
                     "tokens_per_s": tokens / timer.seconds if tokens else None})
        rate = f"{tokens / timer.seconds:10.0f}" if tokens else f"{'-':>10}"
        print(f"{step:<28} {timer.seconds:8.1f} {rate} {timer.peak_gib:9.1f}", flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_dataset(tmp / "data", 0, args.queries, 4, 4)
        queries = load_split(tmp / "data" / "train.jsonl")[: args.queries]
        spec = TinySpec() if args.tiny else SIZE_3B
        with torch.device(device):  # random init where the model runs: seconds, not minutes, at 3B
            build_tiny_model(tmp / "model", corpus([{"question": q.question, "cot": q.cot} for q in queries]), spec)
        model, processor = load(tmp / "model", dtype, device=device)
        model.eval()
        n = sum(p.numel() for p in model.parameters())
        print(f"model: Qwen2.5-VL, {spec.num_layers} layers, hidden {spec.hidden_size}, {n / 1e9:.2f}B parameters, "
              f"{dtype} on {device}; {len(queries)} queries x {args.samples_per_query} samples, "
              f"{args.max_new_tokens} new tokens")
        print(f"{'step':<28} {'seconds':>8} {'tokens/s':>10} {'peak GiB':>9}")
        common = dict(samples_per_query=args.samples_per_query, temperature=1.0, max_new_tokens=args.max_new_tokens,
                      queries_per_batch=args.queries_per_batch, seed=0)
        with Timer(device) as t:
            records = sample_queries(HFBackend(model, processor), processor, queries, tmp / "hf", **common)
        report("sampling (transformers)", t, sum(r["n_tokens"] for r in records))
        by_id = {q.id: q for q in queries}
        with Timer(device) as t:
            find_critical(model, processor, by_id, records, tmp / "critical", top_k=5, batch_size=16, system=None)
        report("critical-token pass", t)
        with Timer(device) as t:
            score_positives(model, processor, by_id, records, tmp / "vas", layers=None, batch_size=16, system=None)
        report("VAS pass (to the middle layer)", t)
        examples = [{"instruction": instruction_for(q), "images": [str(p) for p in q.images], "response": r["response"],
                     "response_ids": r["token_ids"]} for q, r in zip(queries, records[:: args.samples_per_query])]
        examples = examples[: args.train_steps * 4]
        del model
        if device == "cuda":
            torch.cuda.empty_cache()
        for name, lora in (("training, full", None), ("training, LoRA r=16", LoRAConfig(r=16))):
            cfg = TrainConfig(epochs=1, examples_per_device_batch=4, bf16=not args.tiny, logging_steps=1,
                              save_each_epoch=False, lora=lora, learning_rate=1e-5)
            with Timer(device) as t:
                train_sft(str(tmp / "model"), examples, tmp / name.replace(" ", "_").replace(",", ""), cfg,
                          device=device)
            report(f"{name} ({len(examples) // 4} steps)", t)
        if importlib.util.find_spec("vllm") is not None and device == "cuda":
            from vistakit.sampling.vllm_backend import VLLMBackend  # the optional 'vllm' extra

            torch.cuda.empty_cache()
            backend = VLLMBackend(str(tmp / "model"), VLLMConfig(gpu_memory_utilization=0.5), dtype=dtype)
            with Timer(device) as t:
                records = sample_queries(backend, backend.processor, queries, tmp / "vllm", **common)
            report("sampling (vLLM)", t, sum(r["n_tokens"] for r in records))
            backend.close()
        else:
            print("sampling (vLLM): skipped (vllm not installed, or no GPU)")
    return rows


if __name__ == "__main__":
    main()
