"""What other tools make of digits' files: the checks `tests/interop.rs` runs (CI installs the
clients from PyPI: numpy, safetensors, onnx, onnxruntime, tensorboard; no PyTorch).

    check_clients.py exported RUN_DIR PROBABILITIES   # ONNX's checker, ONNX Runtime, numpy, TensorBoard agree
    check_clients.py foreign CONFIG OUT.safetensors   # weights made by numpy, for `import`
    check_clients.py foreign CONFIG OUT.pt            # the same as torch.save writes an
                                                      # nn.Sequential's (keys 0., 2., 4., …)

PROBABILITIES: digits' own probabilities on the 10,000 test images, raw little-endian f32
[10000, 10]. Prints one JSON line; exits 1 with the reason when a check fails."""

import csv
import gzip
import json
import os
import sys
import tomllib

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from numpy_forward import forward  # noqa: E402

SAMPLE = os.path.join(os.path.dirname(__file__), "..", "data", "mnist-sample")
TOLERANCE = 1e-5


def idx(name, offset):
    with gzip.open(os.path.join(SAMPLE, name)) as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)


def test_set():
    images = idx("t10k-images-idx3-ubyte.gz", 16).reshape(-1, 784).astype(np.float32) / 255
    return images, idx("t10k-labels-idx1-ubyte.gz", 8).astype(np.int64)


def agree(name, theirs, ours):
    """Same argmax on every image, probabilities within TOLERANCE."""
    differ = int((theirs.argmax(1) != ours.argmax(1)).sum())
    worst = float(np.abs(theirs - ours).max())
    if differ or worst > TOLERANCE:
        sys.exit(f"{name}: {differ} argmax differ, largest probability gap {worst:.3g}")
    return {"argmax_differ": differ, "max_abs_diff": worst}


def onnx_checked(path):
    """ONNX's own checker (full: shapes inferred through every node), the declared inputs and
    outputs, and the config in the metadata."""
    import onnx

    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    ports = [(p.name, [d.dim_param or d.dim_value for d in p.type.tensor_type.shape.dim])
             for p in list(model.graph.input) + list(model.graph.output)]
    expected = [("images", ["batch", 784]), ("logits", ["batch", 10]), ("probabilities", ["batch", 10])]
    if ports != expected:
        sys.exit(f"onnx: inputs and outputs {ports}, expected {expected}")
    metadata = {p.key: p.value for p in model.metadata_props}
    with open(os.path.join(os.path.dirname(path), "config.toml")) as f:
        if metadata.get("digits_config") != f.read():
            sys.exit("onnx: the metadata's digits_config is not the run's config.toml")
    return sorted({node.op_type for node in model.graph.node})


def onnx_runtime(path, images):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    logits, probabilities = session.run(None, {session.get_inputs()[0].name: images})
    softmax = np.exp(logits - logits.max(1, keepdims=True))
    agree("onnx logits vs probabilities", softmax / softmax.sum(1, keepdims=True), probabilities)
    return probabilities


