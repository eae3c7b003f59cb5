"""Supervised fine-tuning (all parameters) on packed SFT dataset artifacts, with resumable checkpoints."""
