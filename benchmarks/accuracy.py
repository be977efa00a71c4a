"""Test accuracy of DARTS-V2 at C=24, 14 cells (ModelConfig(channels=24, cells_per_stage=4)) after a
time-limited final training on all 50,000 training images, through the engine's trainer.

    python benchmarks/accuracy.py --data PATH --epochs 20 --time-limit-s 600     # on the GPU machine
    python benchmarks/accuracy.py --data PATH --tiny --device cpu                # a quick sanity run on a CPU

Training stops after the first epoch that ends past --time-limit-s (the schedule is planned for --epochs, so
set --epochs to what fits); the script says how many epochs ran.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import torch

import search_spaces
from nas.train.data import load_splits, stratified_sample
from nas.train.device import resolve_device
from nas.train.presets import PRESETS, Preset
from nas.train.trainer import evaluate, train_candidate
from search_spaces import ModelConfig
from search_spaces.known_cells import DARTS_V2


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", help="CIFAR-10 folder (see nas final --help); default: torchvision download")
    p.add_argument("--device", default=None)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=512)
    p.add_argument("--time-limit-s", type=float, default=600.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--tiny", action="store_true", help="CPU sanity sizes: C=4, 1 cell/stage, 1 epoch, 1,024 images"
    )
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    device = resolve_device(args.device)

    base = PRESETS["final"]
    model = ModelConfig(channels=24, cells_per_stage=4, drop_path=base.model.drop_path, auxiliary=True)
    train = dataclasses.replace(base.train, epochs=args.epochs, batch_size=args.batch_size)
    if args.tiny:
        model = dataclasses.replace(model, channels=4, cells_per_stage=1)
        train = dataclasses.replace(train, epochs=1, batch_size=128, train_subset=1024, test_subset=1000)
    preset = Preset("accuracy-benchmark", model, train)
    data = load_splits(
        args.data, seed=args.seed, val_size=0, train_subset=train.train_subset, include_test=True
    )
    space = search_spaces.make_space("nasnet")

    print(
        f"device: {torch.cuda.get_device_name(device) if device.type == 'cuda' else 'cpu'} | torch "
        f"{torch.__version__} | python {platform.python_version()} | data {data.source}"
    )
    start = time.perf_counter()
    result = train_candidate(
        lambda: space.build(DARTS_V2, model),
        preset,
        data,
        device=device,
        seed=args.seed,
        time_limit_s=args.time_limit_s,
    )
    if result.state_dict is None:
        raise SystemExit(f"training failed: {result.error}")
    net = space.build(DARTS_V2, model)
    net.load_state_dict(result.state_dict)
    test_x, test_y = data.test_images, data.test_labels
    if train.test_subset:
        keep = stratified_sample(test_y, train.test_subset, np.random.default_rng(args.seed))
        test_x, test_y = test_x[keep], test_y[keep]
    plain = evaluate(net, test_x, test_y, device=device, batch_size=train.eval_batch_size)
    tta = evaluate(net, test_x, test_y, device=device, batch_size=train.eval_batch_size, tta=True)
    print(
        f"DARTS-V2 C={model.channels}, {3 * model.cells_per_stage + 2} cells, {result.params:,} params: "
        f"test accuracy {plain:.4f} (flip TTA {tta:.4f}) on {len(test_y)} images after {result.epochs}/"
        f"{train.epochs} epochs ({result.status}), {time.perf_counter() - start:.0f} s wall, "
        f"{result.images_per_s:,.0f} train img/s, CUDA graph {result.cuda_graph}, seed {args.seed}"
    )


if __name__ == "__main__":
    main()
