"""NAS engine: searches cell-based CNN architectures on CIFAR-10 and hands the winner back as PyTorch."""

__version__ = "0.1.0"
