#!/usr/bin/env python3
"""numpy's vectorized int4 packing, timed on the shapes of scripts/bench; prints JSON on stdout.

ND is the one-liner people write: (w[:, 0::2] & 15) | ((w[:, 1::2] & 15) << 4). NZ pads that to whole
16x32-byte blocks and reorders it with reshape/transpose, the usual numpy way."""
import json
import sys
import time

import numpy as np

SHAPES = [(4096, 4096), (4096, 14336), (14336, 4096), (17, 72)]


def pack_nd(w):
    return ((w[:, 0::2] & 15) | ((w[:, 1::2] & 15) << 4)).astype(np.uint8)


def pack_nz(w):
    b = pack_nd(w)
    k, nb = b.shape
    k1, n1 = -(-k // 16), -(-nb // 32)
    padded = np.zeros((k1 * 16, n1 * 32), np.uint8)
    padded[:k, :nb] = b
    return np.ascontiguousarray(padded.reshape(k1, 16, n1, 32).transpose(2, 0, 1, 3))


def check():
    # The spec's worked example, so that the timed code is known to compute the right bytes.
    w = np.array([[1, -2, 3, -4, 5, -6, 7, -8], [0, 1, 2, 3, 4, 5, 6, 7]], np.int32)
    assert pack_nd(w).tobytes() == bytes([0xE1, 0xC3, 0xA5, 0x87, 0x10, 0x32, 0x54, 0x76])
    nz = pack_nz(w).tobytes()
    assert len(nz) == 512 and nz[0:4] == bytes([0xE1, 0xC3, 0xA5, 0x87]) and nz[32:36] == bytes([0x10, 0x32, 0x54, 0x76])
    assert sum(1 for x in nz if x) == 8


def timed(fn, w, min_seconds):
    times = []
    start = time.perf_counter()
    while len(times) < 3 or (time.perf_counter() - start < min_seconds and len(times) < 1000):
        t0 = time.perf_counter()
        fn(w)
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2]


def main():
    check()
    rng = np.random.default_rng(42)
    results = []
    for rows, cols in SHAPES:
        w = rng.integers(-8, 8, size=(rows, cols), dtype=np.int32)
        for layout, fn in (("nd", pack_nd), ("nz", pack_nz)):
            seconds = timed(fn, w, 0.2 if rows * cols < 1 << 20 else 3.0)
            results.append({"layout": layout, "rows": rows, "cols": cols, "median_ms": seconds * 1e3})
    json.dump({"numpy_version": np.__version__, "results": results}, sys.stdout, indent=1)


if __name__ == "__main__":
    main()
