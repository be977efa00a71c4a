"""NASNet/ENAS micro cell space (Zoph et al. 2018; Pham et al. 2018).

A cell has two inputs, the outputs of the two previous cells (indices 0 and 1), and B blocks; block b is
numbered 2 + b. Each block applies one op to each of two inputs chosen among the cell inputs and earlier
blocks and adds the results. The cell's output concatenates the blocks that no other block consumes.
A network stacks normal cells with a reduction cell (stride-2 ops on the cell inputs) between stages.

The package holds everything the space needs: `arch` (the architecture values, torch-free), `space` (the
SearchSpace subclass, registered on import: sampling, mutation, decisions, reading, diagram note) and
`network` (torch: the network `build` returns, which `nas export` copies as it is).
"""

from search_spaces.nasnet.arch import CELL_INPUTS, DEFAULT_BLOCKS, DEFAULT_OPS, Block, Cell, NasnetArch
from search_spaces.nasnet.space import NasnetSpace

__all__ = ["CELL_INPUTS", "DEFAULT_BLOCKS", "DEFAULT_OPS", "Block", "Cell", "NasnetArch", "NasnetSpace"]
