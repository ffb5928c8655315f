#!/usr/bin/env python3
"""The reference for `digits bench` on a CNN: config/cnn.toml's network trained the same way
with PyTorch (CPU), printing training images per second as one JSON object per batch size.

Same network (1×28×28 → per block: 3×3 convolution padded to keep the side, ReLU, 2×2 max
pooling → the dense layers → 10; PyTorch's default init, which Burn's default copies), same
data (9,000 images of the bundled sample, as pytorch_mlp.py reads them), same loss
(cross-entropy), same optimizer (Adam at 1e-3), no augmentation (the digits side is run with
`data.augment={}`). Each figure is the best of --rounds rounds of --seconds each, after a
warm-up, as `digits bench` measures.

Needs PyTorch, CPU build (not part of the tests):
    pip install torch --index-url https://download.pytorch.org/whl/cpu
Run side by side with digits: NETWORK=cnn bench/compare_pytorch.sh (docs/EXPERIMENTS.md,
"Convolutional networks").
"""
import torch

from pytorch_mlp import measure, parser


def network(conv, hidden):
    layers, channels, side = [], 1, 28
    for out in conv:
        layers += [torch.nn.Conv2d(channels, out, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2)]
        channels, side = out, side // 2
    layers.append(torch.nn.Flatten())
    inputs = channels * side * side
    for size in hidden:
        layers += [torch.nn.Linear(inputs, size), torch.nn.ReLU()]
        inputs = size
    layers.append(torch.nn.Linear(inputs, 10))
    return torch.nn.Sequential(torch.nn.Unflatten(1, (1, 28, 28)), *layers)


def main():
    p = parser(__doc__, lr=1e-3, seconds=3.0)
    p.add_argument("--conv", default="32,64", help="channels per convolution block")
    p.add_argument("--hidden", default="128", help="dense hidden sizes after the blocks")
    a = p.parse_args()
    conv = [int(c) for c in a.conv.split(",")]
    hidden = [int(h) for h in a.hidden.split(",") if h]

    def make():
        model = network(conv, hidden)
        return model, torch.optim.Adam(model.parameters(), lr=a.lr)

    measure(a, make, {"conv": conv, "hidden": hidden})


if __name__ == "__main__":
    main()
