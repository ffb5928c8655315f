"""The network a digits run describes, as a torch module whose state_dict keys are the keys of
`digits export --format safetensors` (conv.0.conv.weight, ..., hidden.0.linear.weight, ...,
output.bias).

    import safetensors.torch, torch
    from torch_model import build
    model = build("artifacts/mlp/run-1/config.toml")
    model.load_state_dict(safetensors.torch.load_file("artifacts/mlp/run-1/model.safetensors"))
    model.eval()
    probabilities = model(images.reshape(-1, 784)).softmax(1)   # images in 0..1

And the other way: torch.save(model.state_dict(), "model.pt"), then
`digits import model.pt --config config/mlp.toml`. Not part of digits' build: a reference.
"""

import tomllib
from collections import OrderedDict

import torch.nn as nn

ACTIVATIONS = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU, "gelu": nn.GELU}


def norm(kind, size, groups):
    """digits' model.norm: Burn's BatchNorm, LayerNorm and GroupNorm use PyTorch's ε (1e-5)."""
    return {
        "none": lambda: nn.Identity(),
        "batch": lambda: nn.BatchNorm1d(size),
        "layer": lambda: nn.LayerNorm(size),
        "group": lambda: nn.GroupNorm(groups, size),
    }[kind]()


class ChannelLayerNorm(nn.LayerNorm):
    """digits' layer normalisation of a CNN's feature maps: each pixel's channels."""

    def forward(self, x):
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


def map_norm(kind, channels, groups):
    return {
        "none": lambda: nn.Identity(),
        "batch": lambda: nn.BatchNorm2d(channels),
        "layer": lambda: ChannelLayerNorm(channels),
        "group": lambda: nn.GroupNorm(groups, channels),
    }[kind]()


def conv_block(block, inputs, model):
    """A `model.conv` entry (a channel count, or a table) as conv → norm → activation → pool."""
    block = block if isinstance(block, dict) else {"channels": block}
    k = block.get("kernel", 3)
    layers = [
        ("conv", nn.Conv2d(inputs, block["channels"], k, padding=block.get("padding", k // 2))),
        ("norm", map_norm(model.get("norm", "none"), block["channels"], model.get("norm_groups", 2))),
        ("activation", ACTIVATIONS[model.get("activation", "sigmoid")]()),
    ]
    if block.get("pool", 2) > 1:
        layers.append(("pool", nn.MaxPool2d(block.get("pool", 2))))
    if model.get("dropout", 0.0) > 0:
        layers.append(("dropout", nn.Dropout(model["dropout"])))
    return nn.Sequential(OrderedDict(layers)), block["channels"]


class Cnn(nn.Module):
    """A digits CNN: images [N, 784] → conv blocks → flattened → hidden → output."""

    def __init__(self, conv, hidden, output):
        super().__init__()
        self.conv, self.hidden, self.output = conv, hidden, output

    def forward(self, images):
        x = self.conv(images.reshape(-1, 1, 28, 28)).flatten(1)
        return self.output(self.hidden(x))


def build(config_path):
    """784 inputs → (Linear → norm → activation → dropout) per hidden size → Linear → 10 logits;
    for model.kind = "cnn", convolution blocks first."""
    with open(config_path, "rb") as f:
        model = tomllib.load(f).get("model", {})
    conv, channels, side = [], 1, 28
    if model.get("kind", "mlp") == "cnn":
        for block in model["conv"]:
            layer, channels = conv_block(block, channels, model)
            conv.append(layer)
            k = layer.conv.kernel_size[0]
            side = (side + 2 * layer.conv.padding[0] - k + 1) // (layer.pool.kernel_size if hasattr(layer, "pool") else 1)
    blocks, inputs = [], (channels * side * side if conv else 784)
    for size in model.get("hidden", [16, 16]):
        layers = [
            ("linear", nn.Linear(inputs, size)),
            ("norm", norm(model.get("norm", "none"), size, model.get("norm_groups", 2))),
            ("activation", ACTIVATIONS[model.get("activation", "sigmoid")]()),
        ]
        if model.get("dropout", 0.0) > 0:
            layers.append(("dropout", nn.Dropout(model["dropout"])))
        blocks.append(nn.Sequential(OrderedDict(layers)))
        inputs = size
    if conv:
        return Cnn(nn.Sequential(*conv), nn.Sequential(*blocks), nn.Linear(inputs, 10))
    return nn.Sequential(
        OrderedDict(hidden=nn.Sequential(*blocks), output=nn.Linear(inputs, 10))
    )
