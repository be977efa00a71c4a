"""Training-free scores: rank architectures from one forward (and backward) pass of the untrained network.

A score is a function `(model, images) -> float`, higher meaning a better network is expected, registered by
name in `SCORES` like the ops are (`@register_score("name", reference)`; a duplicate name is an error;
`@register_scores(names, reference)` for several scores that one pass gives). Every score leaves the network
as it found it, so a scorer builds each architecture once. Built in (papers in each docstring, figures in
docs/scores.md):

- `synflow`, `snip`, `grad_norm`, `jacob_cov` (Abdelfattah et al., ICLR 2021, "Zero-Cost Proxies for
  Lightweight NAS", and the papers they follow); `naswot` (Mellor et al., ICML 2021);
- `meco` (Jiang et al., NeurIPS 2023); `az_expressivity`, `az_progressivity`, `az_trainability` (Lee & Ham,
  CVPR 2024, AZ-NAS); `zen` (Lin et al., ICCV 2021); `params` and `flops`.

`combined_rank` combines scores by rank over a set of architectures: a rank sum, or AZ-NAS's sum of
log(rank / N). `DEFAULT_SCORES` with `DEFAULT_AGGREGATION` (named torch-free in nas.score_names) is what
`nas score`, search warm starts and `nas benchmark --warm-start` rank by. `Scorer` (nas.scores.scorer) builds
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
