"""Evaluation: greedy accuracy on held-out queries (`evaluate`), the model organism's probes of image
reliance and the swapped query (`probes`), the per-round diagnostics (`diagnostics`) and the printed tables
and plots (`report`)."""
