"""Training: data sources (one module each) and their on-device splits, the `DataSpec` each resolves,
batched GPU augmentation, the one training loop, presets and `fit_preset`, checkpoints and the final
train-and-test of a winner.

May import torch, numpy, pyarrow, `search_spaces`, `nas.errors`, `nas.atomic` and the records of runs
(`nas.runs`, to read a run's winner); never `nas.export`, `nas.searching`, Ray, matplotlib or the CLI."""
