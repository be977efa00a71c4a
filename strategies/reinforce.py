"""REINFORCE with an autoregressive LSTM controller (Zoph & Le 2017, "Neural Architecture Search with
Reinforcement Learning", sec. 3.1-3.2).

The controller emits the space's decision sequence (`space.decisions()`): at step t an LSTM cell reads the
embedding of the choice made at step t - 1 (a learned start vector at t = 0) and a softmax over that step's
choices picks the next one. Its weights follow the policy gradient

    grad J = mean_k (R_k - b) grad log p(a_k)  +  entropy_weight * grad H(p)

over a batch of results, with b an exponential moving average of rewards. As in the paper, the controller is
updated once per batch of architectures, not once per result: a batch of `batch_size` architectures is sampled
with one set of weights, and one update is made when `batch_size` results (in proposal order, inside the
determinism window) have arrived; log-probabilities are recomputed with the weights at update time.

Departures from the paper, for small query budgets and any reward units: the advantage R - b is divided by
the standard deviation of the first batch's rewards, so the balance with the entropy bonus is the same for
accuracies in [0, 1] and in percent; logits are bounded to c tanh(logit / c) as in ENAS (Pham et al. 2018),
with c = 1.5 rather than ENAS's 2.5 so that a 200-query search keeps proposing unseen cells instead of
answering itself from the dedupe cache; and the learning rate is 0.01, the value NAS-Bench-201/NATS-Bench
use for their REINFORCE baseline (Zoph & Le used 6e-4 over 12,800 architectures, far too slow for 200
queries). Failed trials carry no reward and give no gradient.

All randomness comes from a `torch.Generator` seeded from the strategy seed; it, the weights, the Adam state,
the baseline and the batches in progress are part of `state_dict()` as plain lists.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from strategies._registry import register_strategy
from strategies.base import Strategy, StrategyError


@dataclass(frozen=True)
class ReinforceConfig:
    hidden: int = 64  # LSTM width; the 6-decision NB201 sequence needs little (Zoph & Le used 35 per layer)
    learning_rate: float = 0.01  # Adam; NAS-Bench-201's REINFORCE baseline value
    batch_size: int = 10  # results per policy update; also architectures sampled per set of weights
    baseline_decay: float = 0.9  # EMA decay of the reward baseline b
    # Bonus on the policy's mean per-step entropy; keeps it from collapsing early.
    entropy_weight: float = 0.01
    init_range: float = 0.08  # weights start uniform in [-init_range, init_range] (Zoph & Le 2017, sec. 4)
    # Logits bounded to c * tanh(logits / c) as in ENAS (Pham et al. 2018, c = 2.5); 0: off.
    tanh_constant: float = 1.5

    def __post_init__(self) -> None:
        checks = {
            "hidden": isinstance(self.hidden, int) and self.hidden >= 1,
            "learning_rate": self.learning_rate > 0,
            "batch_size": isinstance(self.batch_size, int) and self.batch_size >= 1,
            "baseline_decay": 0 <= self.baseline_decay < 1,
            "entropy_weight": self.entropy_weight >= 0,
            "init_range": self.init_range >= 0,
            "tanh_constant": self.tanh_constant >= 0,
        }
        for name, ok in checks.items():
            if not ok:
                raise StrategyError(f"rl: option {name}={getattr(self, name)!r} is out of range")


class Controller(nn.Module):
    """LSTM policy over a fixed sequence of categorical decisions with `sizes[t]` choices at step t.

    Step t has its own output layer and its own embedding of the choice fed back, stored stacked as
    (steps, max choices, hidden) tensors with the missing choices masked out, so that scoring a batch of whole
    sequences is one LSTM call and a handful of tensor ops rather than a Python loop over steps.
    """

    def __init__(self, sizes: list[int], hidden: int, tanh_constant: float = 0.0) -> None:
        super().__init__()
        steps, most = len(sizes), max(sizes)
        self.tanh_constant = tanh_constant
        self.start = nn.Parameter(torch.zeros(1, 1, hidden))
        self.lstm = nn.LSTM(hidden, hidden, batch_first=True)
        self.head_weight = nn.Parameter(torch.zeros(steps, most, hidden))
        self.head_bias = nn.Parameter(torch.zeros(steps, most))
        self.embedding = nn.Parameter(torch.zeros(steps, most, hidden))
        self.sizes = list(sizes)
        self.register_buffer("valid", torch.arange(most) < torch.tensor(sizes).unsqueeze(1), persistent=False)

    def _bound(self, logits: torch.Tensor) -> torch.Tensor:
        # A bounded logit caps how sure the policy can get, so it keeps proposing unseen cells.
        c = self.tanh_constant
        return c * torch.tanh(logits / c) if c > 0 else logits

    def _step(self, x_gates: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None):
        """One LSTM step with `self.lstm`'s weights, gates in PyTorch's (i, f, g, o) order; `x_gates` is the
        input's share of the gates, x W_ih^T + b_ih + b_hh. Sampling goes step by step, and this plain cell is
        several times cheaper than calling the sequence module for every step."""
        gates = x_gates if state is None else torch.addmm(x_gates, state[0], self.lstm.weight_hh_l0.T)
        i, f, g, o = torch.sigmoid(gates).chunk(4, 1)  # the g quarter is recomputed with tanh below
        c = i * torch.tanh(gates[:, 2 * len(g[0]) : 3 * len(g[0])])
        if state is not None:
            c = c + f * state[1]
        return o * torch.tanh(c), c

    def _input_gates(self, x: torch.Tensor) -> torch.Tensor:
        lstm = self.lstm
        return torch.addmm(lstm.bias_ih_l0 + lstm.bias_hh_l0, x.reshape(-1, x.shape[-1]), lstm.weight_ih_l0.T)

    def sample(self, batch: int, generator: torch.Generator) -> torch.Tensor:
        """`batch` decision sequences, shape (batch, steps), drawn from the policy."""
        steps, most = self.valid.shape
        # The input share of the gates for every choice that can be fed back, computed once per batch.
        fed_back = self._input_gates(self.embedding).reshape(steps, most, -1)
        x_gates, state, taken = self._input_gates(self.start).expand(batch, -1), None, []
        u = torch.rand(batch, steps, generator=generator)
        for t, size in enumerate(self.sizes):
            state = self._step(x_gates, state)
            logits = self._bound(
                torch.addmm(self.head_bias[t, :size], state[0], self.head_weight[t, :size].T)
            )
            # Inverse-CDF draw from one uniform per step; clamp guards against the CDF summing to 1 - ulp.
            a = (torch.softmax(logits, dim=-1).cumsum(1) < u[:, t : t + 1]).sum(1).clamp_(max=size - 1)
            taken.append(a)
            x_gates = fed_back[t][a]  # the choice just made is the next input
        return torch.stack(taken, 1)

    def score(self, choices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Log-probability of each sequence in `choices` (batch, steps) and its mean per-step entropy."""
        batch, steps = choices.shape
        fed_back = self.embedding[torch.arange(steps - 1), choices[:, :-1]]
        out, _ = self.lstm(torch.cat([self.start.expand(batch, 1, -1), fed_back], 1))
        logits = self._bound(torch.einsum("bth,tnh->btn", out, self.head_weight) + self.head_bias)
        logp = torch.log_softmax(logits.masked_fill(~self.valid, float("-inf")), dim=-1)
        chosen = logp.gather(2, choices.unsqueeze(2)).squeeze(2).sum(1)
        entropy = -(logp.exp() * logp.masked_fill(~self.valid, 0.0)).sum(-1).mean(1)
        return chosen, entropy


