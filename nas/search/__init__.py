"""Search orchestration: the typed run config, the run folder (config, strategy state, trials), the Ray Tune
glue (searcher, trainable, ASHA), the Ray side (connection, logs, resources, shipping data), the evaluation of
one candidate and the live progress display.

The package is also the API's entry point: `nas.search(strategy=..., trials=..., ...)` calls `nas.api.search`
(the package object is callable, so the call works however `nas.search` was first imported).

May import `strategies`, `search_spaces`, `nas.train` (inside workers), Ray and rich, each lazily where it is
heavy; never matplotlib at import time (pictures are drawn through `nas.viz` at the end of a search)."""

import sys
import types


class _CallablePackage(types.ModuleType):
    def __call__(self, **settings):
        """Run a search; see nas.api.search."""
        from nas.api import search

        return search(**settings)


sys.modules[__name__].__class__ = _CallablePackage
