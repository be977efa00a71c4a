"""NAS engine: searches cell-based CNN architectures on CIFAR-10 or your own images and hands the winner
back as PyTorch.

    import nas
    run = nas.search(strategy="evolution", space="nb201", preset="cpu", trials=8, data="cifar10/")
    run.trials, run.best, run.final(), run.export("model/")
    nas.open_run("evolution-nb201-0").resume(trials=16)
    model = nas.load("model/")
    names, probabilities = model.predict(["photo.jpg"])

Everything is imported on first use, so `import nas` stays light (no torch, Ray, pandas or matplotlib).
`nas.search` is a function (nas.api.search, its settings in its signature); the search engine's own package is
`nas.searching`, the records of runs `nas.runs`.
"""

from nas._version import __version__ as __version__

__all__ = ["Run", "load", "open_run", "search", "tune"]


def load(path):
    """The network in an export folder (`nas export ... -o PATH`), ready to use: an nn.Module in eval mode
    whose `predict(images)` takes raw images (uint8 arrays, PIL images or paths) and returns
    (class names, probabilities)."""
    from nas.export.folder import load as load_export

    return load_export(path)


def open_run(name, results_dir=None):
    """An existing run by name or folder (see nas.api.open_run)."""
    from nas.api import open_run as open_existing

    return open_existing(name, results_dir)


def __dir__():
    return sorted(set(globals()) | set(__all__))  # Run is imported on first use, and listed


def __getattr__(name):
    if name == "Run":
        from nas.api import Run

        return Run
    raise AttributeError(f"module 'nas' has no attribute {name!r}")


from nas.api import search, tune  # noqa: E402  (functions; nas.api imports nothing heavy at module level)
