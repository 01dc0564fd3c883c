#!/usr/bin/python3
"""An independent safetensors writer/reader and int4 packer for testing int4pack from the outside.

Only json, struct and numpy (run it with /usr/bin/python3, Debian's python3-numpy). Nothing here shares
code with the C++ tool: the packing is re-implemented from the layout's definition.

Library:  write(path, tensors, metadata), read(path) -> (metadata, {name: Tensor}), pack_nd, pack_nz.
Commands (used by cli_test.sh; each exits non-zero with a message on stderr when a check fails):
  make-mixed OUT [--unaligned]       a checkpoint with I32/I16/I8/U8 int4 carriers, F16/F32 tensors, metadata
  make-sharded DIR                   the mixed checkpoint in three shards, with an index and other files
  make-offset8 OUT                   carriers holding unsigned values 0..15 (zero point 8)
  make-extremes OUT                  I32 weights holding INT32_MAX and INT32_MIN
  make-two-bad OUT                   two tensors with out-of-range values (for the validation test)
  make-big OUT MEGABYTES             many I32 int4 weights, about MEGABYTES in all (for the SIGINT test)
  make-bad CASE OUT                  a malformed file; CASE is one of BAD_CASES (listed by bad-cases)
  make-bad-all PREFIX                all of them, as PREFIX<CASE>.safetensors
  check-packed ORIG PACKED [--format nd|nz] [--dtype int4|int32] [--transpose] [--input signed|offset8]
               [--include REGEX] [--exclude REGEX]
                                     PACKED is ORIG converted with those options: the right tensors packed,
                                     packed bytes, records, pass-through tensors and metadata as expected
  drop-tensor IN OUT NAME            IN without one tensor
  same A B                           same tensors (dtype, shape, bytes) and same metadata
  check-index ORIG_DIR PACKED_DIR    the packed index: same weight_map, total_size of the packed tensors
  batch FILE                         runs each line of FILE as a command, in one process
  flip-packed-byte FILE              flips one byte inside the data of the first packed tensor, in place
  flip-byte FILE NAME                the same in tensor NAME
  set-record IN OUT NAME TEXT        IN with __metadata__ "int4pack:NAME" set to TEXT
"""
import json
import os
import re
import struct
import sys

import numpy as np

DTYPES = {
    "BOOL": np.dtype("bool"), "U8": np.dtype("u1"), "I8": np.dtype("i1"), "I16": np.dtype("<i2"),
    "U16": np.dtype("<u2"), "F16": np.dtype("<f2"), "I32": np.dtype("<i4"), "U32": np.dtype("<u4"),
    "F32": np.dtype("<f4"), "I64": np.dtype("<i8"), "U64": np.dtype("<u8"), "F64": np.dtype("<f8"),
}
NAMES = {v: k for k, v in DTYPES.items()}
MAX_HEADER = 100 * 1000 * 1000
CARRIERS = ("I32", "I16", "I8", "U8")


class Tensor:
    def __init__(self, dtype, shape, data):
        self.dtype = dtype          # safetensors name
        self.shape = tuple(shape)
        self.data = bytes(data)     # raw little-endian bytes

    def array(self):
        return np.frombuffer(self.data, dtype=DTYPES[self.dtype]).reshape(self.shape)

    def __eq__(self, other):
        return (self.dtype, self.shape, self.data) == (other.dtype, other.shape, other.data)

    def __repr__(self):
        return "Tensor(%s, %s, %d bytes)" % (self.dtype, list(self.shape), len(self.data))


def tensor(array):
    array = np.ascontiguousarray(array)
    dt = array.dtype.newbyteorder("<") if array.dtype.byteorder == ">" else array.dtype
    return Tensor(NAMES[np.dtype(dt)], array.shape, array.astype(dt).tobytes())


def header_bytes(header, align=8):
    """align=8: padded with spaces to a multiple of 8 (as writers do); align=0: padded to 8k+1 bytes, so
    that the data section starts misaligned for every dtype wider than a byte."""
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    return text + b" " * (((-len(text)) % 8) if align else ((1 - len(text)) % 8))


