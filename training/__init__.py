"""Datasets, LoRA fine-tuning through mlx-lm, and the evaluation harness. Not built yet."""
