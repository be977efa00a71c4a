"""Training-free scores: rank architectures from one forward (and backward) pass of the untrained network.

A score is a function `(model, images) -> float`, higher meaning a better network is expected, registered by
name in `SCORES` like the ops are (`@register_score("name")`; a duplicate name is an error). Built in:

- `synflow` (Tanaka et al. 2020, "Pruning neural networks without any data by iteratively conserving synaptic
  flow"; as a NAS proxy in Abdelfattah et al., ICLR 2021, "Zero-Cost Proxies for Lightweight NAS");
- `naswot` (Mellor et al., ICML 2021, "Neural Architecture Search without Training").

`combined_rank` sums each score's rank over a set of architectures (Abdelfattah et al. and Mellor et al. both
report that scores agree best with accuracy in rank, not in value). `Scorer` (nas.scores.scorer) builds
each architecture with its space's builder, feeds it one seeded batch of the run's data, never trains it, and
caches the scores by canonical hash in memory and on disk. Importing this package imports torch.
"""

# Built-in scores register themselves on import.
from nas.scores import features, measures  # noqa: F401
from nas.scores._registry import (
    AGGREGATIONS,
    DEFAULT_AGGREGATION,
    DEFAULT_SCORES,
    SCORES,
    WORST,
    Score,
    combined_rank,
    order_by_combined_rank,
    ranks,
    register_score,
    register_scores,
)

__all__ = [
    "AGGREGATIONS",
    "DEFAULT_AGGREGATION",
    "DEFAULT_SCORES",
    "SCORES",
    "WORST",
    "Score",
    "combined_rank",
    "order_by_combined_rank",
    "ranks",
    "register_score",
    "register_scores",
]
