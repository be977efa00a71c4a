"""A space is one place: a toy third space, written here and registered like the built-in ones, gets
strategies, cell diagrams, the build settings and `nas export` without a line changed elsewhere in the engine.
Its network is written once: export copies `ChainNetwork` itself."""

import dataclasses
import json
from collections.abc import Sequence
from typing import Any, ClassVar

import networkx as nx
import numpy as np
import pytest
import torch
from torch import nn

import nas
import search_spaces as S
import strategies
from nas.export.folder import export, resolve_source
from nas.train.checkpoint import Checkpoint, save_checkpoint
from nas.viz.cell_diagram import save_cell_diagram
from search_spaces import ModelConfig
from search_spaces.ops import OPS, norm_layer

CHAIN_OPS = ("identity", "conv_3x3", "sep_conv_3x3", "max_pool_3x3")
LENGTH = 3


# -- arch (what search_spaces/chain/arch.py would hold) --


@dataclasses.dataclass(frozen=True)
class ChainArch:
    """`ops[k]` is applied to the output of op k - 1; the cell is their composition."""

    ops: tuple[str, ...]
    space: ClassVar[str] = "chain"

    def __post_init__(self) -> None:
        if len(self.ops) != LENGTH or not set(self.ops) <= set(CHAIN_OPS):
            raise S.ArchitectureError(f"a chain cell is {LENGTH} ops of {CHAIN_OPS}, got {self.ops}")

    def to_dict(self) -> dict[str, Any]:
        return {"space": self.space, "ops": list(self.ops)}

    def canonical_form(self) -> str:
        return json.dumps([op for op in self.ops if op != "identity"])

    def to_graph(self) -> nx.MultiDiGraph:
        g = nx.MultiDiGraph()
        g.add_node(0, kind="input", label="x")
        for k in range(1, LENGTH):
            g.add_node(k, kind="node", label=str(k))
        g.add_node(LENGTH, kind="output", label="y")
        for k, op in enumerate(self.ops):
            g.add_edge(k, k + 1, op=op)
        return g


# -- network (search_spaces/chain/network.py): what `build` returns is also what `nas export` copies --


class ChainNetwork(nn.Module):
    """Stem, the chain of ops, pooling, dropout and a classifier."""

    def __init__(self, arch: ChainArch, config: ModelConfig):
        super().__init__()
        c = config.channels
        self.stem = nn.Sequential(
            nn.Conv2d(3, c, 3, padding=1, bias=False),
            norm_layer(config.norm, c),
        )
        self.chain = nn.ModuleList(OPS[op](c, 1, config.norm) for op in arch.ops)
        self.global_pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(config.dropout) if config.dropout else nn.Identity()
        self.classifier = nn.Linear(c, config.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for op in self.chain:
            x = op(x)
        return self.classifier(self.dropout(self.global_pool(x).flatten(1)))


# -- space (search_spaces/chain/space.py), registered by the fixture below --


class ChainSpace(S.SearchSpace):
    """A chain of 3 ops (a toy space for tests)."""

    diagram_note = "The input x goes through the ops left to right."

    def options(self) -> dict[str, Any]:
        return {}

    def sample(self, rng: np.random.Generator) -> ChainArch:
        return ChainArch(tuple(CHAIN_OPS[int(i)] for i in rng.integers(len(CHAIN_OPS), size=LENGTH)))

    def mutate(self, arch: ChainArch, rng: np.random.Generator) -> ChainArch:
        while True:
            mutant = self.sample(rng)
            if sum(a != b for a, b in zip(mutant.ops, arch.ops)) == 1:
                return mutant

    def decisions(self) -> list[int]:
        return [len(CHAIN_OPS)] * LENGTH

    def encode(self, arch: ChainArch) -> list[int]:
        return [CHAIN_OPS.index(op) for op in arch.ops]

    def decode(self, choices: Sequence[int]) -> ChainArch:
        self.check_decoding(choices)
        return ChainArch(tuple(CHAIN_OPS[c] for c in choices))

    def from_dict(self, data: dict[str, Any]) -> ChainArch:
        return ChainArch(tuple(data["ops"]))

    def parse(self, text: str) -> ChainArch:
        return self.from_dict(json.loads(text))

    def validate(self, arch: ChainArch) -> None:
        if not isinstance(arch, ChainArch):
            raise S.ArchitectureError("expected a chain architecture")

    @classmethod
    def network_class(cls) -> type[nn.Module]:
        return ChainNetwork


@pytest.fixture
def chain_space():
    S.register_space("chain")(ChainSpace)
    try:
        yield S.make_space("chain")
    finally:
        del S.SPACES["chain"]


ARCH = ChainArch(("conv_3x3", "identity", "sep_conv_3x3"))


@pytest.mark.parametrize("strategy", sorted(strategies.STRATEGIES))
def test_every_strategy_searches_the_new_space(chain_space, strategy):
    s = strategies.make_strategy(strategy, chain_space, seed=0)
    for step in range(12):
        proposal = s.ask()
        assert isinstance(proposal.arch, ChainArch)
        chain_space.validate(proposal.arch)
        s.tell(proposal.id, 0.1 * step)


def test_the_new_space_gets_cell_diagrams(chain_space, tmp_path):
    path = save_cell_diagram(ARCH, tmp_path / "chain.png", title="chain")
    assert path.stat().st_size > 1000


@pytest.mark.parametrize(
    "config",
    [ModelConfig(channels=8), ModelConfig(channels=8, norm="none", dropout=0.3)],
    ids=["batch", "none-dropout"],
)
def test_the_new_space_exports_code_that_matches_the_engine(chain_space, tmp_path, config):
    engine = chain_space.build(ARCH, config)
    with torch.no_grad():
        for p in engine.parameters():
            p.add_(0.1 * torch.randn_like(p))
    save_checkpoint(tmp_path / "w.pt", Checkpoint(ARCH, {}, config, engine.state_dict(), {}))
    export(resolve_source(weights=tmp_path / "w.pt"), tmp_path / "out")
    source = (tmp_path / "out" / "model.py").read_text()
    assert "class SepConv" in source and "class DilConv" in source and "class ReLUConvBN" in source
    assert "class ChainNetwork" in source and "class ChainArch" in source
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(nas.load(tmp_path / "out")(x), engine.eval()(x), rtol=0, atol=1e-5)
