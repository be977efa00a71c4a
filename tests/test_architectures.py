"""Architecture values: validation, JSON, graphs, canonical hashing and the decision encoding."""

import itertools
import json

import networkx as nx
import numpy as np
import pytest

import search_spaces as S
from search_spaces.known_cells import DARTS_V2, ENAS, KNOWN_CELLS, NASNET_A
from search_spaces.nasnet import Block, Cell, NasnetArch
from search_spaces.nb201 import OPS as NB201_OPS
from search_spaces.nb201 import Nb201Arch

SPACE_NAMES = sorted(S.SPACES)


def cell(*blocks, concat=None):
    return Cell(tuple(Block(tuple(i), tuple(o)) for i, o in blocks), concat)


def nasnet(normal, reduce=None):
    return NasnetArch(normal, reduce or normal)


# -- every space: sample, json, mutate, encode/decode --


@pytest.mark.parametrize("name", SPACE_NAMES)
def test_json_round_trip_and_hash_stable(name, rng):
    space = S.make_space(name)
    for _ in range(100):
        arch = space.sample(rng)
        text = S.to_json(arch)
        again = S.arch_from_json(text)
        assert again == arch
        assert S.canonical_hash(again) == S.canonical_hash(arch)
        assert json.loads(text)["space"] == name


@pytest.mark.parametrize("name", SPACE_NAMES)
def test_mutate_changes_exactly_one_decision(name, rng):
    space = S.make_space(name)
    for _ in range(200):
        arch = space.sample(rng)
        child = space.mutate(arch, rng)
        assert child != arch
        diff = [a != b for a, b in zip(space.encode(arch), space.encode(child))]
        assert sum(diff) == 1


@pytest.mark.parametrize("name", SPACE_NAMES)
def test_decode_inverts_encode(name, rng):
    space = S.make_space(name)
    sizes = space.decisions()
    for _ in range(100):
        arch = space.sample(rng)
        choices = space.encode(arch)
        assert all(0 <= c < n for c, n in zip(choices, sizes))
        assert space.decode(choices) == arch
        random_choices = [int(rng.integers(n)) for n in sizes]
        assert space.encode(space.decode(random_choices)) == random_choices


@pytest.mark.parametrize("name", SPACE_NAMES)
def test_decode_rejects_bad_sequences(name):
    space = S.make_space(name)
    sizes = space.decisions()
    with pytest.raises(S.ArchitectureError, match="expected .* decisions"):
        space.decode([0] * (len(sizes) - 1))
    with pytest.raises(S.ArchitectureError, match="decision 0 is"):
        space.decode([sizes[0]] + [0] * (len(sizes) - 1))


@pytest.mark.parametrize("name", SPACE_NAMES)
def test_same_seed_same_samples(name):
    space = S.make_space(name)
    a = [space.sample(np.random.default_rng(7)) for _ in range(3)]
    b = [space.sample(np.random.default_rng(7)) for _ in range(3)]
    assert a == b


@pytest.mark.parametrize("name", SPACE_NAMES)
def test_graph_view(name, rng):
    arch = S.make_space(name).sample(rng)
    g = arch.to_graph()
    assert isinstance(g, nx.DiGraph)
    assert nx.is_directed_acyclic_graph(g)
    assert all("op" in data for _, _, data in g.edges(data=True))


def test_unknown_space_is_a_clear_error():
    with pytest.raises(S.UnknownSpaceError, match="unknown search space 'nope'; choose one of nasnet, nb201"):
        S.make_space("nope")
    with pytest.raises(S.ArchitectureError, match="unknown search space"):
        S.arch_from_json('{"space": "nope"}')
    with pytest.raises(S.ArchitectureError, match="not valid JSON"):
        S.arch_from_json("{nope")
    with pytest.raises(S.ArchitectureError, match='"space" key'):
        S.arch_from_json("[1, 2]")


# -- nasnet validation --

SEP = "sep_conv_3x3"


def test_nasnet_rejects_unknown_op():
    with pytest.raises(S.ArchitectureError, match="block 0: unknown op 'conv_9x9'"):
        cell(((0, 1), (SEP, "conv_9x9")))


def test_nasnet_rejects_input_out_of_range():
    with pytest.raises(
        S.ArchitectureError, match=r"block 1: input index 3 out of range; block 1 may read states 0..2"
    ):
        cell(((0, 1), (SEP, SEP)), ((3, 0), (SEP, SEP)))
    with pytest.raises(S.ArchitectureError, match="input index -1"):
        cell(((-1, 1), (SEP, SEP)))


