"""Export: generated standalone PyTorch source for an architecture, with the preprocessing and `predict` of
the data it was trained on (`preprocessing`), export folders (code, weights, TorchScript, ONNX), `load` for
them and `read_export` (an export's weights back under the engine's names, for fine-tuning).

May import torch, `search_spaces`, `nas.train` (checkpoints, presets) and the run folder; never Ray or
matplotlib."""
