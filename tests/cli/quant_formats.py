#!/usr/bin/python3
"""Quantized W4 checkpoints (compressed-tensors, GPTQ, AWQ, msModelSlim) for testing int4pack's converter.

Only json, os, sys, numpy (and the standard library's tempfile and shlex); run it with
/usr/bin/python3. safetensors_io.py (same folder) is the safetensors reader/writer and the int4 packer;
nothing here shares code with the C++ tool. Every checkpoint is drawn from its options alone, so `check`
regenerates the truth from the same options that `make` was given.

Each checkpoint holds two quantized layers, LAYERS[0] = model.layers.0.mlp.down_proj with (k, n) and
LAYERS[1] = model.layers.0.self_attn.q_proj with (2k, n) ((k, n) with --channel), their F16 biases, and
the F16 tensors model.embed_tokens.weight (8, 16) and lm_head.weight (8, 16), which pass through.

Commands (each exits 1 with "quant_formats: FAIL: ..." on stderr when a check fails, 2 on bad usage):
  make FORMAT DIR [OPTIONS]            a checkpoint directory; FORMAT is one of FORMATS
  check FORMAT DIR CONVERTED_DIR --format nd|nz --dtype int4|int32 [--expect-act float16|bfloat16] [OPTIONS]
                                       CONVERTED_DIR is DIR converted: layer weights packed, scales and
                                       offsets (and act-order perms) in the activation dtype, source
                                       quantization tensors gone, the rest byte for byte, records as expected
  reference-convert FORMAT DIR OUT_DIR --format nd|nz --dtype int4|int32 [--expect-act ...]
                                       what the converter should write, derived by decoding DIR (the
                                       records hold only the fields `check` requires)
  tamper-offset CONVERTED_DIR          negates LAYERS[0].antiquant_offset in place (metadata kept)
  make-bad CASE DIR                    a checkpoint the converter must refuse; CASE is one of BAD_CASES
  bad-cases                            prints BAD_CASES
  selftest                             every format written and decoded back by independent decoders, and
                                       check run on reference conversions (and on tampered ones, to fail)
  batch FILE                           runs each line of FILE as a command in one process, printing
                                       "BATCH-OK: line" or "BATCH-FAIL: line: why"
OPTIONS (make and check): [--k K] [--n N] [--group G] [--asym] [--actorder] [--act float16|bfloat16]
                          [--seed S] [--v2] [--channel]
  defaults k=128, n=64, group 64, symmetric, float16, seed 1; --v2: GPTQ checkpoint_format gptq_v2;
  --channel: one group over k; --actorder: GPTQ desc_act / compressed-tensors actorder "group", with a
  shuffled g_idx for LAYERS[0] and the plain c // g one for LAYERS[1] (GPTQ and compressed-tensors only).
  The same options give the same (Qs, S, Zs) in every format, except that GPTQ v1 (no --v2) draws zero
  points in [-7, 7] instead of [-8, 7] (it cannot store Zu = 0). AWQ always has zero_point true (Zs = 0
  without --asym). Scales: any fp16 value in [0.001, 0.05]; with --act bfloat16 multiples of 2^-12 exact
  in bf16 too. Pass-through tensors stay F16 whatever --act says.
"""
import json
import os
import shlex
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io as st  # noqa: E402

# safetensors_io.py has no BF16; readers here see it as its raw uint16 bits (Tensor.array() gives the bits).
st.DTYPES.setdefault("BF16", np.dtype("<u2"))

FORMATS = ("compressed-tensors", "gptq", "awq", "msmodelslim")
LAYERS = ("model.layers.0.mlp.down_proj", "model.layers.0.self_attn.q_proj")
EMBED, LM_HEAD = "model.embed_tokens.weight", "lm_head.weight"
SAFETENSORS_FILE = {"compressed-tensors": "model.safetensors", "gptq": "model.safetensors",
                    "awq": "model.safetensors", "msmodelslim": "quant_model_weight_w4a16.safetensors"}
DESCRIPTION_FILE = "quant_model_description_w4a16.json"
SOURCE_SUFFIXES = {
    "compressed-tensors": ("weight_packed", "weight_scale", "weight_shape", "weight_zero_point", "weight_g_idx"),
    "gptq": ("qweight", "qzeros", "scales", "g_idx"),
    "awq": ("qweight", "qzeros", "scales"),
    "msmodelslim": ("weight", "weight_scale", "weight_offset"),
}
AWQ_ORDER = (0, 2, 4, 6, 1, 3, 5, 7)      # nibble i of a word holds column 8j + AWQ_ORDER[i]
AWQ_POSITION = (0, 4, 1, 5, 2, 6, 3, 7)   # column 8j + m sits in nibble AWQ_POSITION[m]
ACT_NAMES = {"float16": "F16", "bfloat16": "BF16"}


class Failure(Exception):
    """A check failed."""


class Usage(Exception):
    """Bad arguments."""


def fail(message):
    raise Failure(message)


