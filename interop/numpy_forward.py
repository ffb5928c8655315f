"""digits' forward pass in numpy (float64), from a safetensors file in PyTorch's layout: the
independent check that an export holds the standard network. Inference mode (BatchNorm's
running statistics, no dropout)."""

import math

import numpy as np

ERF = np.vectorize(math.erf)
ACTIVATIONS = {
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    "tanh": np.tanh,
    "relu": lambda x: np.maximum(x, 0),
    "gelu": lambda x: 0.5 * x * (1 + ERF(x / math.sqrt(2))),
}


def normalise(x, w, key, kind, groups, eps=1e-5):
    if kind == "batch":
        x = (x - w[key + "running_mean"]) / np.sqrt(w[key + "running_var"] + eps)
    elif kind in ("layer", "group"):
        g = x.reshape(len(x), 1 if kind == "layer" else groups, -1)
        x = ((g - g.mean(2, keepdims=True)) / np.sqrt(g.var(2, keepdims=True) + eps)).reshape(x.shape)
    return x * w[key + "weight"] + w[key + "bias"] if kind != "none" else x


def forward(w, model, images):
    """Probabilities [N, 10] for images [N, 784] in 0..1; `w` maps keys to arrays, `model` is
    the config's [model] table."""
    w = {k: v.astype(np.float64) for k, v in w.items()}
    x = images.astype(np.float64)
    for i in range(len(model["hidden"])):
        x = x @ w[f"hidden.{i}.linear.weight"].T + w[f"hidden.{i}.linear.bias"]
        x = normalise(x, w, f"hidden.{i}.norm.", model["norm"], model.get("norm_groups", 2))
        x = ACTIVATIONS[model["activation"]](x)
    logits = x @ w["output.weight"].T + w["output.bias"]
    e = np.exp(logits - logits.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)
