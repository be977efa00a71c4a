"""The default combination of training-free scores, torch-free: run records (trials.parquet's score columns,
warm_start.parquet) name it without importing the scores, which import torch. `nas.scores` registers
the scores and combines them; `nas.scores.DEFAULT_SCORES` is this tuple."""

from __future__ import annotations

DEFAULT_SCORES = ("synflow", "naswot")
DEFAULT_AGGREGATION = "rank_sum"  # see nas.scores.combined_rank