def ceil_div(a, b):
    return -(-a // b)


# ---- options ----

class Options:
    def __init__(self):
        self.k, self.n, self.group, self.seed = 128, 64, 64, 1
        self.asym = self.actorder = self.v2 = self.channel = False
        self.act = "float16"
        self.format, self.dtype, self.expect_act = "nd", "int4", None

    def act_out(self):
        """The converted scales' dtype name: --expect-act, else the checkpoint's torch_dtype."""
        return ACT_NAMES[self.expect_act or self.act]


FLAGS = ("--asym", "--actorder", "--v2", "--channel")
INT_OPTIONS = ("--k", "--n", "--group", "--seed")
CHOICES = {"--act": ("float16", "bfloat16"), "--format": ("nd", "nz"), "--dtype": ("int4", "int32"),
           "--expect-act": ("float16", "bfloat16")}
CONVERSION_OPTIONS = ("--format", "--dtype", "--expect-act")


def parse_options(fmt, args, conversion=False):
    if fmt not in FORMATS:
        raise Usage("unknown format %r (one of %s)" % (fmt, ", ".join(FORMATS)))
    o = Options()
    i = 0
    while i < len(args):
        a = args[i]
        if a in FLAGS:
            setattr(o, a[2:], True)
            i += 1
            continue
        if a not in INT_OPTIONS and a not in CHOICES or (a in CONVERSION_OPTIONS and not conversion):
            raise Usage("unknown option %r" % a)
        if i + 1 >= len(args):
            raise Usage("%s needs a value" % a)
        value = args[i + 1]
        if a in INT_OPTIONS:
            try:
                setattr(o, a[2:], int(value))
            except ValueError:
                raise Usage("%s takes an integer, not %r" % (a, value))
        elif value not in CHOICES[a]:
            raise Usage("%s takes %s, not %r" % (a, " or ".join(CHOICES[a]), value))
        else:
            setattr(o, a[2:].replace("-", "_"), value)
        i += 2
    validate(fmt, o)
    return o


def validate(fmt, o):
    if o.k < 1 or o.n < 1 or o.group < 1 or o.seed < 0:
        raise Usage("--k, --n and --group must be positive and --seed non-negative")
    if fmt == "gptq" and (o.k % 8 or o.n % 8):
        raise Usage("gptq packs along k and n: --k and --n must be multiples of 8")
    if fmt == "awq" and o.n % 8:
        raise Usage("awq packs along n: --n must be a multiple of 8")
    if o.v2 and fmt != "gptq":
        raise Usage("--v2 is a gptq option")
    if o.actorder and fmt not in ("gptq", "compressed-tensors"):
        raise Usage("--actorder: %s has no act-order (g_idx) form" % fmt)
    if o.actorder and (o.channel or o.k <= o.group):
        raise Usage("--actorder needs at least two groups (not --channel, and --k above --group)")


def layer_shapes(o):
    """[(name, k, n)] of the two quantized layers."""
    return [(LAYERS[0], o.k, o.n), (LAYERS[1], o.k if o.channel else 2 * o.k, o.n)]


# ---- the truth: (Qs, S, Zs, g_idx) of each layer, from the options alone ----

class Layer:
    """qs (k, n) signed int4; s (G, n) > 0 as float64 (exact in every dtype it is stored in); zs (G, n)
    signed zero points; g_idx (k,) the group of each input column; g the group size (k when per-channel)."""

    def __init__(self, name, qs, s, zs, g_idx, g):
        self.name, self.qs, self.s, self.zs, self.g_idx, self.g = name, qs, s, zs, g_idx, g
        self.k, self.n = qs.shape
        self.groups = s.shape[0]


def truth(fmt, o):
    return [draw_layer(fmt, o, i, name, k, n) for i, (name, k, n) in enumerate(layer_shapes(o))]


def draw_layer(fmt, o, index, name, k, n):
    def rng(what):  # one stream per layer and quantity, so no option shifts another's draws
        return np.random.default_rng([o.seed, index, what])
    g = k if o.channel else o.group
    groups = ceil_div(k, g)
    qs = rng(0).integers(-8, 8, size=(k, n))
    qs[0, 0], qs[-1, -1] = -8, 7
    s = draw_scales(rng(1), (groups, n), o.act)
    lowest = -7 if fmt == "gptq" and not o.v2 else -8   # GPTQ v1 cannot store Zu = 0
    zs = draw_zeros(rng(2), (groups, n), lowest) if o.asym else np.zeros((groups, n), dtype=np.int64)
    g_idx = draw_g_idx(rng(3), k, g, shuffled=o.actorder and index == 0)
    return Layer(name, qs, s, zs, g_idx, g)


def draw_scales(rng, shape, act):
    """float16: any fp16 value in [0.001, 0.05]; bfloat16: multiples of 2^-12 with 8 significant bits,
    exact in fp16, bf16 and fp32 alike."""
    if act == "bfloat16":
        return rng.integers(5, 205, size=shape) * 2.0 ** -12
    s = rng.uniform(0.001, 0.05, size=shape).astype(np.float16)
    return np.clip(s, np.float16(0.001), np.float16(0.05)).astype(np.float64)


def draw_zeros(rng, shape, lowest):
    z = rng.integers(lowest, 8, size=shape)
    z.flat[0] = lowest
    z.flat[-1] = 7
    return z


def draw_g_idx(rng, k, g, shuffled):
    plain = np.arange(k) // g
    if not shuffled:
        return plain
    idx = rng.permutation(plain)
    return idx if np.any(np.diff(idx) < 0) else plain[::-1].copy()


# ---- tensors and encodings ----

def bf16_bits(values):
    """float values -> bfloat16 bits (uint16), rounded to nearest even from their float32 bits (no NaN)."""
    u = np.asarray(values, dtype=np.float32).view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype("<u2")


def float_tensor(values, dtype):
    """st.Tensor of float values in dtype "F16", "BF16" or "F32" (rounded to nearest even)."""
    values = np.asarray(values, dtype=np.float64)
    if dtype == "BF16":
        return st.Tensor("BF16", values.shape, bf16_bits(values).tobytes())
    return st.tensor(values.astype({"F16": "<f2", "F32": "<f4"}[dtype]))


def float_values(t):
    """float64 values of an F16, BF16 or F32 st.Tensor."""
    if t.dtype == "BF16":
        return (t.array().astype(np.uint32) << 16).view(np.float32).astype(np.float64)
    if t.dtype not in ("F16", "F32"):
        fail("expected a float tensor, got %r" % t)
    return t.array().astype(np.float64)


def pack_words(u, order=tuple(range(8))):
    """(r, c) values in [0, 15] -> (r, ceil(c/8)) int32 words: bits 4i..4i+3 of word j hold column
    8j + order[i]; columns past c are 0."""
    rows, cols = u.shape
    padded = np.zeros((rows, ceil_div(cols, 8) * 8), dtype=np.uint64)
    padded[:, :cols] = u
    words = np.zeros((rows, padded.shape[1] // 8), dtype=np.uint64)
    for i, column in enumerate(order):
        words |= padded[:, column::8] << np.uint64(4 * i)
    return words.astype("<u4").view("<i4")


def pack_words_dim0(u):
    """(r, c) values -> (ceil(r/8), c) int32 words packed along dim 0 (word [j][c] nibble i = u[8j+i][c])."""
    return np.ascontiguousarray(pack_words(u.T).T)


def json_bytes(obj):
    return (json.dumps(obj, indent=2) + "\n").encode("utf-8")


# ---- checkpoints: ({config file: dict}, {tensor: st.Tensor}) ----

def checkpoint(fmt, o, layers=None):
    layers = layers if layers is not None else truth(fmt, o)
    configs = CONFIGS[fmt](o, layers)
    tensors = {EMBED: passthrough_tensor(o, 0, (8, 16))}
    for i, layer in enumerate(layers):
        tensors.update(LAYER_TENSORS[fmt](o, layer))
        tensors[layer.name + ".bias"] = passthrough_tensor(o, 1 + i, (layer.n,))
    tensors[LM_HEAD] = passthrough_tensor(o, 9, (8, 16))
    if fmt == "msmodelslim":
        configs[DESCRIPTION_FILE] = msmodelslim_description(o, tensors)
    return configs, tensors


def passthrough_tensor(o, what, shape):
    values = np.random.default_rng([o.seed, 100, what]).standard_normal(shape)
    return st.tensor(values.astype("<f2"))


def write_checkpoint(directory, fmt, configs, tensors):
    os.makedirs(directory, exist_ok=True)
    for name, config in configs.items():
        with open(os.path.join(directory, name), "wb") as f:
            f.write(json_bytes(config))
    st.write(os.path.join(directory, SAFETENSORS_FILE[fmt]), tensors, {"format": "pt"})


def make(fmt, directory, o):
    write_checkpoint(directory, fmt, *checkpoint(fmt, o))


# compressed-tensors, pack-quantized

def ct_config(o, layers):
    weights = {"num_bits": 4, "type": "int", "symmetric": not o.asym,
               "strategy": "channel" if o.channel else "group", "group_size": None if o.channel else o.group,
               "actorder": "group" if o.actorder else None}
    qc = {"quant_method": "compressed-tensors", "format": "pack-quantized",
          "config_groups": {"group_0": {"targets": ["Linear"], "weights": weights}}, "ignore": ["lm_head"]}
    return {"config.json": {"torch_dtype": o.act, "quantization_config": qc}}


def ct_tensors(o, layer):
    p = layer.name
    t = {p + ".weight_packed": st.tensor(pack_words(layer.qs.T + 8)),
         p + ".weight_scale": float_tensor(layer.s.T, ACT_NAMES[o.act]),
         p + ".weight_shape": st.tensor(np.array([layer.n, layer.k], dtype="<i8"))}
    if o.asym:
        t[p + ".weight_zero_point"] = st.tensor(pack_words_dim0(layer.zs.T + 8))
    if o.actorder:
        t[p + ".weight_g_idx"] = st.tensor(layer.g_idx.astype("<i4"))
    return t


# GPTQ

def gptq_keys(o):
    return {"bits": 4, "group_size": -1 if o.channel else o.group, "desc_act": o.actorder, "sym": not o.asym,
            "checkpoint_format": "gptq_v2" if o.v2 else "gptq"}


def gptq_config(o, layers):
    qc = dict({"quant_method": "gptq"}, **gptq_keys(o))
    return {"quantize_config.json": gptq_keys(o), "config.json": {"torch_dtype": o.act, "quantization_config": qc}}


def gptq_tensors(o, layer):
    p = layer.name
    stored_zeros = layer.zs + 8 - (0 if o.v2 else 1)
    return {p + ".qweight": st.tensor(pack_words_dim0(layer.qs + 8)),
            p + ".qzeros": st.tensor(pack_words(stored_zeros)),
            p + ".scales": float_tensor(layer.s, "F16"),
            p + ".g_idx": st.tensor(layer.g_idx.astype("<i4"))}


# AWQ, gemm

def awq_config(o, layers):
    qc = {"quant_method": "awq", "bits": 4, "group_size": layers[0].g, "zero_point": True, "version": "gemm",
          "modules_to_not_convert": ["lm_head"]}
    return {"config.json": {"torch_dtype": o.act, "quantization_config": qc}}


def awq_tensors(o, layer):
    p = layer.name
    return {p + ".qweight": st.tensor(pack_words(layer.qs + 8, AWQ_ORDER)),
            p + ".qzeros": st.tensor(pack_words(layer.zs + 8, AWQ_ORDER)),
            p + ".scales": float_tensor(layer.s, "F16")}


# msModelSlim W4A16

def msmodelslim_config(o, layers):
    return {"config.json": {"torch_dtype": o.act}}


def msmodelslim_tensors(o, layer):
    p = layer.name
    return {p + ".weight": st.tensor(layer.qs.T.astype("i1")),
            p + ".weight_scale": float_tensor(layer.s.T, "F32"),
            p + ".weight_offset": float_tensor(layer.zs.T, "F32")}


def msmodelslim_description(o, tensors):
    quantized = ("weight", "weight_scale", "weight_offset")
    d = {"model_quant_type": "W4A16", "group_size": 0 if o.channel else o.group, "version": "1.0.0"}
    for name in tensors:
        d[name] = "W4A16" if any(name == p + "." + s for p in LAYERS for s in quantized) else "FLOAT"
    return d


CONFIGS = {"compressed-tensors": ct_config, "gptq": gptq_config, "awq": awq_config, "msmodelslim": msmodelslim_config}
LAYER_TENSORS = {"compressed-tensors": ct_tensors, "gptq": gptq_tensors, "awq": awq_tensors,
                 "msmodelslim": msmodelslim_tensors}


# ---- broken checkpoints ----

def bad_bits8(configs, tensors, o):
    for cfg in (configs["quantize_config.json"], configs["config.json"]["quantization_config"]):
        cfg["bits"] = 8


def bad_gidx_range(configs, tensors, o):
    name = LAYERS[0] + ".g_idx"
    g_idx = tensors[name].array().copy()
    g_idx[5] = ceil_div(o.k, o.group)   # one past the last group
    tensors[name] = st.tensor(g_idx)


def bad_nan_scale(configs, tensors, o):
    name = LAYERS[0] + ".scales"
    s = tensors[name].array().copy()
    s[0, 1] = np.nan
    tensors[name] = st.tensor(s)


def bad_shape(shape):
    def edit(configs, tensors, o):
        tensors[LAYERS[0] + ".weight_shape"] = st.tensor(np.array(shape(o), dtype="<i8"))
    return edit


def bad_awq_gemv(configs, tensors, o):
    configs["config.json"]["quantization_config"]["version"] = "gemv"


def bad_group48(configs, tensors, o):
    pass   # the options (k 96, group 48) are the defect


def bad_missing_scales(configs, tensors, o):
    del tensors[LAYERS[0] + ".scales"]


BAD = {  # case: (format, make options, edit)
    "bits8": ("gptq", [], bad_bits8),
    "gidx-range": ("gptq", [], bad_gidx_range),
    "nan-scale": ("gptq", [], bad_nan_scale),
    "shape-mismatch": ("compressed-tensors", [], bad_shape(lambda o: [o.n, o.k + 8])),
    "awq-gemv": ("awq", ["--asym"], bad_awq_gemv),
    "group48": ("gptq", ["--k", "96", "--group", "48"], bad_group48),
    "missing-scales": ("gptq", [], bad_missing_scales),
    "zero-shape": ("compressed-tensors", [], bad_shape(lambda o: [0, 0])),
}
BAD_CASES = list(BAD)


def make_bad(case, directory):
    if case not in BAD:
        raise Usage("unknown bad case %r (one of %s)" % (case, " ".join(BAD_CASES)))
    fmt, args, edit = BAD[case]
    o = parse_options(fmt, args)
    configs, tensors = checkpoint(fmt, o)
    edit(configs, tensors, o)
    write_checkpoint(directory, fmt, configs, tensors)


# ---- decoders: each format read back from its definition, independently of the writers ----

def load(directory, name):
    with open(os.path.join(directory, name)) as f:
        return json.load(f)


def nibbles(words):
    """(r, w) int32 words -> (r, 8w) values in [0, 15]: the little-endian bytes, low nibble first."""
    b = np.ascontiguousarray(words, dtype="<i4").view(np.uint8).reshape(words.shape[0], -1)
    out = np.empty((b.shape[0], 2 * b.shape[1]), dtype=np.int64)
    out[:, 0::2] = b & 15
    out[:, 1::2] = b >> 4
    return out


def prefixes(tensors, suffix):
    return [name[:-len(suffix)] for name in tensors if name.endswith(suffix)]


def decode_compressed_tensors(directory):
    weights = load(directory, "config.json")["quantization_config"]["config_groups"]["group_0"]["weights"]
    _, t = st.read(os.path.join(directory, SAFETENSORS_FILE["compressed-tensors"]))
    layers = {}
    for p in prefixes(t, ".weight_packed"):
        n, k = (int(v) for v in t[p + ".weight_shape"].array())
        qs = nibbles(t[p + ".weight_packed"].array())[:, :k].T - 8
        s = float_values(t[p + ".weight_scale"]).T
        zs = np.zeros(s.shape, dtype=np.int64)
        if not weights["symmetric"]:
            zs = nibbles(t[p + ".weight_zero_point"].array().T)[:, :n] - 8
        g = k if weights["strategy"] == "channel" else weights["group_size"]
        g_idx = t[p + ".weight_g_idx"].array() if weights["actorder"] == "group" else np.arange(k) // g
        layers[p] = Layer(p, qs, s, zs, g_idx.astype(np.int64), g)
    return layers


def decode_gptq(directory):
    qc = load(directory, "quantize_config.json")
    _, t = st.read(os.path.join(directory, SAFETENSORS_FILE["gptq"]))
    layers = {}
    for p in prefixes(t, ".qweight"):
        qs = nibbles(t[p + ".qweight"].array().T).T - 8
        zu = nibbles(t[p + ".qzeros"].array()) + (0 if qc["checkpoint_format"] == "gptq_v2" else 1)
        g = qs.shape[0] if qc["group_size"] == -1 else qc["group_size"]
        layers[p] = Layer(p, qs, float_values(t[p + ".scales"]), zu - 8, t[p + ".g_idx"].array().astype(np.int64), g)
    return layers


def decode_awq(directory):
    qc = load(directory, "config.json")["quantization_config"]
    _, t = st.read(os.path.join(directory, SAFETENSORS_FILE["awq"]))

    def columns(words):  # nibble order -> column order
        v = nibbles(words)
        return v.reshape(v.shape[0], -1, 8)[:, :, list(AWQ_POSITION)].reshape(v.shape)
    layers = {}
    for p in prefixes(t, ".qweight"):
        qs = columns(t[p + ".qweight"].array()) - 8
        zs = columns(t[p + ".qzeros"].array()) - 8
        g = qc["group_size"]
        layers[p] = Layer(p, qs, float_values(t[p + ".scales"]), zs, np.arange(qs.shape[0]) // g, g)
    return layers


def decode_msmodelslim(directory):
    d = load(directory, DESCRIPTION_FILE)
    _, t = st.read(os.path.join(directory, SAFETENSORS_FILE["msmodelslim"]))
    layers = {}
    for p in [name[:-len(".weight")] for name, kind in d.items() if name.endswith(".weight") and kind == "W4A16"]:
        qs = t[p + ".weight"].array().astype(np.int64).T
        g = d["group_size"] or qs.shape[0]
        zs = float_values(t[p + ".weight_offset"]).T
        if np.any(zs != np.round(zs)):
            fail("%s.weight_offset is not integral" % p)
        layers[p] = Layer(p, qs, float_values(t[p + ".weight_scale"]).T, zs.astype(np.int64),
                          np.arange(qs.shape[0]) // g, g)
    return layers


DECODERS = {"compressed-tensors": decode_compressed_tensors, "gptq": decode_gptq, "awq": decode_awq,
            "msmodelslim": decode_msmodelslim}


def torch_dtype(directory):
    return load(directory, "config.json")["torch_dtype"]


# ---- what the converter writes for one layer ----

def converted_layer(fmt, layer, o, act):
    """({name: st.Tensor}, record fields) for `layer` converted with o.format, o.dtype into dtype act."""
    p = layer.name
    plain = np.arange(layer.k) // layer.g
    permuted = layer.groups > 1 and not np.array_equal(layer.g_idx, plain)
    perm = np.argsort(layer.g_idx, kind="stable") if permuted else None
    m = layer.qs[perm, :] if permuted else layer.qs
    transposed = o.format == "nz" and layer.groups == 1
    t = {p + ".weight": packed_weight(m.T if transposed else m, o.format, o.dtype)}
    shape = (layer.n,) if layer.groups == 1 else (layer.groups, layer.n)
    t[p + ".antiquant_scale"] = float_tensor(layer.s.reshape(shape), act)
    if np.any(layer.zs != 0):
        t[p + ".antiquant_offset"] = float_tensor(-layer.zs.reshape(shape), act)
    if permuted:
        t[p + ".weight_perm"] = st.tensor(perm.astype("<i4"))
    record = {"format": o.format, "dtype": o.dtype, "transposed": transposed, "source_format": fmt,
              "group_size": 0 if layer.groups == 1 else layer.g, "weight_shape": [layer.k, layer.n],
              "act_dtype": act, "scale": p + ".antiquant_scale",
              "offset": p + ".antiquant_offset" if p + ".antiquant_offset" in t else None,
              "perm": p + ".weight_perm" if permuted else None}
    return t, record


def packed_weight(m, fmt, dtype):
    """The (rows, cols) matrix m packed as check-packed expects for carriers: U8 or I32, ND or NZ."""
    rows, cols = m.shape
    if cols % (8 if dtype == "int32" else 2):
        fail("a (%d, %d) matrix cannot be packed as %s (columns must be a multiple of %d)"
             % (rows, cols, dtype, 8 if dtype == "int32" else 2))
    packed = st.pack_nd(m) if fmt == "nd" else st.pack_nz(m)
    if dtype == "int4":
        return st.Tensor("U8", packed.shape, packed.tobytes())
    return st.Tensor("I32", packed.shape[:-1] + (packed.shape[-1] // 4,), packed.tobytes())


def is_source(fmt, name):
    return any(name == p + "." + s for p in LAYERS for s in SOURCE_SUFFIXES[fmt])


def converted_file(fmt, source, layers, o, act):
    """({name: st.Tensor}, {tensor: record}) of the converted file: the source's tensors in order, each
    layer's outputs where its first source tensor was, the source quantization tensors dropped."""
    by_prefix = {layer.name: layer for layer in layers}
    out, records = {}, {}
    for name, t in source.items():
        prefix = name.rsplit(".", 1)[0]
        if prefix in by_prefix and prefix + ".weight" not in records:
            tensors, record = converted_layer(fmt, by_prefix[prefix], o, act)
            out.update(tensors)
            records[prefix + ".weight"] = record
        if not is_source(fmt, name):
            out[name] = t
    return out, records


# ---- check ----

def check(fmt, directory, converted, o):
    configs, want_source = checkpoint(fmt, o)
    meta, source = st.read(existing(directory, SAFETENSORS_FILE[fmt]))
    check_source(directory, configs, source, want_source)
    check_configs_copied(directory, converted, configs)
    out_meta, out = st.read(existing(converted, SAFETENSORS_FILE[fmt]))
    want, records = converted_file(fmt, source, truth(fmt, o), o, o.act_out())
    check_names(fmt, out, want)
    for name, t in want.items():
        check_tensor(name, out[name], t)
    check_records(out_meta, records)
    check_metadata_kept(meta, out_meta)
    return ("ok: %s %s converted with --format %s --dtype %s: %d layers, %d tensors, act %s"
            % (fmt, converted, o.format, o.dtype, len(records), len(out), o.act_out()))


def existing(directory, name):
    path = os.path.join(directory, name)
    if not os.path.isfile(path):
        fail("no %s in %s" % (name, directory))
    return path


def check_source(directory, configs, source, want_source):
    """DIR holds what `make` writes with these options (else the options differ from make's)."""
    for name, config in configs.items():
        if load(directory, name) != config:
            fail("%s/%s is not what make writes with these options (give check make's options)" % (directory, name))
    if list(source) != list(want_source) or any(source[n] != want_source[n] for n in source):
        fail("%s is not what make writes with these options (give check make's options)" % directory)


def check_configs_copied(directory, converted, configs):
    for name in configs:
        if not os.path.isfile(os.path.join(converted, name)):
            fail("%s: no %s (config files must be copied)" % (converted, name))
        with open(os.path.join(directory, name), "rb") as a, open(os.path.join(converted, name), "rb") as b:
            if a.read() != b.read():
                fail("%s was not copied unchanged" % os.path.join(converted, name))


def check_names(fmt, out, want):
    missing = [n for n in want if n not in out]
    if missing:
        fail("converted file lacks %s" % ", ".join(missing))
    left = [n for n in out if n not in want and is_source(fmt, n)]
    if left:
        fail("source quantization tensors still present: %s" % ", ".join(left))
    extra = [n for n in out if n not in want]
    if extra:
        fail("unexpected tensors: %s" % ", ".join(extra))


def check_tensor(name, got, want):
    if (got.dtype, got.shape) != (want.dtype, want.shape):
        fail("%s: %s %s, expected %s %s" % (name, got.dtype, list(got.shape), want.dtype, list(want.shape)))
    if got.data == want.data:
        return
    g, w = got.array().reshape(-1), want.array().reshape(-1)
    if want.dtype in ("F16", "BF16", "F32"):
        g, w = float_values(got).reshape(-1), float_values(want).reshape(-1)
    i = int(np.nonzero(g != w)[0][0]) if np.any(g != w) else 0
    index = list(np.unravel_index(i, want.shape)) if want.shape else []
    fail("%s: element %s is %r, expected %r" % (name, [int(v) for v in index], g[i].item(), w[i].item()))


RECORD_FIELDS = ("format", "dtype", "transposed", "source_format", "group_size", "weight_shape", "act_dtype",
                 "scale", "offset", "perm")


def check_records(meta, records):
    for key in meta:
        if key.startswith("int4pack:") and key[len("int4pack:"):] not in records:
            fail("record %s for a tensor that is no quantized layer's weight" % key)
    for name, want in records.items():
        text = meta.get("int4pack:" + name)
        if text is None:
            fail("no int4pack:%s record in __metadata__" % name)
        try:
            record = json.loads(text)
        except ValueError as e:
            fail("int4pack:%s is not JSON: %s" % (name, e))
        if not isinstance(record, dict):
            fail("int4pack:%s is not a JSON object: %s" % (name, text))
        for field in RECORD_FIELDS:
            if field not in record:
                fail("int4pack:%s lacks %r (expected %s)" % (name, field, json.dumps(want[field])))
            if record[field] != want[field] or type(record[field]) is not type(want[field]):
                fail("int4pack:%s %r is %s, expected %s"
                     % (name, field, json.dumps(record[field]), json.dumps(want[field])))


def check_metadata_kept(meta, out_meta):
    for key, value in meta.items():
        if out_meta.get(key) != value:
            fail("metadata %r is %r, expected the input's %r" % (key, out_meta.get(key), value))


# ---- reference conversion (decodes DIR; used by selftest to exercise check) ----

def reference_convert(fmt, directory, out_dir, o):
    layers = DECODERS[fmt](directory)
    act = ACT_NAMES[o.expect_act or torch_dtype(directory)]
    meta, source = st.read(os.path.join(directory, SAFETENSORS_FILE[fmt]))
    out, records = converted_file(fmt, source, [layers[p] for p in LAYERS], o, act)
    os.makedirs(out_dir, exist_ok=True)
    for name in os.listdir(directory):
        if name.endswith(".json"):
            with open(os.path.join(directory, name), "rb") as a, open(os.path.join(out_dir, name), "wb") as b:
                b.write(a.read())
    out_meta = dict(meta)
    out_meta.update({"int4pack:" + n: json.dumps(r) for n, r in records.items()})
    st.write(os.path.join(out_dir, SAFETENSORS_FILE[fmt]), out, out_meta)


# ---- tamper-offset ----

def tamper_offset(converted):
    name = LAYERS[0] + ".antiquant_offset"
    for file in sorted(os.listdir(converted)):
        if not file.endswith(".safetensors"):
            continue
        path = os.path.join(converted, file)
        meta, tensors = st.read(path)
        if name in tensors:
            t = tensors[name]
            if t.dtype not in ("F16", "BF16"):
                fail("%s is %s, expected F16 or BF16" % (name, t.dtype))
            flipped = (t.array().view("<u2") ^ np.uint16(0x8000)).astype("<u2")
            tensors[name] = st.Tensor(t.dtype, t.shape, flipped.tobytes())
            st.write(path, tensors, meta)
            return
    fail("no %s in %s (a symmetric checkpoint has no offset)" % (name, converted))


# ---- selftest ----

def expect(condition, message):
    if not condition:
        fail("selftest: " + message)


def selftest_packing():
    w = np.array([[1, -2, 3, -4, 5, -6, 7, -8], [0, 1, 2, 3, 4, 5, 6, 7]])
    expect(st.pack_nd(w).tobytes() == bytes.fromhex("E1C3A587 10325476"), "pack_nd of the README's example")
    nz = st.pack_nz(w)
    expect(nz.shape == (1, 1, 16, 32), "pack_nz shape %s" % (nz.shape,))
    flat = nz.tobytes()
    expect(flat[:4] == bytes.fromhex("E1C3A587") and flat[32:36] == bytes.fromhex("10325476")
           and flat.count(0) == 512 - 8, "pack_nz bytes of the README's example")
    i32 = packed_weight(w, "nd", "int32")
    expect((i32.dtype, i32.shape) == ("I32", (2, 1)) and int(i32.array()[0, 0]) == 0x87A5C3E1 - 2**32, "int32 view")
    row = np.arange(8).reshape(1, 8)
    expect(int(pack_words(row)[0, 0]) == 0x76543210, "natural nibble order")
    expect(int(pack_words(row, AWQ_ORDER)[0, 0]) == 0x75316420, "AWQ nibble order")
    expect(nibbles(np.array([[0x76543210]], dtype="<i4")).tolist() == [list(range(8))], "nibbles")


def selftest_bf16():
    cases = {1.0: 0x3F80, 1 + 2**-8: 0x3F80, 1 + 3 * 2**-8: 0x3F82, 1 + 2**-8 + 2**-20: 0x3F81,
             -2.0: 0xC000, 0.0: 0, 3.4e38: 0x7F80, 3.39e38: 0x7F7F, 2.0**-130: 0x0008}
    for value, bits in cases.items():
        got = int(bf16_bits([value])[0])
        expect(got == bits, "bf16 of %r is 0x%04X, expected 0x%04X" % (value, got, bits))


VARIANTS = {
    "compressed-tensors": [[], ["--asym"], ["--channel"], ["--asym", "--channel"], ["--act", "bfloat16", "--asym"],
                           ["--actorder", "--asym"], ["--actorder", "--act", "bfloat16"],
                           ["--k", "256", "--group", "128"], ["--k", "100", "--group", "50", "--asym"]],
    "gptq": [[], ["--asym"], ["--v2"], ["--v2", "--asym"], ["--channel", "--asym"], ["--actorder"],
             ["--actorder", "--asym", "--v2"], ["--act", "bfloat16", "--asym"]],
    "awq": [[], ["--asym"], ["--channel", "--asym"], ["--act", "bfloat16", "--asym"]],
    "msmodelslim": [[], ["--asym"], ["--channel"], ["--channel", "--asym", "--act", "bfloat16"]],
}
CONVERSIONS = [["--format", f, "--dtype", d] for f in ("nd", "nz") for d in ("int4", "int32")]


def selftest_decode(fmt, o, directory):
    decoded = DECODERS[fmt](directory)
    expect(sorted(decoded) == sorted(LAYERS), "%s decoded layers %s" % (fmt, sorted(decoded)))
    for layer in truth(fmt, o):
        d = decoded[layer.name]
        for field in ("qs", "s", "zs", "g_idx", "g"):
            expect(np.array_equal(getattr(d, field), getattr(layer, field)),
                   "%s %s: %s differs" % (fmt, layer.name, field))
        expect(layer.qs.min() == -8 and layer.qs.max() == 7, "qs range")


def expect_check_fails(fmt, directory, converted, o, why):
    try:
        check(fmt, directory, converted, o)
    except Failure:
        return
    fail("selftest: check passed on %s" % why)


def selftest_format(fmt, args, root):
    o = parse_options(fmt, args)
    tag = "%s %s" % (fmt, " ".join(args))
    directory = os.path.join(root, "ckpt")
    make(fmt, directory, o)
    selftest_decode(fmt, o, directory)
    results = {}
    for conv in CONVERSIONS:
        co = parse_options(fmt, args + conv, conversion=True)
        out = os.path.join(root, "out-" + "-".join(conv[1::2]))
        reference_convert(fmt, directory, out, co)
        check(fmt, directory, out, co)
        results[tuple(conv)] = st.read(os.path.join(out, SAFETENSORS_FILE[fmt]))[1]
    other = [a for a in CONVERSIONS if a != conv][0]
    expect_check_fails(fmt, directory, out, parse_options(fmt, args + other, conversion=True), "other options")
    if o.asym:
        tamper_offset(out)
        expect_check_fails(fmt, directory, out, co, "a tampered offset (%s)" % tag)
    return results


def selftest_mutations(root):
    """check refuses a converted checkpoint with a source tensor left, a pass-through tensor changed, a
    record field wrong, a config file changed."""
    fmt, args = "gptq", ["--asym", "--actorder", "--format", "nd", "--dtype", "int4"]
    o = parse_options(fmt, args, conversion=True)
    directory, out = os.path.join(root, "ckpt"), os.path.join(root, "out")
    make(fmt, directory, o)
    _, source = st.read(os.path.join(directory, SAFETENSORS_FILE[fmt]))
    path = os.path.join(out, SAFETENSORS_FILE[fmt])

    def mutated(why, edit):
        reference_convert(fmt, directory, out, o)
        meta, tensors = st.read(path)
        edit(meta, tensors)
        st.write(path, tensors, meta)
        expect_check_fails(fmt, directory, out, o, why)
    mutated("a source tensor left", lambda m, t: t.update({LAYERS[0] + ".qzeros": source[LAYERS[0] + ".qzeros"]}))
    mutated("a changed bias", lambda m, t: t.update({LAYERS[1] + ".bias": source[LAYERS[0] + ".bias"]}))
    mutated("a missing perm", lambda m, t: t.pop(LAYERS[0] + ".weight_perm"))
    key = "int4pack:" + LAYERS[1] + ".weight"
    mutated("a wrong record", lambda m, t: m.update({key: m[key].replace('"gptq"', '"awq"')}))
    mutated("lost metadata", lambda m, t: m.pop("format"))
    reference_convert(fmt, directory, out, o)
    check(fmt, directory, out, o)
    with open(os.path.join(out, "config.json"), "ab") as f:
        f.write(b" ")
    expect_check_fails(fmt, directory, out, o, "a changed config.json")


def selftest_stored_words(root):
    """Spot checks of stored words against the formats' definitions."""
    for args, word in ((["--k", "64", "--n", "16"], 0x77777777), (["--k", "64", "--n", "16", "--v2"], 0x88888888)):
        directory = os.path.join(root, "gptq-" + str(len(args)))
        make("gptq", directory, parse_options("gptq", args))
        _, t = st.read(os.path.join(directory, SAFETENSORS_FILE["gptq"]))
        zeros = t[LAYERS[0] + ".qzeros"].array().view("<u4")
        expect(zeros.shape == (1, 2) and np.all(zeros == word), "gptq symmetric qzeros %s" % zeros)
    o = parse_options("compressed-tensors", ["--k", "64", "--n", "16", "--asym"])
    layer = truth("compressed-tensors", o)[0]
    directory = os.path.join(root, "ct")
    make("compressed-tensors", directory, o)
    _, t = st.read(os.path.join(directory, SAFETENSORS_FILE["compressed-tensors"]))
    word = int(t[LAYERS[0] + ".weight_packed"].array().view("<u4")[3, 1])
    expect(word == sum((int(layer.qs[8 + i, 3]) + 8) << (4 * i) for i in range(8)), "weight_packed word [3][1]")
    word = int(t[LAYERS[0] + ".weight_zero_point"].array().view("<u4")[1, 0])
    expect(word == sum((int(layer.zs[0, 8 + i]) + 8) << (4 * i) for i in range(8)), "weight_zero_point word [1][0]")
    o = parse_options("compressed-tensors", ["--k", "100", "--n", "60", "--group", "50", "--asym"])
    make("compressed-tensors", os.path.join(root, "ct-padded"), o)   # both packings padded
    selftest_decode("compressed-tensors", o, os.path.join(root, "ct-padded"))


def selftest_expect_act(root):
    """--expect-act bfloat16 on a float16 checkpoint: the scales rounded to nearest even."""
    o = parse_options("awq", ["--asym", "--format", "nd", "--dtype", "int4", "--expect-act", "bfloat16"],
                      conversion=True)
    directory, out = os.path.join(root, "ckpt"), os.path.join(root, "out")
    make("awq", directory, o)
    reference_convert("awq", directory, out, o)
    check("awq", directory, out, o)
    _, t = st.read(os.path.join(out, SAFETENSORS_FILE["awq"]))
    scale = t[LAYERS[0] + ".antiquant_scale"]
    s = truth("awq", o)[0].s
    expect(scale.dtype == "BF16" and np.any(float_values(scale) != s), "the bf16 scales are rounded")
    expect(np.all(np.abs(float_values(scale) - s) <= s * 2.0 ** -8), "bf16 rounding error within half an ulp")


def selftest_same_across_formats(results):
    """The same options give the same converted layers in every format."""
    first = None
    for fmt, tensors in results.items():
        layer_tensors = {n: t for n, t in tensors.items() if n.startswith(LAYERS)}
        if first is None:
            first = layer_tensors
        expect(layer_tensors == first, "%s converts differently from the other formats" % fmt)


def selftest():
    selftest_packing()
    selftest_bf16()
    with tempfile.TemporaryDirectory(prefix="quant-formats-") as root:
        count = 0
        for fmt, variants in VARIANTS.items():
            for i, args in enumerate(variants):
                selftest_format(fmt, args, os.path.join(root, "%s-%d" % (fmt, i)))
                count += 1
        common = ["--asym", "--v2"]
        results = {fmt: selftest_format(fmt, common if fmt == "gptq" else ["--asym"],
                                        os.path.join(root, "same-" + fmt))[("--format", "nz", "--dtype", "int32")]
                   for fmt in FORMATS}
        selftest_same_across_formats(results)
        selftest_mutations(os.path.join(root, "mutations"))
        selftest_stored_words(os.path.join(root, "words"))
        selftest_expect_act(os.path.join(root, "expect-act"))
        for case in BAD_CASES:
            make_bad(case, os.path.join(root, "bad-" + case))
    print("ok: selftest: packing, bf16 rounding, %d checkpoints decoded and checked, %d bad cases written"
          % (count, len(BAD_CASES)))


# ---- command line ----

USAGE = """usage: quant_formats.py make FORMAT DIR [OPTIONS]
       quant_formats.py check FORMAT DIR CONVERTED_DIR --format nd|nz --dtype int4|int32 [--expect-act A] [OPTIONS]
       quant_formats.py reference-convert FORMAT DIR OUT_DIR (the same options as check)
       quant_formats.py tamper-offset CONVERTED_DIR | make-bad CASE DIR | bad-cases | selftest | batch FILE
FORMAT: %s; OPTIONS: --k K --n N --group G --asym --actorder --act float16|bfloat16 --seed S --v2 --channel""" % (
    " | ".join(FORMATS))


def need(args, count):
    if len(args) < count:
        raise Usage("expected %d arguments, got %d" % (count, len(args)))


def main(argv):
    if len(argv) < 2:
        raise Usage("no command")
    cmd, args = argv[1], argv[2:]
    if cmd == "make":
        need(args, 2)
        make(args[0], args[1], parse_options(args[0], args[2:]))
    elif cmd in ("check", "reference-convert"):
        need(args, 3)
        o = parse_options(args[0], args[3:], conversion=True)
        if cmd == "check":
            print(check(args[0], args[1], args[2], o))
        else:
            reference_convert(args[0], args[1], args[2], o)
    elif cmd == "tamper-offset":
        need(args, 1)
        tamper_offset(args[0])
    elif cmd == "make-bad":
        need(args, 2)
        make_bad(args[0], args[1])
    elif cmd == "bad-cases":
        print(" ".join(BAD_CASES))
    elif cmd == "selftest":
        selftest()
    else:
        raise Usage("unknown command %r" % cmd)


ERRORS = (Failure, st.FormatError, st.CheckFailed, OSError, KeyError, ValueError)


def batch(path):
    with open(path) as f:
        lines = [line.strip() for line in f if line.strip()]
    for line in lines:
        try:
            main(["quant_formats.py"] + shlex.split(line))
            print("BATCH-OK: %s" % line)
        except ERRORS + (Usage,) as e:
            print("BATCH-FAIL: %s: %s" % (line, describe(e)))
        sys.stdout.flush()


def describe(e):
    return "missing %s" % e if isinstance(e, KeyError) else str(e)


if __name__ == "__main__":
    try:
        if len(sys.argv) == 3 and sys.argv[1] == "batch":
            batch(sys.argv[2])
        else:
            main(sys.argv)
    except Usage as e:
        sys.stderr.write("quant_formats: %s\n%s\n" % (e, USAGE))
        sys.exit(2)
    except ERRORS as e:
        sys.stderr.write("quant_formats: FAIL: %s\n" % describe(e))
        sys.exit(1)
