#!/usr/bin/env python3
"""The reference for `digits bench`: the same multilayer perceptron trained the same way with
PyTorch (CPU), printing training images per second as one JSON object per batch size.

Same network (784 → hidden … → 10, PyTorch's default init, which Burn's default copies), same
data (the first 90 % of an MNIST-format training file, 9,000 images of the bundled sample),
same loss (cross-entropy), same optimizer (plain SGD), batches gathered from the images each
step as digits does. Each figure is the best of --rounds rounds of --seconds each, after a
warm-up, as `digits bench` measures.

Needs PyTorch, CPU build (not part of the tests):
    pip install torch --index-url https://download.pytorch.org/whl/cpu
Run side by side with digits: bench/compare_pytorch.sh (see the README, "Wide networks").
"""
import argparse
import gzip
import json
import os
import time

import torch
import torch.nn.functional as F


def read_images(path):
    with gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb") as f:
        data = f.read()
    count = int.from_bytes(data[4:8], "big")
    pixels = torch.frombuffer(bytearray(data[16:]), dtype=torch.uint8)
    return pixels.view(count, 784).float() / 255.0


def read_labels(path):
    with gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb") as f:
        data = f.read()
    return torch.frombuffer(bytearray(data[8:]), dtype=torch.uint8).long()


def network(hidden, activation):
    layers, inputs = [], 784
    act = {"relu": torch.nn.ReLU, "sigmoid": torch.nn.Sigmoid, "tanh": torch.nn.Tanh}[activation]
    for size in hidden:
        layers += [torch.nn.Linear(inputs, size), act()]
        inputs = size
    layers.append(torch.nn.Linear(inputs, 10))
    return torch.nn.Sequential(*layers)


def training_images(folder):
    """The first 90 % of the folder's training set (digits' train split), as [N, 784] in 0..1."""
    name = lambda n: next(os.path.join(folder, f) for f in (n, n + ".gz")
                          if os.path.exists(os.path.join(folder, f)))
    images = read_images(name("train-images-idx3-ubyte"))
    labels = read_labels(name("train-labels-idx1-ubyte"))
    train = int(round(len(images) * 0.9))
    return images[:train].contiguous(), labels[:train].contiguous()


def train_sps(images, labels, make, batch, seconds):
    """Images per second over `seconds` of training, after a warm-up of a quarter of it;
    `make()` gives the (model, optimizer) pair, after the seed is set."""
    torch.manual_seed(42)
    model, optimizer = make()

    def timed(budget):
        started, done = time.perf_counter(), 0
        while True:
            order = torch.randperm(len(images))
            for start in range(0, len(order), batch):
                rows = order[start:start + batch]
                x, y = images[rows], labels[rows]
                loss = F.cross_entropy(model(x), y)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                done += len(rows)
                if time.perf_counter() - started >= budget:
                    return done / (time.perf_counter() - started)

    timed(seconds / 4)
    return timed(seconds)


def parser(doc, lr, seconds):
    """The options both reference scripts take (`doc`: the script's docstring); each adds its
    network's."""
    p = argparse.ArgumentParser(description=doc.split("\n")[0])
    p.add_argument("--data", default="data/mnist-sample", help="an MNIST-format IDX folder")
    p.add_argument("--lr", type=float, default=lr)
    p.add_argument("--batch-sizes", default="32,128")
    p.add_argument("--seconds", type=float, default=seconds)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=0, help="0: PyTorch's default")
    return p


def measure(a, make, network):
    """For each batch size, the best of a.rounds rounds of `make()`'s training, as a JSON line
    that names the `network` (a dict of its sizes)."""
    if a.threads:
        torch.set_num_threads(a.threads)
    images, labels = training_images(a.data)
    for batch in [int(b) for b in a.batch_sizes.split(",")]:
        best = max(train_sps(images, labels, make, batch, a.seconds)
                   for _ in range(a.rounds))
        print(json.dumps({
            "framework": f"pytorch {torch.__version__}",
            "threads": torch.get_num_threads(),
            **network,
            "batch_size": batch,
            "train_sps": round(best, 1),
        }), flush=True)


def main():
    p = parser(__doc__, lr=0.1, seconds=1.0)
    p.add_argument("--hidden", default="16,16", help="hidden sizes, e.g. 512,512")
    p.add_argument("--activation", default="relu")
    a = p.parse_args()
    hidden = [int(h) for h in a.hidden.split(",")]

    def make():
        model = network(hidden, a.activation)
        return model, torch.optim.SGD(model.parameters(), lr=a.lr)

    measure(a, make, {"hidden": hidden})


if __name__ == "__main__":
    main()
