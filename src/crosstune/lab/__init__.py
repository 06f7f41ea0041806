"""Cross-tuning: LoRA-finetune every backbone on every instruction dataset with several seeds."""