def write(path, tensors, metadata=None, align=8):
    """tensors: {name: Tensor or numpy array}, written in the given order (align: see header_bytes)."""
    header = {}
    if metadata:
        header["__metadata__"] = dict(metadata)
    offset = 0
    blobs = []
    for name, t in tensors.items():
        if not isinstance(t, Tensor):
            t = tensor(t)
        header[name] = {"dtype": t.dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(t.data)]}
        offset += len(t.data)
        blobs.append(t.data)
    write_raw(path, header_bytes(header, align), b"".join(blobs))


def write_raw(path, header, data=b"", length=None):
    """Writes 8-byte LE length (len(header) unless given) + header bytes + data."""
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header) if length is None else length))
        f.write(header)
        f.write(data)


class FormatError(Exception):
    pass


def read(path):
    """Returns (metadata, {name: Tensor}) in data order; raises FormatError on anything malformed."""
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise FormatError("%s: truncated" % path)
    (n,) = struct.unpack("<Q", blob[:8])
    if n > MAX_HEADER or 8 + n > len(blob):
        raise FormatError("%s: bad header length %d" % (path, n))

    def no_duplicates(pairs):
        keys = [k for k, _ in pairs]
        if len(keys) != len(set(keys)):
            raise FormatError("%s: duplicate key" % path)
        return dict(pairs)

    try:
        header = json.loads(blob[8:8 + n].decode("utf-8"), object_pairs_hook=no_duplicates)
    except (UnicodeDecodeError, ValueError) as e:
        raise FormatError("%s: header: %s" % (path, e))
    data = blob[8 + n:]
    metadata = header.pop("__metadata__", {})
    entries = sorted(header.items(), key=lambda kv: tuple(kv[1]["data_offsets"]))
    covered = 0
    tensors = {}
    for name, e in entries:
        begin, end = e["data_offsets"]
        size = DTYPES[e["dtype"]].itemsize * int(np.prod(e["shape"], dtype=np.int64))
        if begin != covered or end - begin != size or end > len(data):
            raise FormatError("%s: tensor %s: bad offsets %s" % (path, name, e["data_offsets"]))
        tensors[name] = Tensor(e["dtype"], e["shape"], data[begin:end])
        covered = end
    if covered != len(data):
        raise FormatError("%s: trailing bytes" % path)
    return metadata, tensors


# ---- packing, from the layout's definition ----

def pack_nd(values):
    """(rows, cols) int4 values (any int type, two's complement nibbles) -> (rows, cols/2) uint8."""
    w = np.asarray(values).astype(np.int64)
    return ((w[:, 0::2] & 15) | ((w[:, 1::2] & 15) << 4)).astype(np.uint8)


