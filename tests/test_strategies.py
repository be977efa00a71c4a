"""Strategies: the ask/tell contract (determinism window, any-order results, failures, resume, dedupe),
checked for every registered strategy on both spaces, plus what each algorithm must do on tiny cases."""

import hashlib
import itertools
import json

import numpy as np
import pytest
import torch

import search_spaces as S
import strategies as T
from strategies.reinforce import Controller, single_thread

SPACES = {
    "nb201": lambda: S.make_space("nb201"),
    "nasnet": lambda: S.make_space("nasnet", num_blocks=2),
}


def reward_of(arch) -> float | None:
    """A fixed pseudo-accuracy per architecture; about one in nine trials fails."""
    digest = int(hashlib.sha256(S.to_json(arch).encode()).hexdigest()[:8], 16)
    return None if digest % 9 == 0 else (digest % 10_000) / 10_000


def report(strategy, proposal) -> None:
    r = reward_of(proposal.arch)
    if r is None:
        strategy.tell_failure(proposal.id, "CUDA out of memory")
    else:
        strategy.tell(proposal.id, r)


def drive(strategy, n: int, order: str = "fifo", seed: int = 0) -> list:
    """Ask until n proposals exist, returning results whenever the strategy waits, in the given order:
    'fifo' (oldest first), 'lifo' (newest first) or 'shuffle' (a random pending one)."""
    pick = np.random.default_rng(seed)
    proposals = []
    while len(proposals) < n:
        p = strategy.ask()
        if p is not None:
            proposals.append(p)
            continue
        pending = strategy.pending()
        assert pending, "ask() waits although no result is outstanding"
        index = {"fifo": 0, "lifo": -1, "shuffle": int(pick.integers(len(pending)))}[order]
        report(strategy, pending[index])
    return proposals


def hashes(proposals) -> list[str]:
    return [S.canonical_hash(p.arch) for p in proposals]


def make(name, space_name, **kwargs):
    kwargs.setdefault("seed", 3)
    return T.make_strategy(name, SPACES[space_name](), **kwargs)


ALL = pytest.mark.parametrize("name", sorted(T.STRATEGIES))
BOTH = pytest.mark.parametrize("space_name", sorted(SPACES))


@ALL
@BOTH
def test_same_seed_same_proposals(name, space_name):
    a = drive(make(name, space_name), 40)
    b = drive(make(name, space_name), 40)
    assert [p.id for p in a] == list(range(40))
    assert [p.arch for p in a] == [p.arch for p in b]
    c = drive(make(name, space_name, seed=4), 40)
    assert [p.arch for p in a] != [p.arch for p in c]


@ALL
@BOTH
def test_result_order_does_not_change_proposals(name, space_name):
    runs = {
        order: drive(make(name, space_name, concurrency=4), 45, order)
        for order in ("fifo", "lifo", "shuffle")
    }
    archs = {order: [p.arch for p in run] for order, run in runs.items()}
    assert archs["fifo"] == archs["lifo"] == archs["shuffle"]


@ALL
def test_determinism_window(name):
    s = make(name, "nb201", concurrency=3)
    first = [s.ask() for _ in range(3)]
    assert None not in first and s.ask() is None  # proposal 3 needs the result of proposal 0
    s.tell(2, 0.5)
    s.tell(1, 0.5)
    assert s.ask() is None  # later results do not help
    s.tell(0, 0.5)
    assert [s.ask().id for _ in range(3)] == [3, 4, 5]  # results 0, 1, 2 open proposals 3, 4, 5
    assert s.ask() is None
    assert [p.id for p in s.pending()] == [3, 4, 5]


@ALL
@BOTH
def test_resume_mid_run_matches_uninterrupted_run(name, space_name):
    reference = make(name, space_name, concurrency=3)
    uninterrupted = drive(reference, 60, "fifo")

    s = make(name, space_name, concurrency=3)
    drive(s, 33, "shuffle")
    in_flight = s.pending()
    assert in_flight, "the snapshot should be taken with proposals in flight"
    saved = json.loads(json.dumps(s.state_dict()))
    restored = make(name, space_name, concurrency=3)
    restored.load_state_dict(saved)
    assert [(p.id, p.arch) for p in restored.pending()] == [(p.id, p.arch) for p in in_flight]

    # The searcher re-launches the pending proposals; their results come back, and the search goes on.
    continued = drive(restored, 27, "lifo")
    assert [p.id for p in continued] == list(range(33, 60))
    assert [p.arch for p in continued] == [p.arch for p in uninterrupted[33:]]
    assert restored.state_dict()["proposals"] == reference.state_dict()["proposals"]


