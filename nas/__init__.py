"""NAS engine: searches cell-based CNN architectures on CIFAR-10 or your own images and hands the winner back
as PyTorch."""

__version__ = "0.1.0"


def load(path):
    """The network in an export folder (`nas export ... -o PATH`), ready to use: an nn.Module in eval mode
    whose `predict(images)` takes raw images (uint8 arrays, PIL images or paths) and returns
    (class names, probabilities).

    Imported lazily so that `import nas` stays light (no torch until a model is loaded)."""
    from nas.export.folder import load as load_export

    return load_export(path)