def pack_nz(values):
    """FRACTAL_NZ: the ND bytes padded with zeros to 16-row x 32-byte blocks, ordered (n1, k1, 16, 32):
    column blocks outermost, then row blocks, then the 16 rows and 32 bytes of a block."""
    nd = pack_nd(values)
    rows, row_bytes = nd.shape
    k1, n1 = -(-rows // 16), -(-row_bytes // 32)
    padded = np.zeros((k1 * 16, n1 * 32), dtype=np.uint8)
    padded[:rows, :row_bytes] = nd
    return np.ascontiguousarray(padded.reshape(k1, 16, n1, 32).transpose(2, 0, 1, 3))


def expected_packed(original, fmt, dtype, transpose, encoding):
    """(stored dtype, stored shape, bytes, view shape) of `original` (a carrier Tensor) packed."""
    w = original.array().astype(np.int64)
    if encoding == "offset8":
        w = w - 8
    if transpose:
        w = w.T
    rows, cols = w.shape
    packed = pack_nd(w) if fmt == "nd" else pack_nz(w)
    data = packed.tobytes()
    if dtype == "int4":
        shape = packed.shape
        stored = "U8"
    else:
        shape = packed.shape[:-1] + (packed.shape[-1] // 4,)
        stored = "I32"
    return stored, tuple(shape), data, [rows, cols]


# ---- checkpoints for the tests ----

def rng():
    return np.random.default_rng(20240601)


def mixed_checkpoint():
    g = rng()
    t = {}
    # Selected by default: 2-D integer carriers named ...weight with values in [-8, 7] (U8: [0, 7]).
    t["layers.0.q_proj.weight"] = g.integers(-8, 8, size=(48, 128)).astype("<i4")   # NZ: 3 row blocks, 1 col block
    t["layers.0.k_proj.weight"] = g.integers(-8, 8, size=(24, 160)).astype("<i2")   # NZ: padding in both dims
    t["layers.0.v_proj.weight"] = g.integers(-8, 8, size=(32, 64)).astype("i1")
    t["layers.0.o_proj.weight"] = g.integers(0, 8, size=(16, 80)).astype("u1")
    # Not selected by default.
    t["layers.0.q_proj.scales"] = g.standard_normal((48, 1)).astype("<f2")
    t["embed.weight"] = g.standard_normal((10, 16)).astype("<f4")                   # not an integer carrier
    t["layers.0.norm.weight"] = g.integers(-8, 8, size=(64,)).astype("<i4")         # 1-D
    t["layers.0.big.weight"] = np.array([[1, 2, 3, 100], [4, 5, 6, 7]], dtype="<i4")  # out of int4 range
    t["layers.0.q_proj.bias"] = g.integers(-8, 8, size=(8, 8)).astype("<i4")       # name does not end in weight
    t["position_ids"] = np.arange(16, dtype="<i8")
    t["layers.0.empty.weight"] = np.zeros((0, 8), dtype="<i4")                      # no elements
    t["layers.0.edge.weight"] = np.array([[-8, 7, 0, 1, 2, 3, 4, 5], [6, 7, -8, -7, 8, 0, 0, 0]], dtype="<i4")  # one 8
    return t, {"format": "pt", "origin": "safetensors_io.py"}


SHARDS = {
    "model-00001-of-00003.safetensors": ["layers.0.q_proj.weight", "layers.0.q_proj.scales", "layers.0.k_proj.weight"],
    "model-00002-of-00003.safetensors": ["layers.0.v_proj.weight", "embed.weight", "layers.0.norm.weight"],
    "model-00003-of-00003.safetensors": ["layers.0.o_proj.weight", "layers.0.big.weight", "layers.0.q_proj.bias",
                                         "position_ids", "layers.0.empty.weight", "layers.0.edge.weight"],
}


def write_sharded(directory):
    """The mixed checkpoint as three shards, an index and some other files."""
    tensors, metadata = mixed_checkpoint()
    os.makedirs(directory)
    weight_map = {}
    total = 0
    for shard, names in SHARDS.items():
        write(os.path.join(directory, shard), {n: tensors[n] for n in names}, metadata)
        for n in names:
            weight_map[n] = shard
            total += tensors[n].nbytes
    with open(os.path.join(directory, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total, "note": "kept"}, "weight_map": weight_map}, f, indent=2)
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump({"model_type": "test", "hidden_size": 128}, f)
    with open(os.path.join(directory, "tokenizer.model"), "wb") as f:
        f.write(bytes(range(256)) * 3)


def offset8_checkpoint():
    g = rng()
    t = {
        "a.weight": g.integers(0, 16, size=(32, 64)).astype("<i4"),
        "b.weight": g.integers(0, 16, size=(17, 96)).astype("u1"),
        "c.weight": g.integers(0, 16, size=(24, 48)).astype("<i2"),
        "scale": g.standard_normal((4,)).astype("<f4"),
    }
    t["a.weight"][0, :16] = np.arange(16)  # every value 0..15
    return t, {"format": "pt"}


def two_bad_checkpoint():
    g = rng()
    good = g.integers(-8, 8, size=(8, 16)).astype("<i4")
    bad1 = g.integers(-8, 8, size=(4, 16)).astype("<i4")
    bad1[2, 5] = 8
    bad2 = g.integers(-8, 8, size=(6, 8)).astype("i1")
    bad2[5, 3] = -9
    return {"good.weight": good, "first_bad.weight": bad1, "second_bad.weight": bad2}, {}


def extremes_checkpoint():
    """I32 weights holding the extreme int32 values: never int4 weights."""
    hi = np.zeros((2, 8), dtype="<i4")
    hi[1, 6] = 2**31 - 1
    lo = np.zeros((2, 8), dtype="<i4")
    lo[0, 1] = -2**31
    return {"max.weight": hi, "min.weight": lo}, {}


def big_checkpoint(megabytes):
    g = rng()
    block = g.integers(-8, 8, size=(512, 512)).astype("<i4")  # 1 MiB
    tensors = {}
    for i in range(int(megabytes)):
        tensors["layers.%d.weight" % i] = block
    return tensors, {}


def write_big(path, megabytes):
    """Streams the big checkpoint to disk without holding it all in memory."""
    tensors, _ = big_checkpoint(1)
    block = next(iter(tensors.values())).tobytes()
    header = {}
    for i in range(int(megabytes)):
        header["layers.%d.weight" % i] = {"dtype": "I32", "shape": [512, 512],
                                          "data_offsets": [i * len(block), (i + 1) * len(block)]}
    with open(path, "wb") as f:
        text = header_bytes(header)
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for _ in range(int(megabytes)):
            f.write(block)


BAD_CASES = [
    "truncated", "truncated-data", "header-past-end", "invalid-json", "out-of-bounds", "overlap", "hole",
    "length-mismatch", "duplicate-name", "unknown-dtype", "header-over-100mb", "non-utf8-name",
]


def make_bad(case, path):
    ok = {"dtype": "I32", "shape": [2, 2], "data_offsets": [0, 16]}
    data = bytes(16)
    if case == "truncated":
        with open(path, "wb") as f:
            f.write(b"\x10\x00\x00")
        return
    if case == "truncated-data":  # a valid header, half of the data missing
        write_raw(path, header_bytes({"w.weight": ok}), data[:8])
        return
    if case == "header-past-end":
        write_raw(path, header_bytes({"w.weight": ok}), data, length=4096)
        return
    if case == "invalid-json":
        write_raw(path, b'{"w.weight": {"dtype": "I32", "shape": [2, 2], ', data)
        return
    if case == "header-over-100mb":
        write_raw(path, header_bytes({"w.weight": ok}), data, length=MAX_HEADER + 1)
        return
    if case == "non-utf8-name":
        write_raw(path, b'{"w\xffeight": {"dtype": "I32", "shape": [2, 2], "data_offsets": [0, 16]}}', data)
        return
    if case == "duplicate-name":
        text = (b'{"w.weight": {"dtype": "I32", "shape": [2, 2], "data_offsets": [0, 16]}, '
                b'"w.weight": {"dtype": "I32", "shape": [2, 2], "data_offsets": [16, 32]}}')
        write_raw(path, text, bytes(32))
        return
    headers = {
        "out-of-bounds": ({"w.weight": {"dtype": "I32", "shape": [2, 2], "data_offsets": [0, 32]}}, data),
        "overlap": ({"a.weight": {"dtype": "I32", "shape": [2, 2], "data_offsets": [0, 16]},
                     "b.weight": {"dtype": "I32", "shape": [2, 2], "data_offsets": [8, 24]}}, bytes(24)),
        "hole": ({"a.weight": {"dtype": "I32", "shape": [2, 2], "data_offsets": [0, 16]},
                  "b.weight": {"dtype": "I32", "shape": [2, 2], "data_offsets": [24, 40]}}, bytes(40)),
        "length-mismatch": ({"w.weight": {"dtype": "I32", "shape": [2, 3], "data_offsets": [0, 16]}}, data),
        "unknown-dtype": ({"w.weight": {"dtype": "I3", "shape": [2, 2], "data_offsets": [0, 16]}}, data),
    }
    if case not in headers:
        raise SystemExit("unknown bad case " + case)
    header, payload = headers[case]
    write_raw(path, header_bytes(header), payload)


# ---- checks ----

class CheckFailed(Exception):
    pass


def fail(message):
    raise CheckFailed(message)


def check_packed(original_path, packed_path, fmt, dtype, transpose, encoding, include=None, exclude=None):
    ometa, orig = read(original_path)
    pmeta, packed = read(packed_path)
    if list(orig) != list(packed):
        fail("tensor names/order differ: %s vs %s" % (list(orig), list(packed)))
    records = {k[len("int4pack:"):]: v for k, v in pmeta.items() if k.startswith("int4pack:")}
    lo, hi = (0, 15) if encoding == "offset8" else (-8, 7)
    n_packed = 0
    for name, t in orig.items():
        p = packed[name]
        if exclude is not None and re.search(exclude, name):
            chosen = False
        elif include is not None:
            chosen = re.search(include, name) is not None
        else:  # the default selection
            chosen = (t.dtype in CARRIERS and len(t.shape) == 2 and name.endswith("weight") and t.array().size > 0
                      and int(t.array().min()) >= lo and int(t.array().max()) <= hi)
        if not chosen:
            if name in records:
                fail("%s was packed but should not have been" % name)
            if p != t:
                fail("pass-through tensor %s changed: %r -> %r" % (name, t, p))
            continue
        n_packed += 1
        if name not in records:
            fail("%s: no int4pack:%s record in __metadata__" % (name, name))
        stored, shape, data, view = expected_packed(t, fmt, dtype, transpose, encoding)
        if (p.dtype, p.shape) != (stored, shape):
            fail("%s: stored as %s %s, expected %s %s" % (name, p.dtype, list(p.shape), stored, list(shape)))
        if p.data != data:
            diff = next(i for i in range(len(data)) if data[i] != p.data[i])
            fail("%s: packed bytes differ from the numpy packing, first at byte %d (%d vs %d)"
                 % (name, diff, p.data[diff], data[diff]))
        record = json.loads(records[name])
        want = {"format": fmt, "dtype": dtype, "view_shape": view, "original_dtype": t.dtype,
                "original_shape": list(t.shape), "transposed": transpose, "input": encoding,
                "nibble_order": "low_first"}
        if record != want:
            fail("%s: record %s, expected %s" % (name, record, want))
    extra = set(records) - set(orig)
    if extra:
        fail("records for unknown tensors %s" % sorted(extra))
    rest = {k: v for k, v in pmeta.items() if not k.startswith("int4pack:")}
    if rest != dict(ometa, **{"int4pack.version": "1"}):
        fail("metadata %s, expected the original's %s plus int4pack.version" % (rest, ometa))
    if n_packed == 0:
        fail("nothing packed in %s" % original_path)
    print("check-packed: %d packed tensors and %d others as expected" % (n_packed, len(orig) - n_packed))


def same(a, b):
    ameta, at = read(a)
    bmeta, bt = read(b)
    if ameta != bmeta:
        fail("metadata differs: %s vs %s" % (ameta, bmeta))
    if list(at) != list(bt):
        fail("tensor names/order differ: %s vs %s" % (list(at), list(bt)))
    for name in at:
        if at[name] != bt[name]:
            fail("tensor %s differs: %r vs %r" % (name, at[name], bt[name]))


def check_index(original_dir, packed_dir, index="model.safetensors.index.json"):
    """The packed directory's index: the original's weight_map, total_size = the packed tensors' bytes."""
    a = json.load(open(os.path.join(original_dir, index)))
    b = json.load(open(os.path.join(packed_dir, index)))
    if a["weight_map"] != b["weight_map"]:
        fail("weight_map changed")
    total = sum(len(t.data) for shard in sorted(set(b["weight_map"].values()))
                for t in read(os.path.join(packed_dir, shard))[1].values())
    if b.get("metadata", {}).get("total_size") != total:
        fail("index metadata %s, expected total_size %d" % (b.get("metadata"), total))
    if {k: v for k, v in a.items() if k != "metadata"} != {k: v for k, v in b.items() if k != "metadata"}:
        fail("index keys besides metadata changed")
    if {k: v for k, v in a["metadata"].items() if k != "total_size"} != \
            {k: v for k, v in b["metadata"].items() if k != "total_size"}:
        fail("index metadata besides total_size changed")


def flip_byte(path, name=None):
    """Flips one bit of the byte in the middle of tensor `name` (default: the first packed tensor)."""
    with open(path, "rb") as f:
        blob = bytearray(f.read())
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    meta = header.get("__metadata__", {})
    for key, e in header.items():
        if key != "__metadata__" and (key == name or (name is None and "int4pack:" + key in meta)):
            begin, end = e["data_offsets"]
            blob[8 + n + begin + (end - begin) // 2] ^= 0x10
            with open(path, "wb") as f:
                f.write(blob)
            return
    fail("no tensor %s in %s" % (name or "packed", path))


def main(argv):
    cmd, args = argv[1], argv[2:]
    if cmd == "make-mixed":
        t, m = mixed_checkpoint()
        write(args[0], t, m, align=0 if "--unaligned" in args else 8)
    elif cmd == "make-sharded":
        write_sharded(args[0])
    elif cmd == "make-offset8":
        write(args[0], *offset8_checkpoint())
    elif cmd == "make-extremes":
        write(args[0], *extremes_checkpoint())
    elif cmd == "make-two-bad":
        write(args[0], *two_bad_checkpoint())
    elif cmd == "make-big":
        write_big(args[0], int(args[1]))
    elif cmd == "make-bad":
        make_bad(args[0], args[1])
    elif cmd == "make-bad-all":  # make-bad-all PREFIX: PREFIX<case>.safetensors for every case
        for case in BAD_CASES:
            make_bad(case, "%s%s.safetensors" % (args[0], case))
    elif cmd == "bad-cases":
        print(" ".join(BAD_CASES))
    elif cmd == "check-packed":
        opts = {"--format": "nd", "--dtype": "int4", "--input": "signed", "--include": None, "--exclude": None}
        transpose = False
        i = 2
        while i < len(args):
            if args[i] == "--transpose":
                transpose = True
                i += 1
            else:
                opts[args[i]] = args[i + 1]
                i += 2
        check_packed(args[0], args[1], opts["--format"], opts["--dtype"], transpose, opts["--input"],
                     opts["--include"], opts["--exclude"])
    elif cmd == "check-index":
        check_index(args[0], args[1])
    elif cmd == "same":
        same(args[0], args[1])
    elif cmd == "drop-tensor":  # drop-tensor IN OUT NAME: IN without tensor NAME (metadata kept)
        meta, tensors = read(args[0])
        del tensors[args[2]]
        write(args[1], tensors, meta)
    elif cmd == "flip-byte":  # flip-byte FILE NAME: flips a byte in the middle of tensor NAME, in place
        flip_byte(args[0], args[1])
    elif cmd == "set-record":  # set-record IN OUT NAME TEXT: IN with metadata int4pack:NAME set to TEXT
        meta, tensors = read(args[0])
        meta["int4pack:" + args[2]] = args[3]
        write(args[1], tensors, meta)
    elif cmd == "flip-packed-byte":
        flip_byte(args[0])
    elif cmd == "read":  # prints a summary
        meta, tensors = read(args[0])
        print(json.dumps({"metadata": meta, "tensors": {k: [v.dtype, list(v.shape)] for k, v in tensors.items()}}))
    else:
        raise SystemExit("unknown command " + cmd)


def batch(path):
    """Runs every line of `path` (a command line of this script, shell-quoted) in this one process, which
    saves numpy's start-up per check; prints 'BATCH-OK: line' or 'BATCH-FAIL: line: why' for each."""
    import shlex
    with open(path) as f:
        lines = [line.strip() for line in f if line.strip()]
    for line in lines:
        try:
            main(["safetensors_io.py"] + shlex.split(line))
            print("BATCH-OK: %s" % line)
        except (CheckFailed, FormatError, OSError, KeyError, ValueError) as e:
            print("BATCH-FAIL: %s: %s" % (line, e))
        sys.stdout.flush()


if __name__ == "__main__":
    try:
        if sys.argv[1] == "batch":
            batch(sys.argv[2])
        else:
            main(sys.argv)
    except (CheckFailed, FormatError) as e:
        sys.stderr.write("safetensors_io: FAIL: %s\n" % e)
        sys.exit(1)
