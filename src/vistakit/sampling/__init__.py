"""Sampling: the engines that generate (`hf_backend` with transformers, `vllm_backend` on GPU), K samples per
query written as resumable batches and labelled by the task's verifier (`sample`), and STaR's hinted
rationalisation of failed queries (`rationalize`)."""
