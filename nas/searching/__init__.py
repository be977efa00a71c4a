"""Search orchestration: the typed run config, the Ray Tune glue (searcher, trainable, ASHA), the Ray side
(connection, logs, resources, shipping data), the evaluation of one candidate and the live progress display.
The run folder and its records are `nas.runs`; the API's entry point is the function `nas.search`.

May import `strategies`, `search_spaces`, `nas.runs`, `nas.train` (inside workers), `nas.scores`, `nas.viz`,
Ray and rich, each lazily where it is heavy; never matplotlib at import time (pictures are drawn through
`nas.viz` at the end of a search)."""
