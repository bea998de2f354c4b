"""VRE, visual re-examination (docs/methods.md, "VRE: visual re-examination"), one pipeline step per module:

- `template`     the response template reasoning -> <reflection>...</reflection> -> answer; tag tokens
- `reexamine`    re-examination questions whose answers, by the same model, become a reflection
- `reconstruct`  the SFT set from the model's own outputs (cold start in round 1, homologous
                 reconstruction after): own reflections kept, others rebuilt, all judged by the scorer
- `scorers`      reflection information-gain judges: scene ground truth, a local VLM (or the policy), an
                 OpenAI-compatible endpoint
- `rewards`      format, accuracy and reflection rewards, TRL-style `(completions, **kwargs) -> list[float]`
- `partition`    difficulty-aware partitioning: easy / unstable / hard by success rate over n samples
- `train_grpo`   GRPO on the unstable queries with TRL's GRPOTrainer
- `phases`       attention to the image before / inside / after the reflection (VAS's capture)
- `steps`        the run-folder steps of a VRE round (tags, reflect, partition, GRPO, metrics), composed
                 into a round by `vistakit.methods.vre`
"""
