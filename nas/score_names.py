"""The default combination of training-free scores, torch-free: run records (trials.parquet's score columns,
warm_start.parquet) name it without importing the scores, which import torch. `nas.scores` registers
the scores and combines them; `nas.scores.DEFAULT_SCORES` is this tuple."""

from __future__ import annotations

# Chosen by measurement (docs/scores.md): the best combination of at most three scores on 300 NB201 cells
# that costs under a second per cell on a CPU, checked on the other 700.
DEFAULT_SCORES = ("synflow", "meco", "az_expressivity")
DEFAULT_AGGREGATION = "log_rank"  # AZ-NAS's sum of log(rank / N); see nas.scores.combined_rank
