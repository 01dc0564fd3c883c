"""The Python package from the outside: packed bytes against the C++ reference packer and an independent
numpy packer, round trips, errors, the matmul against a numpy version of CANN's golden steps, threads,
torch interop (when torch is installed), and the checkpoint calls on quant_formats.py's fixtures."""
import os
import threading

import numpy as np
import pytest

import int4pack
from int4pack import _int4pack
from conftest import requires_torch
import quant_formats
import safetensors_io as st

EDGE_K = [1, 15, 16, 17, 63, 64, 65, 97]
EDGE_N = [2, 8, 62, 64, 66, 128, 130]


def values(shape, seed=0, dtype=np.int32):
    rng = np.random.default_rng(seed)
    v = rng.integers(-8, 8, size=shape).astype(dtype)
    v.flat[0] = -8
    v.flat[-1] = 7
    return v


@pytest.mark.parametrize("fmt", ["nd", "nz"])
@pytest.mark.parametrize("k", EDGE_K)
@pytest.mark.parametrize("n", EDGE_N)
def test_int4_bytes_match_both_references(fmt, k, n):
    w = values((k, n), seed=k * 1000 + n)
    got = int4pack.pack(w, format=fmt)
    assert got.dtype == np.uint8
    expected_shape = (k, n // 2) if fmt == "nd" else (-(-n // 64), -(-k // 16), 16, 32)
    assert got.shape == expected_shape
    assert got.tobytes() == _int4pack.reference_pack(w, fmt).tobytes()
    independent = st.pack_nd(w) if fmt == "nd" else st.pack_nz(w)
    assert got.tobytes() == independent.tobytes()


@pytest.mark.parametrize("fmt", ["nd", "nz"])
@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.uint8])
def test_int32_words_are_the_same_bytes(fmt, dtype):
    w = values((33, 64), seed=3)
    if dtype == np.uint8:
        w = (w & 15).astype(np.uint8)  # two's complement nibbles: the same packing as the signed values
        ints = int4pack.pack(w, format=fmt, dtype="int32", check=False)
    else:
        ints = int4pack.pack(w.astype(dtype), format=fmt, dtype="int32")
    assert ints.dtype == np.int32
    assert ints.shape[-1] == (8 if fmt == "nz" else 8)
    assert ints.tobytes() == int4pack.pack(values((33, 64), seed=3), format=fmt).tobytes()


def test_stacks_pack_each_matrix_in_its_own_blocks():
    w = values((3, 17, 66), seed=5)
    got = int4pack.pack(w, format="nz")
    assert got.shape == (3, 2, 2, 16, 32)
    for g in range(3):
        assert got[g].tobytes() == _int4pack.reference_pack(w[g], "nz").tobytes()


def test_strided_views_pack_their_logical_values():
    base = values((40, 96), seed=7, dtype=np.int16)
    for view in (base.T, base[::2, 8:72], base[:, ::2]):
        assert int4pack.pack(view).tobytes() == int4pack.pack(np.ascontiguousarray(view)).tobytes()


@pytest.mark.parametrize("fmt", ["nd", "nz"])
def test_unpack_round_trip(fmt):
    for shape in [(1, 2), (17, 66), (2, 16, 130)]:
        w = values(shape, seed=sum(shape))
        back = int4pack.unpack(int4pack.pack(w, format=fmt), shape, format=fmt)
        assert back.dtype == np.int32 and np.array_equal(back, w)
        words = int4pack.pack(w, format=fmt, dtype="int32") if shape[-1] % 8 == 0 else None
        if words is not None:
            assert np.array_equal(int4pack.unpack(words, shape, format=fmt), w)


def test_errors_name_the_element_or_the_rule():
    w = values((4, 8), seed=1)
    w[2, 5] = 9
    with pytest.raises(ValueError, match=r"element \[2, 5\] = 9 is outside \[-8, 7\]"):
        int4pack.pack(w)
    assert int4pack.pack(w, check=False).tobytes() == int4pack.pack(w & 15, check=False).tobytes()
    with pytest.raises(ValueError, match="even"):
        int4pack.pack(values((4, 7)))
    with pytest.raises(ValueError, match="multiple of 8"):
        int4pack.pack(values((4, 6)), dtype="int32")
    with pytest.raises(ValueError, match="2-D"):
        int4pack.pack(values((8,)))
    with pytest.raises(TypeError, match="float32"):
        int4pack.pack(np.zeros((2, 2), dtype=np.float32))
    with pytest.raises(TypeError):
        int4pack.pack([[1, 2]])
    with pytest.raises(ValueError, match="format"):
        int4pack.pack(values((2, 2)), format="nchw")
    with pytest.raises(ValueError, match="bytes"):
        int4pack.unpack(np.zeros(3, dtype=np.uint8), (2, 8))


