"""Search orchestration: the typed run config, the run folder (config, strategy state, trials), the Ray Tune
glue (searcher, trainable, ASHA), the evaluation of one candidate and the live progress display.

May import `strategies`, `search_spaces`, `nas.train` (inside workers), Ray and rich, each lazily where it is
heavy; never matplotlib at import time (pictures are drawn through `nas.viz` at the end of a search)."""