def tensorboard(run_dir):
    """Every scalar of metrics.csv, and the test scores of summary.json, as TensorBoard reads
    them (float32 in the event files)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    read = {}
    for split in ("train", "valid", "test"):
        acc = EventAccumulator(os.path.join(run_dir, "tensorboard", split), size_guidance={"scalars": 0})
        acc.Reload()
        for tag in acc.Tags()["scalars"]:
            for event in acc.Scalars(tag):
                read[(event.step, split, tag)] = event.value
    expected = {}
    with open(os.path.join(run_dir, "metrics.csv")) as f:
        for row in csv.DictReader(f):
            for column, value in row.items():
                if column not in ("epoch", "split", "items", "wall_seconds", "samples_per_second") and value:
                    expected[(int(row["epoch"]), row["split"], column)] = float(value)
    with open(os.path.join(run_dir, "summary.json")) as f:
        summary = json.load(f)
    last = max(epoch for epoch, _, _ in expected)
    for name in ("loss", "accuracy"):
        expected[(last, "test", name)] = summary["test"][name]
    if set(read) != set(expected):
        sys.exit(f"tensorboard: tags differ: only in events {sorted(set(read) - set(expected))[:5]}, "
                 f"only in metrics.csv/summary.json {sorted(set(expected) - set(read))[:5]}")
    for key, value in expected.items():
        if read[key] != np.float32(value):
            sys.exit(f"tensorboard: {key} is {read[key]} in the events, {value} in metrics.csv")
    return len(read)


def exported(run_dir, probabilities_path):
    from safetensors.numpy import load_file

    images, labels = test_set()
    ours = np.fromfile(probabilities_path, "<f4").reshape(-1, 10)
    with open(os.path.join(run_dir, "config.toml"), "rb") as f:
        model = tomllib.load(f)["model"]
    report = {
        "images": len(images),
        "onnx_runtime": agree("onnx runtime", onnx_runtime(os.path.join(run_dir, "model.onnx"), images), ours)
        if os.path.exists(os.path.join(run_dir, "model.onnx")) else None,
        "onnx_operators": onnx_checked(os.path.join(run_dir, "model.onnx"))
        if os.path.exists(os.path.join(run_dir, "model.onnx")) else None,
        "numpy": agree("numpy", forward(load_file(os.path.join(run_dir, "model.safetensors")), model, images), ours),
        "tensorboard_scalars": tensorboard(run_dir),
        "accuracy": float((ours.argmax(1) == labels).mean()),
    }
    print(json.dumps(report))


def foreign(config_path, out):
    """A network digits never trained: random hidden layers, the output layer fitted by least
    squares to one-hot targets on the first 5,000 test images; its accuracy on all 10,000."""
    from safetensors.numpy import save_file

    with open(config_path, "rb") as f:
        model = tomllib.load(f)["model"]
    if model.get("norm", "none") != "none":
        sys.exit(f"foreign: {config_path} has model.norm = {model['norm']}; use one without")
    rng = np.random.default_rng(7)
    images, labels = test_set()
    w, inputs = {}, 784
    for i, size in enumerate(model["hidden"]):
        w[f"hidden.{i}.linear.weight"] = rng.normal(0, 1 / np.sqrt(inputs), (size, inputs)).astype(np.float32)
        w[f"hidden.{i}.linear.bias"] = rng.normal(0, 0.1, size).astype(np.float32)
        inputs = size
    w["output.weight"] = np.zeros((10, inputs), np.float32)
    w["output.bias"] = np.zeros(10, np.float32)
    hidden = last_hidden(w, model, images[:5000])
    design = np.hstack([hidden, np.ones((len(hidden), 1))])
    fit = np.linalg.lstsq(design, np.eye(10)[labels[:5000]], rcond=None)[0]
    w["output.weight"] = fit[:-1].T.astype(np.float32).copy()
    w["output.bias"] = fit[-1].astype(np.float32).copy()
    accuracy = (forward(w, model, images).argmax(1) == labels).mean()
    if out.endswith(".pt"):
        save_sequential_pt(w, len(model["hidden"]), out)
    else:
        save_file(w, out)
    print(json.dumps({"accuracy": float(accuracy), "images": len(images)}))


def save_sequential_pt(w, hidden_layers, out):
    """`torch.save(model.state_dict(), out)` of nn.Sequential(Linear, act, Linear, act, …,
    Linear), written without PyTorch: keys 0., 2., 4., …; torch.save's zip of a pickled
    OrderedDict whose tensors torch._utils._rebuild_tensor_v2 makes from float storages."""
    import collections
    import io
    import pickle
    import types
    import zipfile

    names = [f"hidden.{i}.linear" for i in range(hidden_layers)] + ["output"]
    # The two names the pickle refers to, as importable objects (pickle checks them).
    torch, utils = types.ModuleType("torch"), types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args):
        raise NotImplementedError

    class FloatStorage:
        pass

    _rebuild_tensor_v2.__module__, _rebuild_tensor_v2.__qualname__ = "torch._utils", "_rebuild_tensor_v2"
    FloatStorage.__module__, FloatStorage.__qualname__ = "torch", "FloatStorage"
    utils._rebuild_tensor_v2, torch.FloatStorage, torch._utils = _rebuild_tensor_v2, FloatStorage, utils
    sys.modules["torch"], sys.modules["torch._utils"] = torch, utils

    class Storage:
        def __init__(self, key, numel):
            self.key, self.numel = key, numel

    class Tensor:
        def __init__(self, key, shape):
            self.key, self.shape = key, shape

        def __reduce__(self):
            stride = tuple(int(np.prod(self.shape[i + 1:])) for i in range(len(self.shape)))
            storage = Storage(self.key, int(np.prod(self.shape)))
            return _rebuild_tensor_v2, (storage, 0, self.shape, stride, False, collections.OrderedDict())

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, Storage):
                return ("storage", FloatStorage, obj.key, "cpu", obj.numel)
            return None

    state, storages = collections.OrderedDict(), {}
    for layer, name in enumerate(names):
        for part in ("weight", "bias"):
            key = str(len(storages))
            array = w[f"{name}.{part}"]
            state[f"{2 * layer}.{part}"] = Tensor(key, tuple(array.shape))
            storages[key] = array.astype("<f4").tobytes()
    pickled = io.BytesIO()
    Pickler(pickled, protocol=2).dump(state)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("archive/data.pkl", pickled.getvalue())
        archive.writestr("archive/byteorder", "little")
        archive.writestr("archive/version", "3\n")
        for key, data in storages.items():
            archive.writestr(f"archive/data/{key}", data)


def last_hidden(w, model, images):
    """The last hidden layer's outputs (a network without normalisation)."""
    from numpy_forward import ACTIVATIONS

    x = images.astype(np.float64)
    for i in range(len(model["hidden"])):
        x = ACTIVATIONS[model["activation"]](x @ w[f"hidden.{i}.linear.weight"].T + w[f"hidden.{i}.linear.bias"])
    return x


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "exported":
        exported(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 4 and sys.argv[1] == "foreign":
        foreign(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