def test_convert_weight_to_int4pack_is_torch_npus_call():
    w = values((16, 64), seed=2)
    out = int4pack.convert_weight_to_int4pack(w)
    assert isinstance(out, np.ndarray) and out.dtype == np.int32 and out.shape == (16, 8)
    assert out.tobytes() == st.pack_nd(w).tobytes()
    with pytest.raises(TypeError, match="int32"):
        int4pack.convert_weight_to_int4pack(w.astype(np.int8))


# ---- the matmul against a numpy version of CANN's golden steps

def golden(x, q, scale, offset, bias, group):
    """CANN's golden steps: the antiquantized weight ((q + offset) * scale) rounded to float16, products
    summed exactly (double here), y rounded once. Returns (y_ref in double, sum of |x w| for the bound)."""
    k, n = q.shape
    rows = np.arange(k) // (group if group else k)
    s = scale.reshape(-1, n)[rows if group else np.zeros(k, dtype=int)]
    o = np.zeros_like(s) if offset is None else offset.reshape(-1, n)[rows if group else np.zeros(k, dtype=int)]
    w = ((q.astype(np.float16) + o) * s).astype(np.float16).astype(np.float64)
    ref = x.astype(np.float64) @ w
    if bias is not None:
        ref = ref + bias.astype(np.float64)
    return ref, np.abs(x.astype(np.float64)) @ np.abs(w)


def assert_within_golden_bound(y, x, q, scale, offset=None, bias=None, group=0):
    ref, size = golden(x, q, scale, offset, bias, group)
    k = q.shape[0]
    u = 2.0 ** -11
    bound = 1.01 * k * 2.0 ** -24 * size + u * np.abs(ref) + 2.0 ** -24 + (u * np.abs(bias) if bias is not None else 0)
    err = np.abs(y.astype(np.float64) - ref)
    assert np.all(err <= bound), "worst error %g at bound %g" % (err.max(), bound.flat[np.argmax(err - bound)])


