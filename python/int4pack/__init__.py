"""int4pack: CANN's int4 weight packing and W4A16 matmul on any host, and the checkpoint converter.

Arrays are numpy arrays or torch CPU tensors; a call given torch tensors returns torch tensors. The work
runs in the compiled engine (all cores, the CPU's best instruction set) with the GIL released.

    pack(weight, format="nd", dtype="int4", check=True)      int4 values -> CANN's packed storage
    unpack(packed, shape, format="nd")                        and back
    convert_weight_to_int4pack(weight)                        torch_npu.npu_convert_weight_to_int4pack
    weight_quant_batchmatmul(x, weight, antiquant_scale, ...) torch_npu.npu_weight_quant_batchmatmul
    convert_checkpoint(src, dst, ...), verify_checkpoint(original, converted, matmul=False),
    inspect_checkpoint(path)                                  the int4pack CLI's subcommands

Errors: ValueError (bad values or shapes; the message names the element index and value, or the rule
and the sizes), TypeError (wrong dtypes), OSError (files).
"""
import numpy as _np

from . import _int4pack

__all__ = [
    "pack",
    "unpack",
    "convert_weight_to_int4pack",
    "weight_quant_batchmatmul",
    "convert_checkpoint",
    "verify_checkpoint",
    "inspect_checkpoint",
    "isa",
    "num_threads",
]

__version__ = "0.1.0"

_INT_DTYPES = (_np.int8, _np.int16, _np.int32, _np.uint8, _np.uint16, _np.uint32)


def _is_torch(obj):
    return type(obj).__module__.startswith("torch") and hasattr(obj, "numpy")


def _as_numpy(obj, what):
    """A numpy view of obj (a numpy array or a torch CPU tensor), without copying."""
    if isinstance(obj, _np.ndarray):
        return obj
    if _is_torch(obj):
        if obj.device.type != "cpu":
            raise ValueError("%s is on %s; int4pack runs on the host (use a CPU tensor)" % (what, obj.device))
        return obj.detach().numpy()
    raise TypeError("%s must be a numpy array or a torch tensor, not %s" % (what, type(obj).__name__))


def _to_like(result, like):
    if _is_torch(like):
        import torch

        return torch.from_numpy(result)
    return result


def isa():
    """The instruction set the engine runs ("avx512", "avx2", "neon", "scalar"; INT4PACK_ISA forces one)."""
    return _int4pack.isa()


def num_threads():
    """The threads the engine splits work over (INT4PACK_NUM_THREADS, else every CPU)."""
    return _int4pack.num_threads()


def pack(weight, format="nd", dtype="int4", check=True):
    """Packs int4 values as aclnnConvertWeightToINT4Pack stores them.

    weight: a (k, n) or (g, k, n) integer array (int8/int16/int32/uint8/uint16/uint32, any strides: a
    transposed view packs by its logical values) of values in [-8, 7]. format: "nd" (row-major, element
    2j of a row in the low nibble of byte j) or "nz" (FRACTAL_NZ blocks of 16 rows x 64 values). dtype:
    "int4" gives uint8 bytes, ND (k, n/2), NZ (ceil(n/64), ceil(k/16), 16, 32); "int32" gives int32 words
    of 8 values, ND (k, n/8), NZ (..., 16, 8). A stack gets a leading g. check: refuse a value outside
    [-8, 7] (ValueError naming the first); without it values are masked with 0xF, as CANN does.
    """
    w = _as_numpy(weight, "weight")
    return _to_like(_int4pack.pack(w, format, dtype, bool(check)), weight)


def unpack(packed, shape, format="nd"):
    """The int32 values in [-8, 7] of a packed (k, n) or (g, k, n) `shape` (uint8 or int32 storage)."""
    p = _np.ascontiguousarray(_as_numpy(packed, "packed"))
    return _to_like(_int4pack.unpack(p, [int(d) for d in shape], format), packed)


def convert_weight_to_int4pack(weight):
    """torch_npu.npu_convert_weight_to_int4pack on the host: int32 (k, n) values in [-8, 7] to the int32
    (k, n/8) ND words aclnnWeightQuantBatchMatmulV2 takes. Returns what it was given: numpy or torch."""
    w = _as_numpy(weight, "weight")
    if w.dtype != _np.int32:
        raise TypeError("weight must be int32, as torch_npu's call takes it, not %s" % w.dtype)
    return _to_like(_int4pack.pack(w, "nd", "int32", True), weight)


def _half_bits(obj, what):
    """(bits as uint16 array, "float16" | "bfloat16") of a float16 numpy array or a float16/bfloat16 tensor."""
    if _is_torch(obj):
        import torch

        if obj.dtype == torch.bfloat16:
            return obj.detach().view(torch.int16).numpy().view(_np.uint16), "bfloat16"
        if obj.dtype == torch.float16:
            return obj.detach().numpy().view(_np.uint16), "float16"
        raise TypeError("%s must be float16 or bfloat16, not %s" % (what, obj.dtype))
    a = _as_numpy(obj, what)
    if a.dtype != _np.float16:
        raise TypeError("%s must be float16 (numpy has no bfloat16: pass a torch tensor for it), not %s" % (what, a.dtype))
    return a.view(_np.uint16), "float16"


def _weight_dims(w, weight_format, weight_transposed, scale, x_k):
    """(k, n) of a weight: from its ND shape; FRACTAL_NZ storage hides them, so k is x's and n the scale's."""
    if weight_format == "nz":
        if scale.ndim == 1 and scale.shape[0] == 1:
            raise ValueError("a FRACTAL_NZ weight's n comes from antiquant_scale, which has one element: pass n=")
        return x_k, scale.shape[-1]
    if w.ndim != 2:
        raise ValueError("an ND weight must be 2-D, but its shape is %s" % (w.shape,))
    per = {_np.dtype(_np.int8): 1, _np.dtype(_np.uint8): 2, _np.dtype(_np.int32): 8}[w.dtype]
    if weight_transposed:
        return w.shape[1] * per, w.shape[0]
    return w.shape[0], w.shape[1] * per


