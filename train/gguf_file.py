"""gguf_file.py — writing (and, for checks, reading) GGUF version 3 files.

Layout: magic "GGUF", version, tensor count, metadata count; the metadata (key string,
value type, value); the tensor infos (name, dimension count, dimensions innermost first,
ggml type, offset into the data section); padding to the alignment; the tensor data,
each tensor starting at a multiple of the alignment. Little-endian throughout.
"""

import struct

import numpy as np

ALIGNMENT = 32

# metadata value types
T_UINT8, T_INT8, T_UINT16, T_INT16, T_UINT32, T_INT32, T_FLOAT32, T_BOOL, T_STRING, T_ARRAY, \
    T_UINT64, T_INT64, T_FLOAT64 = range(13)
_SCALAR = {T_UINT8: "B", T_INT8: "b", T_UINT16: "H", T_INT16: "h", T_UINT32: "I", T_INT32: "i",
           T_FLOAT32: "f", T_BOOL: "?", T_UINT64: "Q", T_INT64: "q", T_FLOAT64: "d"}

# ggml tensor types used here, and the bytes per block of each
GGML_F32, GGML_F16, GGML_Q8_0 = 0, 1, 8
QK8_0 = 32


def quantize_q8_0(x):
    """Rows of X (float32, length a multiple of 32) as ggml Q8_0 blocks: per 32 values an
    fp16 scale d = max|x| / 127 and 32 int8 values round(x / d)."""
    x = np.asarray(x, dtype=np.float32)
    blocks = x.reshape(-1, QK8_0)
    amax = np.abs(blocks).max(axis=1)
    d = amax / 127.0
    inv = np.where(d > 0, 1.0 / np.where(d > 0, d, 1), 0.0)
    q = np.round(blocks * inv[:, None]).clip(-127, 127).astype(np.int8)
    out = np.zeros(len(blocks), dtype=[("d", "<f2"), ("qs", "i1", (QK8_0,))])
    out["d"] = d.astype(np.float16)
    out["qs"] = q
    return out.tobytes()


def dequantize_q8_0(raw, n):
    blocks = np.frombuffer(raw, dtype=[("d", "<f2"), ("qs", "i1", (QK8_0,))], count=n // QK8_0)
    return (blocks["qs"].astype(np.float32) * blocks["d"].astype(np.float32)[:, None]).reshape(-1)


class GGUFWriter:
    def __init__(self):
        self.kv = []       # (key, type, value, array element type)
        self.tensors = []  # (name, dims innermost first, ggml type, bytes)

    def add(self, key, vtype, value, etype=None):
        self.kv.append((key, vtype, value, etype))

    def add_tensor(self, name, array, ggml_type):
        """ARRAY: float32 numpy array, row-major (outermost dimension first)."""
        a = np.ascontiguousarray(array, dtype=np.float32)
        dims = list(reversed(a.shape))
        if ggml_type == GGML_F32:
            raw = a.astype("<f4").tobytes()
        elif ggml_type == GGML_F16:
            raw = a.astype("<f2").tobytes()
        elif ggml_type == GGML_Q8_0:
            if dims[0] % QK8_0:
                raise ValueError(f"{name}: rows of {dims[0]} are not a multiple of {QK8_0}")
            raw = quantize_q8_0(a)
        else:
            raise ValueError(f"unsupported ggml type {ggml_type}")
        self.tensors.append((name, dims, ggml_type, raw))

    @staticmethod
    def _str(s):
        b = s.encode("utf-8")
        return struct.pack("<Q", len(b)) + b

    def _value(self, vtype, value, etype):
        if vtype == T_STRING:
            return self._str(value)
        if vtype == T_ARRAY:
            out = [struct.pack("<IQ", etype, len(value))]
            if etype == T_STRING:
                out += [self._str(v) for v in value]
            else:
                out.append(np.asarray(value, dtype="<" + _SCALAR[etype]).tobytes())
            return b"".join(out)
        return struct.pack("<" + _SCALAR[vtype], value)

    def write(self, path):
        head = [b"GGUF", struct.pack("<IQQ", 3, len(self.tensors), len(self.kv))]
        for key, vtype, value, etype in self.kv:
            head += [self._str(key), struct.pack("<I", vtype), self._value(vtype, value, etype)]
        offset = 0
        for name, dims, gtype, raw in self.tensors:
            head += [self._str(name), struct.pack("<I", len(dims)),
                     struct.pack("<%dQ" % len(dims), *dims), struct.pack("<IQ", gtype, offset)]
            offset += len(raw) + (-len(raw)) % ALIGNMENT
        header = b"".join(head)
        with open(path, "wb") as f:
            f.write(header)
            f.write(b"\0" * ((-len(header)) % ALIGNMENT))
            for _, _, _, raw in self.tensors:
                f.write(raw)
                f.write(b"\0" * ((-len(raw)) % ALIGNMENT))


def read_gguf(path):
    """Returns (metadata dict, {name: (dims innermost first, ggml type, raw bytes)})."""
    with open(path, "rb") as f:
        buf = f.read()
    if buf[:4] != b"GGUF":
        raise ValueError(f"{path}: not a GGUF file")
    o = 4
    version, n_tensors, n_kv = struct.unpack_from("<IQQ", buf, o)
    o += 20

    def rstr():
        nonlocal o
        (n,) = struct.unpack_from("<Q", buf, o)
        s = buf[o + 8:o + 8 + n].decode("utf-8")
        o += 8 + n
        return s

    def rval(t):
        nonlocal o
        if t == T_STRING:
            return rstr()
        if t == T_ARRAY:
            et, n = struct.unpack_from("<IQ", buf, o)
            o += 12
            return [rval(et) for _ in range(n)]
        (v,) = struct.unpack_from("<" + _SCALAR[t], buf, o)
        o += struct.calcsize("<" + _SCALAR[t])
        return v

    meta = {}
    for _ in range(n_kv):
        k = rstr()
        (t,) = struct.unpack_from("<I", buf, o)
        o += 4
        meta[k] = rval(t)
    infos = []
    for _ in range(n_tensors):
        name = rstr()
        (nd,) = struct.unpack_from("<I", buf, o)
        o += 4
        dims = list(struct.unpack_from("<%dQ" % nd, buf, o))
        o += 8 * nd
        gtype, off = struct.unpack_from("<IQ", buf, o)
        o += 12
        infos.append((name, dims, gtype, off))
    align = meta.get("general.alignment", ALIGNMENT)
    base = o + (-o) % align
    tensors = {}
    for i, (name, dims, gtype, off) in enumerate(infos):
        n = int(np.prod(dims))
        size = {GGML_F32: 4 * n, GGML_F16: 2 * n, GGML_Q8_0: n // QK8_0 * 34}[gtype]
        tensors[name] = (dims, gtype, buf[base + off:base + off + size])
    return meta, tensors


def tensor_array(dims, gtype, raw):
    """A tensor from read_gguf as a float32 array, outermost dimension first."""
    n = int(np.prod(dims))
    if gtype == GGML_F32:
        a = np.frombuffer(raw, dtype="<f4", count=n)
    elif gtype == GGML_F16:
        a = np.frombuffer(raw, dtype="<f2", count=n).astype(np.float32)
    else:
        a = dequantize_q8_0(raw, n)
    return a.reshape(list(reversed(dims)))
