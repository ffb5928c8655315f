#!/usr/bin/env python3
"""The PyTorch round trip, both ways, on the seed network (784-16-16-10, sigmoid,
cross-entropy, SGD at 0.2, batch 32, 20 epochs, the bundled sample: 9,000 training images,
the 10,000 test images):

1. PyTorch trains it (interop/torch_model.py's module), saves its state_dict with torch.save;
   `digits import` reads it and `digits eval` tests it: the two accuracies side by side.
2. digits trains it (`digits train`), `digits export --format safetensors` writes it, PyTorch
   loads it with load_state_dict and tests it: the two accuracies side by side.

Needs PyTorch (pip install torch safetensors) and a built digits (cargo build --release).
Not a test (no PyTorch in CI): a check anyone can rerun. Prints a Markdown table.

    python bench/pytorch_roundtrip.py [--epochs 20] [--digits target/release/digits]
"""
import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile

import torch
from safetensors.torch import load_file

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "interop"))
from torch_model import build  # noqa: E402

SAMPLE = os.path.join(ROOT, "data", "mnist-sample")
CONFIG = os.path.join(ROOT, "config", "mlp.toml")


def idx(name, offset):
    with gzip.open(os.path.join(SAMPLE, name)) as f:
        return torch.frombuffer(bytearray(f.read()[offset:]), dtype=torch.uint8)


def accuracy(model, images, labels):
    model.eval()
    with torch.no_grad():
        return (model(images).argmax(1) == labels).float().mean().item()


def digits(binary, *args):
    result = subprocess.run([binary, *args], cwd=ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"digits {' '.join(args)} failed:\n{result.stderr}")
    return result.stdout


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--digits", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "digits"))
    args = parser.parse_args()
    torch.manual_seed(42)
    train_x = idx("train-images-idx3-ubyte.gz", 16).view(-1, 784).float()[:9000] / 255
    train_y = idx("train-labels-idx1-ubyte.gz", 8).long()[:9000]
    test_x = idx("t10k-images-idx3-ubyte.gz", 16).view(-1, 784).float() / 255
    test_y = idx("t10k-labels-idx1-ubyte.gz", 8).long()
    work = tempfile.mkdtemp(prefix="digits-roundtrip-")

    # 1. PyTorch → digits.
    model = build(CONFIG)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.2)
    for _ in range(args.epochs):
        model.train()
        for batch in torch.randperm(len(train_x)).split(32):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(train_x[batch]), train_y[batch]).backward()
            optimizer.step()
    torch_accuracy = accuracy(model, test_x, test_y)
    pt = os.path.join(work, "pytorch.pt")
    torch.save(model.state_dict(), pt)
    imported = os.path.join(work, "imported")
    digits(args.digits, "import", pt, "--config", CONFIG, "--set", "data.source=sample", "--out", imported)
    digits(args.digits, "eval", imported)
    with open(os.path.join(imported, "eval.json")) as f:
        digits_on_torch = json.load(f)["accuracy"]

    # 2. digits → PyTorch.
    trained = os.path.join(work, "trained")
    digits(args.digits, "train", CONFIG, "--set", "data.source=sample", "--set", f"training.epochs={args.epochs}", "--out", trained)
    digits(args.digits, "export", trained, "--format", "safetensors")
    with open(os.path.join(trained, "summary.json")) as f:
        digits_accuracy = json.load(f)["test"]["accuracy"]
    model = build(os.path.join(trained, "config.toml"))
    model.load_state_dict(load_file(os.path.join(trained, "model.safetensors")))
    torch_on_digits = accuracy(model, test_x, test_y)

    pct = lambda v: f"{100 * v:.2f} %"  # noqa: E731
    print(f"PyTorch {torch.__version__}, {args.epochs} epochs, 10,000 test images\n")
    print("| trained by | its own test accuracy | the other tool's, on the same weights |")
    print("|---|---|---|")
    print(f"| PyTorch (`.pt` → `digits import`, `digits eval`) | {pct(torch_accuracy)} | {pct(digits_on_torch)} |")
    print(f"| digits (`digits export --format safetensors` → `load_state_dict`) | {pct(digits_accuracy)} | {pct(torch_on_digits)} |")


if __name__ == "__main__":
    main()
