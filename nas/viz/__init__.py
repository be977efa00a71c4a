"""Pictures: cell diagrams and search-progress plots. The only package that imports matplotlib.

`figures` sets matplotlib up (the one place that picks the backend and imports pyplot) and saves figures;
`cell_diagram` draws an architecture's cells, `progress_plot` a search's progress and benchmark curves, and
`run_pictures` keeps a run folder's progress.png and best_cell.png current (called by the search driver),
`curves_plot` draws candidates' training curves and `error_pictures` a final run's confusion matrix and
misclassified test images.

May import matplotlib, networkx, numpy, `search_spaces` and the run folder; never torch at import time, never
Ray."""