def weight_quant_batchmatmul(x, weight, antiquant_scale, antiquant_offset=None, bias=None, antiquant_group_size=0,
                             *, weight_format="nd", weight_transposed=False, n=None):
    """torch_npu.npu_weight_quant_batchmatmul on the host: y = x @ ((weight + offset) * scale) + bias,
    computed by the engine behind aclnnWeightQuantBatchMatmulV2 (CANN's golden steps: the antiquantized
    weight rounded to x's dtype, float32 accumulation, one final rounding; the same result for every thread
    count).

    x: (m, k) float16 (numpy or torch) or bfloat16 (torch). weight: int8 (k, n) values, or packed int4:
    int32 (k, n/8) words as convert_weight_to_int4pack gives, or uint8 (k, n/2) bytes as pack gives.
    weight_transposed: the stored matrix is (n, k) (int8 (n, k), int32 (n, k/8), uint8 (n, k/2)).
    weight_format "nz": FRACTAL_NZ storage as pack(..., format="nz") gives (n comes from the scale, or n=).
    antiquant_scale / antiquant_offset: x's dtype, (n,) per-channel, (1,) per-tensor, or (ceil(k/g), n)
    per-group with antiquant_group_size = g. bias: (n,), float16 for float16 x, float32 for bfloat16 x.
    Returns y (m, n) in x's dtype, of x's kind.
    """
    xb, x_type = _half_bits(x, "x")
    if xb.ndim != 2:
        raise ValueError("x must be 2-D (m, k), but its shape is %s" % (xb.shape,))
    k = xb.shape[1]
    w = _np.ascontiguousarray(_as_numpy(weight, "weight"))
    if w.dtype not in (_np.int8, _np.int32, _np.uint8):
        raise TypeError("weight must be int8 values or int32/uint8 packed int4, not %s" % w.dtype)
    scale, s_type = _half_bits(antiquant_scale, "antiquant_scale")
    if s_type != x_type:
        raise TypeError("antiquant_scale must have x's dtype %s, not %s" % (x_type, s_type))
    weight_k, weight_n = _weight_dims(w, weight_format, weight_transposed, scale, k)
    if n is None:
        n = weight_n
    offset = None
    if antiquant_offset is not None:
        offset, o_type = _half_bits(antiquant_offset, "antiquant_offset")
        if o_type != x_type:
            raise TypeError("antiquant_offset must have x's dtype %s, not %s" % (x_type, o_type))
    bias_array, bias_type = None, "float16"
    if bias is not None:
        if x_type == "bfloat16":
            bias_array, bias_type = _as_numpy(bias, "bias"), "float32"
            if bias_array.dtype != _np.float32:
                raise TypeError("bias must be float32 for bfloat16 x, not %s" % bias_array.dtype)
        else:
            bias_array, _ = _half_bits(bias, "bias")
    if weight_k != k:
        raise ValueError("x's k and weight's k must be equal, but x is %s and the weight holds k = %d" % (xb.shape, weight_k))
    y = _int4pack.matmul(xb, x_type, w, "int8" if w.dtype == _np.int8 else "int4", weight_format,
                         bool(weight_transposed), int(k), int(n), scale, offset, bias_array, bias_type,
                         int(antiquant_group_size))
    if _is_torch(x):
        import torch

        return torch.from_numpy(y.view(_np.int16)).view(torch.bfloat16 if x_type == "bfloat16" else torch.float16)
    return y.view(_np.float16)


def convert_checkpoint(src, dst, *, from_format="auto", format="nd", dtype="int4", act_dtype=None, include="",
                       exclude="", force=False, sync=True, progress=None):
    """int4pack convert: a checkpoint (file or directory) -> what aclnnWeightQuantBatchMatmulV2 consumes.

    from_format: "auto" (from the config files), "carrier", "compressed-tensors", "gptq", "awq",
    "msmodelslim". format: "nd", "nz" or "auto" (quantized layers: NZ where the operator takes it).
    act_dtype: "float16" / "bfloat16" for the scales (default: config.json's torch_dtype). progress: called
    as progress(done_bytes, total_bytes) between tensors; an exception it raises stops the conversion.
    Every problem is reported at once (ValueError) and then nothing is written. Returns a dict: source_format,
    packed_count, tensor_count, output_tensor_bytes, packed (one dict per packed weight).
    """
    return _int4pack.convert_checkpoint(str(src), str(dst), from_format, format, dtype, act_dtype or "", include,
                                        exclude, bool(force), bool(sync), progress)


def verify_checkpoint(original, converted, matmul=False):
    """int4pack verify: every converted tensor re-derived from `original` and compared byte for byte; with
    matmul, every converted quantized layer multiplied by a seeded random x through the engine and compared
    with the original's own dequantization in double precision. Returns {"ok", "failures", "packed_checked",
    "tensors": [{"name", "status", "detail"[, "matmul_ratio"]}]}."""
    return _int4pack.verify_checkpoint(str(original), str(converted), bool(matmul))


def inspect_checkpoint(path):
    """int4pack inspect: {"format", "shards", "bytes", "tensors": [...], "layers": [{"layer",
    "source_format", "k", "n", "group_size", "symmetric", "act_order", "packed_as"}], "problems"}."""
    return _int4pack.inspect_checkpoint(str(path))
