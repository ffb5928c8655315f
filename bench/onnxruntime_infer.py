#!/usr/bin/env python3
"""ONNX Runtime's inference speed on a `digits export --format onnx` model: test images per
second at each batch size (forward pass and argmax, as `digits bench` measures its
inference), CPU, 2 threads by default. One JSON object per batch size. Best of --rounds
rounds of --seconds each, after a warm-up.

Needs onnxruntime and numpy (interop/requirements.txt). Run beside digits with
bench/compare_onnxruntime.sh."""
import argparse
import gzip
import json
import os
import time

import numpy as np
import onnxruntime as ort

ROOT = os.path.join(os.path.dirname(__file__), "..")


def test_images():
    path = os.path.join(ROOT, "data", "mnist-sample", "t10k-images-idx3-ubyte.gz")
    with gzip.open(path) as f:
        return np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 784).astype(np.float32) / 255


def images_per_second(session, images, batch, seconds):
    name = session.get_inputs()[0].name
    done, start, i = 0, time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        if i + batch > len(images):
            i = 0
        logits = session.run(["logits"] if "logits" in [o.name for o in session.get_outputs()] else None,
                             {name: images[i:i + batch]})[0]
        logits.argmax(1)
        done, i = done + batch, i + batch
    return done / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("--batch-sizes", default="1,1024")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(args.model, options, providers=["CPUExecutionProvider"])
    images = test_images()
    for batch in map(int, args.batch_sizes.split(",")):
        images_per_second(session, images, batch, args.seconds / 4)
        best = max(images_per_second(session, images, batch, args.seconds) for _ in range(args.rounds))
        print(json.dumps({"batch_size": batch, "infer_sps": best, "threads": args.threads}))


if __name__ == "__main__":
    main()
