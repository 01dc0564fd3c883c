#!/usr/bin/env python3
"""The Python package timed (run with a Python that has int4pack installed): the cost of one call on a
16x64 weight, and a 4096x14336 pack through Python next to numpy's vectorized pack of the same array:
with check=False (what the C++ operator does: CANN masks, it does not check) and with the default check
(every value checked in the same read). Prints JSON on stdout."""
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import int4pack  # noqa: E402
import numpy_pack  # noqa: E402


def median_seconds(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2]


def per_call_us(fn, calls=2000, rounds=15):
    """Median over rounds of the mean time of `calls` back-to-back calls."""
    return median_seconds(lambda: [fn() for _ in range(calls)], rounds) / calls * 1e6


def main():
    rng = np.random.default_rng(42)
    small = rng.integers(-8, 8, size=(16, 64), dtype=np.int32)
    big = rng.integers(-8, 8, size=(4096, 14336), dtype=np.int32)
    for layout in ("nd", "nz"):  # the timed calls give the right bytes
        assert int4pack.pack(big, format=layout).tobytes() == getattr(numpy_pack, "pack_" + layout)(big).tobytes()
    result = {"isa": int4pack.isa(), "threads": int4pack.num_threads(),
              "small_16x64_us": {layout: per_call_us(lambda: int4pack.pack(small, format=layout)) for layout in ("nd", "nz")},
              "big_4096x14336_ms": {}, "checked_4096x14336_ms": {}, "numpy_4096x14336_ms": {}}
    for layout in ("nd", "nz"):
        result["big_4096x14336_ms"][layout] = median_seconds(lambda: int4pack.pack(big, format=layout, check=False),
                                                             15) * 1e3
        result["checked_4096x14336_ms"][layout] = median_seconds(lambda: int4pack.pack(big, format=layout), 15) * 1e3
        pack = getattr(numpy_pack, "pack_" + layout)
        result["numpy_4096x14336_ms"][layout] = median_seconds(lambda: pack(big), 5) * 1e3
    json.dump(result, sys.stdout, indent=1)


if __name__ == "__main__":
    main()
