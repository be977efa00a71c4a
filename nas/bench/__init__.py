"""Tabular benchmark mode: strategies run in-process against a table of architecture -> metric (`nas benchmark`),
and the synthetic NAS-Bench-201-format table (`nas synthetic-table`).

May import numpy, pyarrow, rich, `strategies`, `search_spaces`; matplotlib only through `nas.viz`; never Ray."""
