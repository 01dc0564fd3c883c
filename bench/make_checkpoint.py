#!/usr/bin/env python3
"""Writes a synthetic safetensors file of int4 weights in int32 carriers, for measuring the converter.

usage: make_checkpoint.py OUT SIZE_GB   (rows x 8192 weights of 4096 rows, plus an fp16 scale each)"""
import json
import struct
import sys

import numpy as np


def main():
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