@contextmanager
def single_thread() -> Iterator[None]:
    """Run the controller's tiny ops on one thread: several threads spin-waiting on each other cost far more
    than the arithmetic (10-50x measured on 2 busy cores). The caller's setting is restored afterwards."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _tensor_to_plain(t: torch.Tensor) -> dict[str, Any]:
    # Raw little-endian bytes in base64 rather than a list of numbers: exact, and a twentieth of the time to
    # write after every result of a search (controller and Adam moments hold ~200k floats).
    array = t.detach().cpu().contiguous().numpy()
    return {
        "shape": list(t.shape),
        "dtype": str(t.dtype).removeprefix("torch."),
        "base64": base64.b64encode(array.astype(array.dtype.newbyteorder("<")).tobytes()).decode(),
    }


def _plain_to_tensor(d: dict[str, Any]) -> torch.Tensor:
    little = torch.empty((), dtype=getattr(torch, d["dtype"])).numpy().dtype.newbyteorder("<")
    values = np.frombuffer(base64.b64decode(d["base64"]), dtype=little)
    return torch.from_numpy(values.astype(values.dtype.newbyteorder("="))).reshape(d["shape"])


class Adam:
    """Adam (Kingma & Ba 2015, Algorithm 1) with its defaults. Written out because `torch.optim` imports
    torch._dynamo on first use, 2-5 s on a 2-core machine, longer than a whole tabular benchmark run of the
    controller; and its state is then three plain lists."""

    def __init__(self, params: list[nn.Parameter], lr: float, betas=(0.9, 0.999), eps: float = 1e-8) -> None:
        self.params, self.lr, self.betas, self.eps = params, lr, betas, eps
        self.steps = 0
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]

    @torch.no_grad()
    def step(self) -> None:
        b1, b2 = self.betas
        self.steps += 1
        for p, m, v in zip(self.params, self.m, self.v):
            m.mul_(b1).add_(p.grad, alpha=1 - b1)
            v.mul_(b2).addcmul_(p.grad, p.grad, value=1 - b2)
            denominator = (v / (1 - b2**self.steps)).sqrt_().add_(self.eps)
            p.addcdiv_(m, denominator, value=-self.lr / (1 - b1**self.steps))

    def state_dict(self) -> dict[str, Any]:
        return {
            "steps": self.steps,
            "m": [_tensor_to_plain(t) for t in self.m],
            "v": [_tensor_to_plain(t) for t in self.v],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.steps = int(state["steps"])
        self.m = [_plain_to_tensor(t) for t in state["m"]]
        self.v = [_plain_to_tensor(t) for t in state["v"]]


@register_strategy("rl")
class Reinforce(Strategy):
    """REINFORCE on an LSTM controller (Zoph & Le 2017) with a moving-average baseline and an entropy bonus;
    one update per batch of results. Failed trials give no gradient."""

    config_class = ReinforceConfig

    def warm_start_size(self) -> int:
        return self.config.batch_size  # the first batch the controller learns from

    def __init__(self, space, **kwargs: Any) -> None:
        super().__init__(space, **kwargs)
        cfg = self.config
        self.generator = torch.Generator().manual_seed(self.seed)
        self.controller = Controller(space.decisions(), cfg.hidden, cfg.tanh_constant)
        with torch.no_grad():
            for p in self.controller.parameters():
                p.uniform_(-cfg.init_range, cfg.init_range, generator=self.generator)
        self.optimizer = Adam(list(self.controller.parameters()), lr=cfg.learning_rate)
        self.baseline: float | None = None
        self.reward_scale: float | None = None
        self.updates = 0
        self._queue: list[list[int]] = []  # sampled with the current weights, not yet handed out
        self._batch: list[tuple[list[int], float]] = []  # results waiting for the next update

    def _candidate(self):
        if not self._queue:
            with torch.no_grad(), single_thread():
                self._queue = self.controller.sample(self.config.batch_size, self.generator).tolist()
        return self.space.decode(self._queue.pop(0))

    def _observe(self, arch, reward) -> None:
        if reward is None:
            return
        self._batch.append((self.space.encode(arch), reward))
        if len(self._batch) >= self.config.batch_size:
            with single_thread():
                self._update()

    def _update(self) -> None:
        cfg = self.config
        rewards = torch.tensor([r for _, r in self._batch], dtype=torch.float64)
        if self.baseline is None:
            self.baseline = float(rewards.mean())
            self.reward_scale = float(rewards.std(unbiased=False)) or 1.0
        advantage = ((rewards - self.baseline) / self.reward_scale).float()
        choices = torch.tensor([c for c, _ in self._batch], dtype=torch.long)
        log_prob, entropy = self.controller.score(choices)
        loss = -(advantage * log_prob).mean() - cfg.entropy_weight * entropy.mean()
        self.controller.zero_grad()
        loss.backward()
        self.optimizer.step()
        # The baseline moves after the update, so each batch is judged against earlier batches only.
        for r in rewards.tolist():
            self.baseline = cfg.baseline_decay * self.baseline + (1 - cfg.baseline_decay) * r
        self.updates += 1
        self._batch = []

    def _extra_state(self) -> dict[str, Any]:
        return {
            "controller": {k: _tensor_to_plain(v) for k, v in self.controller.state_dict().items()},
            "optimizer": self.optimizer.state_dict(),
            "generator": self.generator.get_state().tolist(),
            "baseline": self.baseline,
            "reward_scale": self.reward_scale,
            "updates": self.updates,
            "queue": self._queue,
            "batch": [[c, r] for c, r in self._batch],
        }

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        self.controller.load_state_dict({k: _plain_to_tensor(v) for k, v in state["controller"].items()})
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(torch.tensor(state["generator"], dtype=torch.uint8))
        self.baseline = state["baseline"]
        self.reward_scale = state["reward_scale"]
        self.updates = int(state["updates"])
        self._queue = [list(c) for c in state["queue"]]
        self._batch = [(list(c), float(r)) for c, r in state["batch"]]
