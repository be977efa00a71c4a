"""Training: data sources and their on-device splits, batched GPU augmentation, the one training loop,
presets, checkpoints and the final train-and-test of a winner.

May import torch, numpy, pyarrow, `search_spaces`, `nas.errors`, `nas.atomic` and the run folder
(`nas.runs.folder`, to read a run's winner); never Ray, matplotlib or the CLI."""
