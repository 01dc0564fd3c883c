#!/usr/bin/env python3
"""Writes synthetic checkpoints for measuring the converter.

usage: make_checkpoint.py OUT SIZE_GB
         a safetensors file of int4 weights in int32 carriers (4096 x 8192 each, plus an fp16 scale each)
       make_checkpoint.py --compressed-tensors DIR SIZE_GB
         a compressed-tensors pack-quantized W4A16 checkpoint (config.json, model.safetensors): layers of
         n = 4096 outputs, k = 8192 inputs, symmetric, group 128, BF16 scales; SIZE_GB of packed weights"""
import json
import struct
import sys

import numpy as np


def write_header(f, header):
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    f.write(struct.pack("<Q", len(text)))
    f.write(text)


def compressed_tensors(directory, size_gb):
    import os
    n, k, group = 4096, 8192, 128
    packed_bytes = n * k // 2
    count = max(1, int(size_gb * 1e9 // packed_bytes))
    os.makedirs(directory, exist_ok=True)
    weights = {"num_bits": 4, "type": "int", "symmetric": True, "strategy": "group", "group_size": group}
    config = {"torch_dtype": "bfloat16",
              "quantization_config": {"quant_method": "compressed-tensors", "format": "pack-quantized",
                                      "config_groups": {"group_0": {"targets": ["Linear"], "weights": weights}}}}
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(config, f)
    rng = np.random.default_rng(7)
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    parts = (("weight_packed", "I32", [n, k // 8], packed_bytes), ("weight_scale", "BF16", [n, k // group], n * k // group * 2),
             ("weight_shape", "I64", [2], 16))
    for i in range(count):
        for suffix, dtype, shape, nbytes in parts:
            header[f"model.layers.{i}.mlp.down_proj.{suffix}"] = {"dtype": dtype, "shape": shape,
                                                                 "data_offsets": [offset, offset + nbytes]}
            offset += nbytes
    words = rng.integers(0, 2**32, size=(n, k // 8), dtype=np.uint32)
    scales = (rng.random((n, k // group), dtype=np.float32) * 0.02 + 0.001).view(np.uint32) >> 16
    with open(os.path.join(directory, "model.safetensors"), "wb") as f:
        write_header(f, header)
        for i in range(count):
            f.write(np.roll(words, i, axis=1).tobytes())
            f.write(scales.astype(np.uint16).tobytes())
            f.write(np.array([n, k], dtype=np.int64).tobytes())


def main():
    if sys.argv[1] == "--compressed-tensors":
        compressed_tensors(sys.argv[2], float(sys.argv[3]))
        return
    out, size_gb = sys.argv[1], float(sys.argv[2])
    rows, cols = 4096, 8192
    count = max(1, int(size_gb * 1e9 // (rows * cols * 4)))
    rng = np.random.default_rng(7)
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for i in range(count):
        for name, dtype, shape, nbytes in ((f"layers.{i}.weight", "I32", [rows, cols], rows * cols * 4),
                                           (f"layers.{i}.scales", "F16", [rows, cols // 128], rows * cols // 64)):
            header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + nbytes]}
            offset += nbytes
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(out, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        block = rng.integers(-8, 8, size=(rows, cols), dtype=np.int32)
        scales = rng.random((rows, cols // 128), dtype=np.float32).astype(np.float16)
        for i in range(count):
            f.write(np.roll(block, i, axis=1).tobytes())
            f.write(scales.tobytes())


if __name__ == "__main__":
    main()
