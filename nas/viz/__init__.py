"""Pictures: cell diagrams and search-progress plots. The only package that imports matplotlib.

May import matplotlib, networkx, numpy, `search_spaces` and the run folder; never torch at import time, never Ray."""
