"""The network a digits run describes, as a torch.nn.Sequential whose state_dict keys are the
keys of `digits export --format safetensors` (hidden.0.linear.weight, ..., output.bias).

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


def build(config_path):
    """784 inputs → (Linear → norm → activation → dropout) per hidden size → Linear → 10 logits."""
    with open(config_path, "rb") as f:
        model = tomllib.load(f).get("model", {})
    blocks, inputs = [], 784
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
    return nn.Sequential(
        OrderedDict(hidden=nn.Sequential(*blocks), output=nn.Linear(inputs, 10))
    )
