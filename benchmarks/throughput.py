"""Training throughput of the engine's trainer against a naive PyTorch loop, on the same network in the same
run.

The network is the DARTS-V2 proxy (C=16, 8 cells: ModelConfig(channels=16, cells_per_stage=2)). The naive loop
is what a tutorial writes: torchvision transforms on the CPU in DataLoader workers, fp32, eager, one process.
The engine runs `--processes` candidates at once on the device (each a separate process, as Ray trials are)
and reports their aggregate images/s over the span in which all of them trained.

    python benchmarks/throughput.py --data PATH                      # on the GPU machine
    python benchmarks/throughput.py --synthetic --tiny --device cpu  # a quick sanity run on a CPU
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import torch
from torch import nn

import search_spaces
from nas.runs.trial import CandidateStatus
from nas.train.data import Splits, load_splits
from nas.train.device import resolve_device
from nas.train.presets import Preset, TrainConfig
from nas.train.trainer import train_candidate
from search_spaces import ModelConfig
from search_spaces.known_cells import DARTS_V2


def options(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", help="CIFAR-10 folder (see nas final --help); default: torchvision download")
    p.add_argument("--synthetic", action="store_true", help="random images instead of CIFAR-10 (speed only)")
    p.add_argument("--device", default=None, help="cuda or cpu (default: cuda if available)")
    p.add_argument("--batch-size", type=int, default=512)
    p.add_argument(
        "--epochs", type=int, default=2, help="engine epochs (the first includes warm-up and capture)"
    )
    p.add_argument("--naive-epochs", type=int, default=1)
    p.add_argument(
        "--processes", type=int, default=1, help="engine candidates training at once on the device"
    )
    p.add_argument(
        "--no-cuda-graph", action="store_true", help="engine steps eagerly instead of a CUDA graph"
    )
    p.add_argument("--no-naive", action="store_true", help="skip the naive loop")
    p.add_argument("--workers", type=int, default=8, help="DataLoader workers of the naive loop")
    p.add_argument(
        "--train-images", type=int, default=None, help="train on this many images (default: 45,000)"
    )
    p.add_argument("--channels", type=int, default=16)
    p.add_argument("--cells-per-stage", type=int, default=2)
    p.add_argument(
        "--tiny", action="store_true", help="CPU sanity sizes: C=4, 1 cell/stage, 512 images, batch 64"
    )
    args = p.parse_args(argv)
    if args.tiny:
        args.channels, args.cells_per_stage, args.train_images, args.batch_size = 4, 1, 512, 64
        args.workers = min(args.workers, 2)
    return args


def get_data(args: argparse.Namespace) -> Splits:
    if args.synthetic:
        rng = np.random.default_rng(0)
        n = args.train_images or 45_000
        x = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
        y = np.arange(n, dtype=np.int64) % 10
        return Splits(x, y, x[:1000], y[:1000], None, None, source="synthetic", seed=0)
    return load_splits(args.data, seed=0, train_subset=args.train_images, val_subset=1000)


def preset(args: argparse.Namespace) -> Preset:
    return Preset(
        "throughput",
        ModelConfig(channels=args.channels, cells_per_stage=args.cells_per_stage),
        TrainConfig(
            epochs=args.epochs, batch_size=args.batch_size, lr=0.1, cuda_graph=not args.no_cuda_graph
        ),
    )


def build(args: argparse.Namespace) -> nn.Module:
    return search_spaces.make_space("nasnet").build(DARTS_V2, preset(args).model)


def engine_worker(args, data, device, barrier, queue) -> None:
    barrier.wait()  # all candidates start together, after each has loaded its data
    start = time.time()
    r = train_candidate(lambda: build(args), preset(args), data, device=device, seed=0)
    queue.put((start, time.time(), r.record()))


def run_engine(args: argparse.Namespace, data: Splits, device: str) -> dict:
    if args.processes == 1:
        start = time.time()
        r = train_candidate(lambda: build(args), preset(args), data, device=device, seed=0)
        results = [(start, time.time(), r.record())]
    else:
        ctx = mp.get_context("spawn")  # CUDA cannot be used in forked children
        barrier, queue = ctx.Barrier(args.processes), ctx.Queue()
        procs = [
            ctx.Process(target=engine_worker, args=(args, data, device, barrier, queue))
            for _ in range(args.processes)
        ]
        for proc in procs:
            proc.start()
        results = [queue.get() for _ in procs]
        for proc in procs:
            proc.join()
    failed = [rec["error"] for _, _, rec in results if rec["status"] != CandidateStatus.COMPLETED]
    if failed:
        raise SystemExit(f"engine candidate failed: {failed[0]}")
    per_process = [rec["images_per_s"] for _, _, rec in results]
    span = max(end for _, end, _ in results) - min(start for start, _, _ in results)
    images = sum(
        rec["epochs"] * (len(data.train_labels) // rec["batch_size"]) * rec["batch_size"]
        for _, _, rec in results
    )
    return {
        "per_process_images_per_s": per_process,
        "sum_images_per_s": sum(per_process),
        "wall_images_per_s": images / span,
        "cuda_graph": [rec["cuda_graph"] for _, _, rec in results],
    }


class ArrayDataset(torch.utils.data.Dataset):
    def __init__(self, images: np.ndarray, labels: np.ndarray, transform):
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        from PIL import Image

        return self.transform(Image.fromarray(self.images[i])), int(self.labels[i])


def run_naive(args: argparse.Namespace, data: Splits, device: torch.device) -> float:
    """Images/s of a tutorial-style loop over the last of `--naive-epochs` epochs (the first pays worker
    start-up when there is only one, which is counted)."""
    import torchvision.transforms as T

    from nas.train.augment import CIFAR10_MEAN, CIFAR10_STD

    transform = T.Compose(
        [
            T.RandomCrop(32, padding=4),
            T.RandomHorizontalFlip(),
            T.ToTensor(),
            T.Normalize(CIFAR10_MEAN, CIFAR10_STD),
        ]
    )
    loader = torch.utils.data.DataLoader(
        ArrayDataset(data.train_images, data.train_labels, transform),
        batch_size=args.batch_size,
        shuffle=True,
        drop_last=True,
        num_workers=args.workers,
        pin_memory=device.type == "cuda",
        persistent_workers=args.workers > 0,
    )
    model = build(args).to(device).train()
    opt = torch.optim.SGD(
        model.parameters(), lr=0.1 * args.batch_size / 256, momentum=0.9, nesterov=True, weight_decay=5e-4
    )
    criterion = nn.CrossEntropyLoss(label_smoothing=0.1)
    rate = 0.0
    for _ in range(args.naive_epochs):
        start, images = time.perf_counter(), 0
        for x, y in loader:
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            opt.zero_grad(set_to_none=True)
            loss = criterion(model(x), y)
            loss.backward()
            opt.step()
            images += len(y)
        loss.item()
        rate = images / (time.perf_counter() - start)
    return rate


def main(argv: list[str] | None = None) -> None:
    args = options(argv)
    device = resolve_device(args.device)
    print(
        "device: "
        f"{torch.cuda.get_device_name(device) if device.type == 'cuda' else platform.processor() or 'cpu'}"
        f" | torch {torch.__version__} | python {platform.python_version()} | {mp.cpu_count()} CPUs"
    )
    data = get_data(args)
    print(
        f"network: DARTS-V2 C={args.channels}, {3 * args.cells_per_stage + 2} cells | "
        f"batch {args.batch_size} | "
        f"{len(data.train_labels)} training images ({data.source}) | {args.processes} engine process(es) | "
        f"CUDA graph {'off' if args.no_cuda_graph else 'on where capture works'}"
    )
    engine = run_engine(args, data, str(device))
    print(
        f"engine: {engine['sum_images_per_s']:,.0f} img/s of training-step time, summed over processes "
        f"(per process: {', '.join(f'{r:,.0f}' for r in engine['per_process_images_per_s'])}; "
        f"CUDA graph used: {engine['cuda_graph']})"
    )
    print(
        f"engine end to end: {engine['wall_images_per_s']:,.0f} img/s over the span from the common start "
        "to the last finish (model build, FLOP count, data upload, capture and validation included)"
    )
    if not args.no_naive:
        naive = run_naive(args, data, device)
        print(
            f"naive loop (DataLoader + CPU transforms, fp32, eager, {args.workers} workers): "
            f"{naive:,.0f} img/s"
        )
        print(f"ratio engine/naive (training-step img/s): {engine['sum_images_per_s'] / naive:.2f}x")


if __name__ == "__main__":
    main()