def matmul_case(m, k, n, group, seed):
    rng = np.random.default_rng(seed)
    x = (rng.random((m, k)) * 2 - 1).astype(np.float16)
    q = values((k, n), seed=seed)
    groups = -(-k // group) if group else 1
    scale = (rng.random((groups, n)) * 0.02 + 0.001).astype(np.float16)
    offset = rng.integers(-4, 5, size=(groups, n)).astype(np.float16)
    bias = (rng.random(n) - 0.5).astype(np.float16)
    return x, q, scale, offset, bias


@pytest.mark.parametrize("m", [1, 17, 65])
@pytest.mark.parametrize("group", [0, 64])
def test_matmul_nd_within_the_golden_bound(m, group):
    k, n = 192, 136
    x, q, scale, offset, bias = matmul_case(m, k, n, group, seed=m + group)
    s = scale[0] if group == 0 else scale
    o = offset[0] if group == 0 else offset
    w = int4pack.convert_weight_to_int4pack(q)
    y = int4pack.weight_quant_batchmatmul(x, w, s, o, bias, group)
    assert y.dtype == np.float16 and y.shape == (m, n)
    assert_within_golden_bound(y, x, q, s, o, bias, group)
    # uint8 bytes of pack() are the same weight
    y2 = int4pack.weight_quant_batchmatmul(x, int4pack.pack(q), s, o, bias, group)
    assert np.array_equal(y.view(np.uint16), y2.view(np.uint16))


def test_matmul_nz_per_group_and_transposed_per_channel():
    k, n, m = 256, 128, 5
    x, q, scale, offset, _ = matmul_case(m, k, n, 128, seed=11)
    y = int4pack.weight_quant_batchmatmul(x, int4pack.pack(q, format="nz"), scale, offset, None, 128,
                                          weight_format="nz")
    assert_within_golden_bound(y, x, q, scale, offset, None, 128)
    stored = int4pack.pack(np.ascontiguousarray(q.T), format="nz")  # CANN's per-channel NZ: the (n, k) matrix
    y = int4pack.weight_quant_batchmatmul(x, stored, scale[0], None, None, 0, weight_format="nz",
                                          weight_transposed=True)
    assert_within_golden_bound(y, x, q, scale[0])


def test_matmul_int8_weight_and_errors():
    k, n = 64, 32
    x, _, scale, offset, _ = matmul_case(3, k, n, 0, seed=4)
    q8 = np.random.default_rng(4).integers(-128, 128, size=(k, n)).astype(np.int8)
    y = int4pack.weight_quant_batchmatmul(x, q8, scale[0], offset[0])
    assert_within_golden_bound(y, x, q8, scale[0], offset[0])
    with pytest.raises(TypeError, match="antiquant_scale"):
        int4pack.weight_quant_batchmatmul(x, q8, scale[0].astype(np.float32))
    with pytest.raises(ValueError):
        int4pack.weight_quant_batchmatmul(x[:, :k - 1], q8, scale[0])


def test_threads_call_at_once_and_agree():
    w = values((256, 512), seed=9)
    expected = int4pack.pack(w, format="nz").tobytes()
    x, q, scale, offset, bias = matmul_case(8, 256, 128, 64, seed=9)
    y_expected = int4pack.weight_quant_batchmatmul(x, int4pack.pack(q), scale, offset, bias, 64).tobytes()
    failures = []

    def work():
        for _ in range(20):
            if int4pack.pack(w, format="nz").tobytes() != expected:
                failures.append("pack")
            if int4pack.weight_quant_batchmatmul(x, int4pack.pack(q), scale, offset, bias, 64).tobytes() != y_expected:
                failures.append("matmul")

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


# ---- torch

@requires_torch
def test_torch_in_torch_out():
    import torch

    w = torch.from_numpy(values((16, 64), seed=1)).to(torch.int8)
    packed = int4pack.pack(w, format="nz")
    assert isinstance(packed, torch.Tensor) and packed.dtype == torch.uint8
    words = int4pack.convert_weight_to_int4pack(w.to(torch.int32))
    assert isinstance(words, torch.Tensor) and words.dtype == torch.int32 and tuple(words.shape) == (16, 8)
    x = torch.rand(4, 16, dtype=torch.float32).to(torch.bfloat16)
    scale = torch.full((64,), 0.01, dtype=torch.bfloat16)
    y = int4pack.weight_quant_batchmatmul(x, words, scale)
    assert y.dtype == torch.bfloat16 and tuple(y.shape) == (4, 64)
    ref = x.float() @ (w.float() * scale.float())
    assert torch.allclose(y.float(), ref, rtol=2 ** -7, atol=16 * 2 ** -8 * 0.01 * 8)


# ---- checkpoints

def make_fixture(tmp_path, fmt, *options):
    d = str(tmp_path / ("src-" + fmt))
    quant_formats.main(["quant_formats.py", "make", fmt, d] + list(options))
    return d


def test_convert_verify_inspect_a_gptq_checkpoint(tmp_path):
    src = make_fixture(tmp_path, "gptq", "--asym", "--v2", "--actorder")
    dst = str(tmp_path / "out")
    seen = []
    report = int4pack.convert_checkpoint(src, dst, format="nz", progress=lambda done, total: seen.append((done, total)))
    assert report["source_format"] == "gptq" and report["packed_count"] == 2
    assert seen and seen[-1][0] == seen[-1][1]
    quant_formats.main(["quant_formats.py", "check", "gptq", src, dst, "--format", "nz", "--dtype", "int4", "--asym",
                        "--v2", "--actorder"])
    result = int4pack.verify_checkpoint(src, dst, matmul=True)
    assert result["ok"], result
    ratios = [t["matmul_ratio"] for t in result["tensors"] if "matmul_ratio" in t]
    assert len(ratios) == 2 and max(ratios) < 1
    layers = int4pack.inspect_checkpoint(dst)["layers"]
    assert {l["layer"] for l in layers} == {"model.layers.0.mlp.down_proj", "model.layers.0.self_attn.q_proj"}
    assert all(l["group_size"] == 64 and not l["symmetric"] for l in layers)
    quant_formats.main(["quant_formats.py", "tamper-offset", dst])
    tampered = int4pack.verify_checkpoint(src, dst, matmul=True)
    assert not tampered["ok"]
    assert any(t["status"] == "MATMUL" for t in tampered["tensors"])


def test_checkpoint_errors(tmp_path):
    bad = str(tmp_path / "bad")
    quant_formats.main(["quant_formats.py", "make-bad", "nan-scale", bad])
    with pytest.raises(ValueError, match="scales must be finite"):
        int4pack.convert_checkpoint(bad, str(tmp_path / "bad-out"))
    assert not os.path.exists(tmp_path / "bad-out")
    src = make_fixture(tmp_path, "awq", "--asym")
    with pytest.raises(ValueError, match="is the input"):
        int4pack.convert_checkpoint(src, src, force=True)
    with pytest.raises(OSError):
        int4pack.convert_checkpoint(str(tmp_path / "missing"), str(tmp_path / "o"))

    def stop(done, total):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        int4pack.convert_checkpoint(src, str(tmp_path / "stopped"), progress=stop)
    assert not os.path.exists(tmp_path / "stopped")
    assert not [f for f in os.listdir(tmp_path) if "int4pack-tmp" in f]
