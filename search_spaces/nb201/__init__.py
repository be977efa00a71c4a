"""NAS-Bench-201 cell space (Dong & Yang 2020, sec. 2.1).

A cell is a DAG on 4 nodes: node 0 is the cell input, node 3 its output, and every pair i < j is joined by an
edge carrying one of 5 ops; node j sums its incoming edges. 5^6 = 15,625 cells. The standard string lists the
edges into node 1, 2 and 3: `|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`.

The package holds everything the space needs: `arch` (the architecture values, torch-free), `space` (the
SearchSpace subclass, registered on import: sampling, mutation, decisions, reading, diagram note) and
`network` (torch: the network `build` returns, which `nas export` copies as it is).
"""

from search_spaces.nb201.arch import EDGES, NODES, OPS, REGISTRY_OP, Nb201Arch
from search_spaces.nb201.space import Nb201Space

__all__ = ["EDGES", "NODES", "OPS", "REGISTRY_OP", "Nb201Arch", "Nb201Space"]