@ALL
def test_load_state_needs_the_same_arguments(name):
    s = make(name, "nb201")
    drive(s, 5)
    state = json.loads(json.dumps(s.state_dict()))
    with pytest.raises(T.StateError, match="seed=3 but this strategy was made with 4"):
        make(name, "nb201", seed=4).load_state_dict(state)
    with pytest.raises(T.StateError, match="concurrency"):
        make(name, "nb201", concurrency=2).load_state_dict(state)
    used = make(name, "nb201")
    used.ask()
    with pytest.raises(T.StateError, match="needs a fresh strategy"):
        used.load_state_dict(state)


@ALL
def test_tell_errors(name):
    s = make(name, "nb201")
    p = s.ask()
    with pytest.raises(T.ResultError, match=r"unknown proposal id 1; proposals asked so far: 0\.\.0"):
        s.tell(1, 0.5)
    with pytest.raises(T.ResultError, match="is nan; report a failed trial with tell_failure"):
        s.tell(p.id, float("nan"))
    s.tell_failure(np.int64(p.id), "diverged")  # ids from numpy arrays are fine, and state stays JSON
    json.dumps(s.state_dict())
    with pytest.raises(T.ResultError, match="proposal 0 already has a result"):
        s.tell(p.id, 0.5)
    with pytest.raises(T.ResultError, match="already has a result"):
        s.tell_failure(p.id, "again")
    assert s.pending() == []


@ALL
def test_failures_count_as_results(name):
    s = make(name, "nb201", concurrency=2)
    proposals = []
    for _ in range(30):
        for p in s.pending():
            s.tell_failure(p.id, "out of memory")
        p = s.ask()
        assert p is not None  # failed trials are done: they never block the window
        proposals.append(p)
    assert len({S.canonical_hash(p.arch) for p in proposals}) == 30
    state = s.state_dict()
    assert [p.id for p in s.pending()] == [29]
    assert [r for _, r, _ in state["results"]] == [None] * 29


@ALL
@BOTH
def test_no_duplicate_proposals_with_dedupe(name, space_name):
    s = make(name, space_name, concurrency=2)
    proposals = drive(s, 120 if space_name == "nb201" else 50, "shuffle")
    assert len(set(hashes(proposals))) == len(proposals)


def test_without_dedupe_evolution_repeats_itself():
    # The dedupe test above could pass vacuously if strategies never met a repeat; evolution does.
    s = make("evolution", "nb201", dedupe=False)
    proposals = drive(s, 200)
    assert len(set(hashes(proposals))) < len(proposals)
    assert s.cache_hits == 0
    deduped = make("evolution", "nb201")
    drive(deduped, 200)
    assert deduped.cache_hits > 0


def tiny_nasnet():
    return S.make_space("nasnet", ops=["identity", "conv_1x1"], num_blocks=1)


def test_dedupe_exhausts_a_tiny_space_clearly():
    space = tiny_nasnet()
    classes = {
        S.canonical_hash(space.decode(c)) for c in itertools.product(*(range(n) for n in space.decisions()))
    }
    s = T.make_strategy("random", space, seed=0, max_retries=3000)
    proposed = []
    with pytest.raises(T.SpaceExhaustedError, match="draws in a row were all architectures proposed before"):
        while True:
            p = s.ask()
            proposed.append(S.canonical_hash(p.arch))
            s.tell(p.id, 0.5)
    assert sorted(proposed) == sorted(classes)
    with pytest.raises(T.SpaceExhaustedError):  # it stays exhausted instead of proposing a repeat
        s.ask()


def test_evolution_tournament_and_aging():
    space = S.make_space("nb201")
    s = T.make_strategy("evolution", space, seed=1, population=3, sample_size=2)
    first = []
    for outcome in (0.9, 0.1, None):
        first.append(s.ask())
        if outcome is None:
            s.tell_failure(first[-1].id, "crashed")
        else:
            s.tell(first[-1].id, outcome)
    third = s.ask()  # results are consumed when the next proposal is made; the population is not full yet
    assert [reward for _, reward in s.population] == [0.9, 0.1]  # a failure never joins
    s.tell(third.id, 0.5)
    child = s.ask()
    assert len(s.population) == 3
    # A tournament of 2 among 3 never picks the worst (0.1); the child is one edge away from its parent.
    distance = {
        r: sum(a != b for a, b in zip(space.encode(child.arch), space.encode(arch)))
        for arch, r in s.population
    }
    assert 1 in (distance[0.9], distance[0.5])
    s.tell(child.id, 0.2)
    s.ask()
    # The oldest member dies although it is the best.
    assert [arch for arch, _ in s.population] == [first[1].arch, third.arch, child.arch]


