"""Training: which samples become examples (`select`), SFT (`sft`) and DPO+NLL (`dpo`) on the run folder's
examples, their losses (`losses`), LoRA (`lora`), and the step that runs either in this process or under a
launcher (`step`)."""
