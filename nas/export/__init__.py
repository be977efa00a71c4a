"""Export: generated standalone PyTorch source for an architecture, export folders (code, weights,
TorchScript, ONNX) and `load` for them.

May import torch, `search_spaces`, `nas.train` (checkpoints, presets) and the run folder; never Ray or
matplotlib."""