def test_evolution_options_are_checked():
    space = S.make_space("nb201")
    with pytest.raises(
        T.StrategyError, match=r"sample_size must be an integer in \[1, population=4\], got 5"
    ):
        T.make_strategy("evolution", space, seed=0, population=4, sample_size=5)
    with pytest.raises(
        T.StrategyError, match="evolution: unknown option tournament; options: population, sample_size"
    ):
        T.make_strategy("evolution", space, seed=0, tournament=3)
    with pytest.raises(T.StrategyError, match="random: takes no options"):
        T.make_strategy("random", space, seed=0, population=3)


def test_registry():
    with pytest.raises(
        T.UnknownStrategyError,
        match="unknown strategy 'bayes'; choose one of bo, evolution, grid, random, rl",
    ):
        T.make_strategy("bayes", S.make_space("nb201"), seed=0)
    assert issubclass(T.UnknownStrategyError, ValueError)
    with pytest.raises(ValueError, match="already registered"):
        T.register_strategy("random")(type("Other", (T.Strategy,), {}))
    assert sorted(T.STRATEGIES) == ["bo", "evolution", "grid", "random", "rl"]


@BOTH
def test_controller_step_is_an_lstm_cell_and_scores_its_samples(space_name):
    """The step-by-step sampler and the whole-sequence scorer share weights; check both against torch."""
    with single_thread():
        check_controller(SPACES[space_name]())


def check_controller(space):
    controller = Controller(space.decisions(), hidden=16)
    with torch.no_grad():
        for p in controller.parameters():
            p.uniform_(-0.5, 0.5, generator=torch.Generator().manual_seed(0))
    cell = torch.nn.LSTMCell(16, 16)
    lstm = controller.lstm
    cell.load_state_dict(
        {
            "weight_ih": lstm.weight_ih_l0,
            "weight_hh": lstm.weight_hh_l0,
            "bias_ih": lstm.bias_ih_l0,
            "bias_hh": lstm.bias_hh_l0,
        }
    )
    x, state = torch.randn(4, 16), (torch.randn(4, 16), torch.randn(4, 16))
    x_gates = controller._input_gates(x)
    torch.testing.assert_close(controller._step(x_gates, state), cell(x, state))
    torch.testing.assert_close(controller._step(x_gates, None), cell(x))

    with torch.no_grad():
        choices = controller.sample(64, torch.Generator().manual_seed(1))
        log_prob, entropy = controller.score(choices)
    for row in choices.tolist():
        space.decode(row)  # every sampled sequence is a valid architecture
    # Reference log-probability: run the torch cell step by step over the same choices.
    expected = torch.zeros(64)
    h = None
    x = controller.start[0].expand(64, -1)
    with torch.no_grad():
        for t, size in enumerate(space.decisions()):
            h = cell(x) if h is None else cell(x, h)
            logits = controller._bound(
                h[0] @ controller.head_weight[t, :size].T + controller.head_bias[t, :size]
            )
            expected += torch.log_softmax(logits, -1).gather(1, choices[:, t : t + 1]).squeeze(1)
            x = controller.embedding[t][choices[:, t]]
    torch.testing.assert_close(log_prob, expected, rtol=1e-5, atol=1e-5)
    assert bool((entropy > 0).all())


def test_rl_learns_a_simple_preference():
    """Reward = share of NB201 edges that carry op 0: after 300 results the controller should favour op 0."""
    space = S.make_space("nb201")
    s = T.make_strategy("rl", space, seed=0, dedupe=False)
    share = []
    for _ in range(300):
        p = s.ask()
        choices = space.encode(p.arch)
        share.append(choices.count(0) / len(choices))
        s.tell(p.id, share[-1])
    assert s.updates == 29  # the 300th result is consumed when proposal 300 is asked for
    assert np.mean(share[:50]) < 0.3
    assert np.mean(share[-50:]) > 0.6


def test_rl_options_are_checked():
    with pytest.raises(T.StrategyError, match="rl: option batch_size=0 is out of range"):
        T.make_strategy("rl", S.make_space("nb201"), seed=0, batch_size=0)


def test_adam_matches_torch():
    from strategies.reinforce import Adam

    gen = torch.Generator().manual_seed(0)
    ours, theirs = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    theirs.load_state_dict(ours.state_dict())
    adam = Adam(list(ours.parameters()), lr=0.05)
    reference = torch.optim.Adam(theirs.parameters(), lr=0.05)
    for _ in range(5):
        x = torch.randn(4, 3, generator=gen)
        for model in (ours, theirs):
            model.zero_grad()
            model(x).pow(2).sum().backward()
        adam.step()
        reference.step()
    for a, b in zip(ours.parameters(), theirs.parameters()):
        torch.testing.assert_close(a, b)
