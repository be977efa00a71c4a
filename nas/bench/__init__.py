"""Tabular benchmark mode: strategies run in-process against a table of architecture -> metric
(`nas benchmark`, module `tabular`), and the synthetic NAS-Bench-201-format table (`nas synthetic-table`,
module `synthetic_table`).

In this project "benchmark" means such a table (NAS-Bench-201 and its kind) and the `nas benchmark` command
that searches one. The top-level `benchmarks/` folder is something else: scripts that measure the engine
itself (throughput, accuracy, search overhead, strategy statistics) for the figures in docs/benchmarks.md.

May import numpy, pyarrow, rich, `strategies`, `search_spaces`; matplotlib only through `nas.viz`; never Ray.
"""