def test_nasnet_rejects_wrong_arity():
    with pytest.raises(S.ArchitectureError, match="exactly 2 inputs and 2 ops"):
        Block((0, 1, 1), (SEP, SEP))
    with pytest.raises(S.ArchitectureError, match="exactly 2 inputs and 2 ops"):
        Block((0, 1), (SEP,))


def test_nasnet_rejects_empty_cell_and_bad_concat():
    with pytest.raises(S.ArchitectureError, match="at least one block"):
        Cell(())
    with pytest.raises(S.ArchitectureError, match="leaves out unused block states"):
        cell(((0, 1), (SEP, SEP)), ((0, 1), (SEP, SEP)), concat=(2,))
    with pytest.raises(S.ArchitectureError, match="must list distinct block states"):
        cell(((0, 1), (SEP, SEP)), concat=(1,))


def test_nasnet_space_checks_block_count_and_op_set():
    space = S.make_space("nasnet")
    with pytest.raises(S.ArchitectureError, match="normal cell has 4 blocks, this space has 5"):
        space.validate(DARTS_V2)
    space4 = S.make_space("nasnet", num_blocks=4)
    with pytest.raises(S.ArchitectureError, match="op 'dil_conv_3x3' is not in this space's op set"):
        space4.validate(DARTS_V2)
    with pytest.raises(S.ArchitectureError, match="unknown ops"):
        S.make_space("nasnet", ops=["identity", "warp_drive"])
    with pytest.raises(S.ArchitectureError, match="num_blocks"):
        S.make_space("nasnet", num_blocks=0)
    with pytest.raises(S.ArchitectureError, match="expected a nasnet architecture"):
        space.validate(Nb201Arch(("none",) * 6))


def test_nasnet_json_errors():
    space = S.make_space("nasnet")
    with pytest.raises(S.ArchitectureError, match="missing reduce"):
        space.from_dict({"space": "nasnet", "normal": DARTS_V2.normal.to_dict()})
    with pytest.raises(S.ArchitectureError, match="a cell is"):
        space.from_dict({"space": "nasnet", "normal": {"blocks": [{"inputs": [0, 1]}]}, "reduce": {}})
    with pytest.raises(S.ArchitectureError, match="expected a nasnet architecture"):
        space.from_dict({"space": "nb201"})


@pytest.mark.parametrize("name", sorted(KNOWN_CELLS))
def test_known_cells_round_trip(name):
    arch = KNOWN_CELLS[name]
    assert S.arch_from_json(S.to_json(arch)) == arch


def test_loose_ends_are_concatenated():
    assert NASNET_A.reduce.concat == (4, 5, 6)
    assert ENAS.reduce.concat == (2, 3, 6)
    assert ENAS.normal.concat == (2, 3, 4, 5, 6)
    assert DARTS_V2.normal.concat == (2, 3, 4, 5)  # explicit: DARTS concatenates every block


# -- canonical hashing --

h = S.canonical_hash
A = ("sep_conv_3x3", "identity")


def test_nasnet_hash_ignores_order_inside_a_block():
    x = cell(((0, 1), ("sep_conv_3x3", "identity")), ((2, 0), ("max_pool_3x3", "avg_pool_3x3")))
    y = cell(((1, 0), ("identity", "sep_conv_3x3")), ((0, 2), ("avg_pool_3x3", "max_pool_3x3")))
    assert h(nasnet(x)) == h(nasnet(y))


def test_nasnet_hash_ignores_independent_block_order():
    # Blocks 0 and 1 read only cell inputs, so they can be numbered either way; block 2 reads both.
    x = cell(((0, 1), ("sep_conv_3x3", "identity")), ((0, 0), ("max_pool_3x3", "conv_1x1")), ((2, 3), A))
    y = cell(((0, 0), ("max_pool_3x3", "conv_1x1")), ((0, 1), ("sep_conv_3x3", "identity")), ((3, 2), A))
    assert h(nasnet(x)) == h(nasnet(y))


def test_nasnet_hash_distinguishes_non_isomorphic_cells():
    base = cell(((0, 1), ("sep_conv_3x3", "identity")), ((2, 0), ("max_pool_3x3", "avg_pool_3x3")))
    other_op = cell(((0, 1), ("sep_conv_5x5", "identity")), ((2, 0), ("max_pool_3x3", "avg_pool_3x3")))
    other_wiring = cell(((0, 1), ("sep_conv_3x3", "identity")), ((2, 1), ("max_pool_3x3", "avg_pool_3x3")))
    # Same ops and inputs per block, but which op reads which input differs.
    swapped_ops = cell(((1, 0), ("sep_conv_3x3", "identity")), ((2, 0), ("max_pool_3x3", "avg_pool_3x3")))
    hashes = {h(nasnet(c)) for c in (base, other_op, other_wiring, swapped_ops)}
    assert len(hashes) == 4
    # Normal and reduction cells are not interchangeable.
    assert h(NasnetArch(base, other_op)) != h(NasnetArch(other_op, base))


