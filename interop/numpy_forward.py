"""digits' forward pass in numpy (float64), from a safetensors file in PyTorch's layout: the
independent check that an export holds the standard network, MLP or CNN. Inference mode
(BatchNorm's running statistics, no dropout)."""

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


def normalise_maps(x, w, key, kind, groups, eps=1e-5):
    """A CNN's normalisation over channels: batch (running statistics), layer (each pixel's
    channels) or group (each group of channels with its pixels)."""
    if kind == "none":
        return x
    per_channel = lambda name: w[key + name][None, :, None, None]
    if kind == "batch":
        x = (x - per_channel("running_mean")) / np.sqrt(per_channel("running_var") + eps)
    elif kind == "layer":
        x = (x - x.mean(1, keepdims=True)) / np.sqrt(x.var(1, keepdims=True) + eps)
    else:
        g = x.reshape(len(x), groups, -1)
        x = ((g - g.mean(2, keepdims=True)) / np.sqrt(g.var(2, keepdims=True) + eps)).reshape(x.shape)
    return x * per_channel("weight") + per_channel("bias")


def convolve(x, weight, bias, padding):
    """Stride-1 convolution of x [N, C, H, W] with weight [O, C, k, k], zero-padded."""
    k = weight.shape[2]
    x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    patches = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(2, 3))
    return np.einsum("nchwij,ocij->nohw", patches, weight, optimize=True) + bias[None, :, None, None]


def max_pool(x, p):
    n, c, h, w = x.shape
    h, w = h // p, w // p
    return x[:, :, : h * p, : w * p].reshape(n, c, h, p, w, p).max((3, 5))


def features(w, model, x):
    """A CNN's convolution blocks on the 28×28 images, flattened; the images for an MLP."""
    if model.get("kind", "mlp") != "cnn":
        return x
    x = x.reshape(len(x), 1, 28, 28)
    for i, block in enumerate(model["conv"]):
        key = f"conv.{i}."
        x = convolve(x, w[key + "conv.weight"], w[key + "conv.bias"], block["padding"])
        x = normalise_maps(x, w, key + "norm.", model["norm"], model.get("norm_groups", 2))
        x = ACTIVATIONS[model["activation"]](x)
        if block["pool"] > 1:
            x = max_pool(x, block["pool"])
    return x.reshape(len(x), -1)


def forward(w, model, images):
    """Probabilities [N, 10] for images [N, 784] in 0..1; `w` maps keys to arrays, `model` is
    the config's [model] table (a run's resolved one: every conv block written out)."""
    w = {k: v.astype(np.float64) for k, v in w.items()}
    x = features(w, model, images.astype(np.float64))
    for i in range(len(model["hidden"])):
        x = x @ w[f"hidden.{i}.linear.weight"].T + w[f"hidden.{i}.linear.bias"]
        x = normalise(x, w, f"hidden.{i}.norm.", model["norm"], model.get("norm_groups", 2))
        x = ACTIVATIONS[model["activation"]](x)
    logits = x @ w["output.weight"].T + w["output.bias"]
    e = np.exp(logits - logits.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)
