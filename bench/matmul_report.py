#!/usr/bin/env python3
"""Turns one run of matmul_bench (Google Benchmark JSON) into issue 13's table of ratios: printed, and
returned as a dict for bench-results.json.

usage: matmul_report.py MATMUL_JSON [OUT_JSON]"""
import json
import re
import sys

UNIT_TO_MS = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}


def load(path):
    """Each benchmark's median time in ms, and the median reference_over_ours of the paired ones (paired.h)."""
    with open(path) as f:
        data = json.load(f)
    times, paired = {}, {}
    aggregated = any(b.get("run_type") == "aggregate" for b in data["benchmarks"])
    for b in data["benchmarks"]:
        if b.get("error_occurred") or (aggregated and b.get("aggregate_name") != "median"):
            continue
        name = re.split(r"/(?:real_time|min_time|iterations)", b["run_name"])[0]
        times[name] = b["real_time"] * UNIT_TO_MS[b["time_unit"]]
        if "reference_over_ours" in b:
            paired[name] = b
    return times, paired


def report(path):
    t, paired = load(path)
    rows = []

    def paired_or_separate(ours, separate, pair, time_ratio=False):
        """(ours ms, ratio, the paired entry or None): the paired benchmark's figures where it ran, else the
        separate medians'. A time ratio (ours / reference) is the inverse of reference_over_ours."""
        p = paired.get(pair) if pair else None
        if p is None:
            return ours, separate, None
        return p["ours_ms"], 1 / p["reference_over_ours"] if time_ratio else p["reference_over_ours"], p

    def row(name, case, ms_ref, ref_name, target=None, prefix="wqbmm/", pair=None):
        """A ratio of separate medians; with `pair` (a paired benchmark) the paired ratio stands, the other beside it."""
        ours = t.get(prefix + case)
        ref = t.get(ms_ref)
        if ours is None or ref is None:
            return
        separate = ref / ours
        ours, ratio, p = paired_or_separate(ours, separate, pair)
        ok = None if target is None else ratio >= target
        rows.append({"case": name, "ms": ours, "against": ref_name, "ratio": ratio, "target": target, "met": ok,
                     "paired": p is not None, "ratio_of_separate_medians": separate})
        mark = "" if ok is None else ("  yes" if ok else "  NO")
        note = f"  [paired; separate medians {separate:.2f}]" if p else ""
        print(f"{name:<44} {ours:>9.3f} ms   {ref_name:<34} {ratio:>7.2f}{'' if target is None else f'  (target {target})'}"
              f"{mark}{note}")

    print("aclnnWeightQuantBatchMatmulV2 (through the CANN API, all threads; FLOAT16 x, int4 per-group 128 unless said):")
    print(f"{'case':<44} {'ours':>12}   {'measured against':<34} {'ratio':>7}")
    print("Decode reads its weight from memory: matmul_bench rotates it over copies that together exceed twice the "
          "last-level cache\n(a model's layers at decode); 'in cache' repeats one copy, which this host's L3 may hold.\n"
          "'paired': ours and the reference timed in turns, the median of the pairs' ratios (bench/paired.h).")
    for layout in ("nd", "nz"):
        for m, target in ((1, 0.8), (16, 0.6)):
            case = f"f16/int4_{layout}/group128/m{m}"
            row(f"decode m={m}, {layout.upper()}" + (" (k 8192, n 14336)" if m == 1 else ""), case,
                "cold/read_only/8192x14336", "read-only pass over the packed bytes", target, prefix="cold/wqbmm/",
                pair="paired/cold/" + case)
        row(f"decode m=1, {layout.upper()}, in cache", f"f16/int4_{layout}/group128/m1", "read_only/8192x14336",
            "read-only pass, in cache")
        row(f"decode m=16, {layout.upper()}, in cache", f"f16/int4_{layout}/group128/m16", "read_only/8192x14336",
            "read-only pass, in cache")
        row(f"decode m=1, {layout.upper()}", f"f16/int4_{layout}/group128/m1", "plain_loop/m1",
            "plain one-thread dequantize loop", 5.0)
        for m in (256, 1024):
            row(f"prefill m={m}, {layout.upper()} (k 4096, n 4096)", f"f16/int4_{layout}/group128/m{m}", f"sgemm/m{m}",
                "OpenBLAS sgemm, dequantized fp32", 1.0, pair=f"paired/sgemm/f16/int4_{layout}/group128/m{m}")
    for case in ("int4_nd/group128/m1", "int4_nz/group128/m1", "int4_nd/group128/m16", "int4_nd/group128/m256",
                 "int4_nd/group128/m1024", "int4_nz/group128/m256"):
        f16, bf16 = t.get("wqbmm/f16/" + case), t.get("wqbmm/bf16/" + case)
        if f16 and bf16:
            separate = bf16 / f16
            bf16, ratio, p = paired_or_separate(bf16, separate, "paired/bf16_vs_f16/bf16/" + case, time_ratio=True)
            rows.append({"case": "bf16 " + case, "ms": bf16, "against": "the FLOAT16 case", "ratio": ratio,
                         "target": 1.2, "met": ratio <= 1.2, "paired": p is not None,
                         "ratio_of_separate_medians": separate})
            print(f"{'BF16 ' + case:<44} {bf16:>9.3f} ms   {'the FLOAT16 case (time ratio)':<34} {ratio:>7.2f}"
                  f"  (target 1.2)  {'yes' if ratio <= 1.2 else 'NO'}"
                  + (f"  [paired; separate medians {separate:.2f}]" if p else ""))
    f16, bf16 = t.get("wqbmm/f16/int8_nd/channel/m1"), t.get("wqbmm/bf16/int8_nd/channel/m1")
    if f16 and bf16:
        rows.append({"case": "bf16 int8_nd/channel/m1", "ms": bf16, "against": "the FLOAT16 case", "ratio": bf16 / f16})
        print(f"{'BF16 INT8 ND, m=1':<44} {bf16:>9.3f} ms   {'the FLOAT16 case (time ratio)':<34} {bf16 / f16:>7.2f}")
    for case, label in (("f16/int4_nd/channel/m1", "per-channel ND, m=1"), ("f16/int8_nd/channel/m1", "INT8 ND, m=1"),
                        ("f16/int8_nz/channel/m1", "INT8 NZ, m=1"),
                        ("f16/int4_nz_transposed/channel/m1", "transposed NZ per-channel, m=1")):
        row(label, case, "read_only/8192x14336", "read-only pass (int4 bytes), in cache")
    one, all_ = t.get("wqbmm_1thread/f16/int4_nd/group128/m1"), t.get("wqbmm/f16/int4_nd/group128/m1")
    if one and all_:
        rows.append({"case": "all threads vs one, decode m=1 ND", "ratio": one / all_})
        print(f"{'all threads vs one, decode m=1 ND':<44} {all_:>9.3f} ms   {'one thread: %.3f ms' % one:<34} {one / all_:>7.2f}")
    print("\nCompute floor: decode's kernel on as many weight rows as the case, rows that stay in L1 (all threads,\n"
          "paired with the cold read pass): the most of the read pass that kernel can give on this host.")
    for case, target in (("f16/int4_nd/group128/m1", 0.8), ("f16/int4_nz/group128/m1", 0.8),
                         ("bf16/int4_nd/group128/m1", None), ("f16/int4_nd/group128/m16", 0.6)):
        p, threads = paired.get("paired/floor/" + case), paired.get("paired/floor_threads/" + case)
        if p is None:
            continue
        ceiling = p["reference_over_ours"]
        speedup = threads["reference_over_ours"] if threads else None
        rows.append({"case": "compute floor " + case, "ms": p["ours_ms"], "against": "cold read-only pass",
                     "ratio": ceiling, "target": target, "paired": True, "all_threads_over_one": speedup})
        verdict = "" if target is None else f"  (target {target}: {'within reach' if ceiling >= target else 'out of reach here'})"
        work = "" if speedup is None else f"; all threads do {speedup:.2f}x one thread's work"
        print(f"  {case}: floor {p['ours_ms']:.2f} ms, cold read pass / floor {ceiling:.2f}{verdict}{work}")
    print("\nEach ISA against scalar (the engine, all threads):")
    isas = sorted({k.split("/")[1] for k in t if k.startswith("isa/")})
    for case in ("f16/int4_nd/group128/m1", "bf16/int4_nd/group128/m1", "f16/int4_nd/group128/m256"):
        scalar = t.get(f"isa/scalar/{case}")
        cells = []
        for isa in isas:
            ms = t.get(f"isa/{isa}/{case}")
            if ms and scalar:
                cells.append(f"{isa} {ms:.2f} ms ({scalar / ms:.1f}x)")
                rows.append({"case": f"isa {isa} {case}", "ms": ms, "against": "scalar", "ratio": scalar / ms})
        print(f"  {case}: " + ", ".join(cells))
    return {"rows": rows, "times_ms": t}


def main():
    result = report(sys.argv[1])
    if len(sys.argv) > 2:
        with open(sys.argv[2], "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