def test_nb201_hash_ignores_dead_edges_and_node_swap():
    # Node 1 -> 3 path only; edges into node 2 lead nowhere when node 2 has no way out.
    x = Nb201Arch.parse("|nor_conv_3x3~0|+|avg_pool_3x3~0|nor_conv_1x1~1|+|none~0|skip_connect~1|none~2|")
    y = Nb201Arch.parse("|nor_conv_3x3~0|+|nor_conv_1x1~0|none~1|+|none~0|skip_connect~1|none~2|")
    assert h(x) == h(y)
    # Swapping the roles of nodes 1 and 2 (no edge between them).
    a = Nb201Arch.parse("|nor_conv_3x3~0|+|avg_pool_3x3~0|none~1|+|none~0|skip_connect~1|nor_conv_1x1~2|")
    b = Nb201Arch.parse("|avg_pool_3x3~0|+|nor_conv_3x3~0|none~1|+|none~0|nor_conv_1x1~1|skip_connect~2|")
    assert h(a) == h(b)
    # Every cell without a path from input to output computes zeros.
    z1 = Nb201Arch(("none",) * 6)
    z2 = Nb201Arch.parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|none~0|none~1|none~2|")
    assert h(z1) == h(z2)


def test_nb201_hash_distinguishes_non_isomorphic_cells():
    cells = [
        "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|none~0|none~1|skip_connect~2|",  # chain of two convs
        # two convs in parallel
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|none~0|skip_connect~1|skip_connect~2|",
        "|nor_conv_3x3~0|+|none~0|nor_conv_1x1~1|+|none~0|none~1|skip_connect~2|",  # another op
        "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|",  # plus a residual
    ]
    assert len({h(Nb201Arch.parse(c)) for c in cells}) == len(cells)


def test_nb201_hash_classes_are_unions_of_isomorphic_cells():
    # Over all 15,625 cells, cells that differ only in dead edges or the 1<->2 swap share a hash, so there
    # are fewer classes than cells; NB201's own string scheme, which also treats skip as transparent, has
    # 6,466.
    classes = {h(Nb201Arch(ops)) for ops in itertools.product(NB201_OPS, repeat=6)}
    assert 6466 < len(classes) < 15625


# -- NB201 strings --


def test_nb201_string_round_trip_all_cells():
    for ops in itertools.product(NB201_OPS, repeat=6):
        arch = Nb201Arch(ops)
        assert Nb201Arch.parse(str(arch)) == arch


def test_nb201_string_format():
    arch = Nb201Arch(("nor_conv_3x3", "none", "skip_connect", "avg_pool_3x3", "nor_conv_1x1", "none"))
    assert str(arch) == "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_1x1~1|none~2|"
    assert arch.op(1, 2) == "skip_connect"


@pytest.mark.parametrize(
    "text, message",
    [
        ("|none~0|+|none~0|none~1|", "has 2 '\\+'-separated nodes, expected 3"),
        ("|none~0|+|none~0|none~1|+|none~0|none~1|", "node 3 needs 3 inputs, got 2"),
        ("|none~0|+|none~0|none~1|+|none~0|none~1|none~1|", "node 3 input 2 must read 'op~2'"),
        ("|none~0|+none~0|none~1|+|none~0|none~1|none~2|", "must be wrapped in '\\|'"),
        ("|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|", "edge 0->1: unknown op 'conv'"),
    ],
)
def test_nb201_parse_errors(text, message):
    with pytest.raises(S.ArchitectureError, match=message):
        Nb201Arch.parse(text)


def test_nb201_wrong_number_of_edges():
    with pytest.raises(S.ArchitectureError, match="has 6 edges, got 5 ops"):
        Nb201Arch(("none",) * 5)
    with pytest.raises(S.ArchitectureError, match='needs "cell"'):
        S.make_space("nb201").from_dict({"space": "nb201"})


def test_values_are_immutable():
    with pytest.raises(AttributeError):
        DARTS_V2.normal = DARTS_V2.reduce
    with pytest.raises(AttributeError):
        Nb201Arch(("none",) * 6).ops = ()
