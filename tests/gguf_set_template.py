#!/usr/bin/env python3
"""gguf_set_template.py IN.gguf OUT.gguf TEMPLATE.jinja — copies a GGUF file with its
tokenizer.chat_template replaced (or added): metadata and tensors are kept byte for byte,
the tensor data moved to stay aligned. Tests use it to run a template on a model whose
architecture llmscope loads (tests/tui.test.sh); the copy lives in a temporary folder."""
import struct
import sys

FIXED = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}  # value type -> bytes
STRING, ARRAY = 8, 9
KEY = b"tokenizer.chat_template"


def skip_value(buf, at, vtype):
    """The offset just past a value of VTYPE starting at AT."""
    if vtype in FIXED:
        return at + FIXED[vtype]
    if vtype == STRING:
        (n,) = struct.unpack_from("<Q", buf, at)
        return at + 8 + n
    if vtype == ARRAY:
        etype, count = struct.unpack_from("<IQ", buf, at)
        at += 12
        if etype in FIXED:
            return at + FIXED[etype] * count
        for _ in range(count):
            at = skip_value(buf, at, etype)
        return at
    raise ValueError("unknown GGUF value type %d" % vtype)


def gguf_string(s):
    return struct.pack("<Q", len(s)) + s


def main():
    src, dst, template = sys.argv[1:4]
    buf = open(src, "rb").read()
    text = open(template, "rb").read()
    magic, version, n_tensors, n_kv = struct.unpack_from("<4sIQQ", buf, 0)
    if magic != b"GGUF" or version < 2:
        sys.exit("%s: not a GGUF v2+ file" % src)
    at = 24
    kvs, alignment = [], 32
    for _ in range(n_kv):
        start = at
        (klen,) = struct.unpack_from("<Q", buf, at)
        key = buf[at + 8:at + 8 + klen]
        at += 8 + klen
        (vtype,) = struct.unpack_from("<I", buf, at)
        end = skip_value(buf, at + 4, vtype)
        if key == b"general.alignment":
            (alignment,) = struct.unpack_from("<I", buf, at + 4)
        if key != KEY:
            kvs.append(buf[start:end])
        at = end
    kvs.append(gguf_string(KEY) + struct.pack("<I", STRING) + gguf_string(text))
    infos_start = at
    for _ in range(n_tensors):
        (nlen,) = struct.unpack_from("<Q", buf, at)
        at += 8 + nlen
        (n_dims,) = struct.unpack_from("<I", buf, at)
        at += 4 + 8 * n_dims + 4 + 8
    infos = buf[infos_start:at]
    data_start = (at + alignment - 1) // alignment * alignment
    head = struct.pack("<4sIQQ", b"GGUF", version, n_tensors, len(kvs)) + b"".join(kvs) + infos
    head += b"\0" * ((-len(head)) % alignment)
    with open(dst, "wb") as out:
        out.write(head)
        out.write(buf[data_start:])  # tensor offsets are relative to the data section


if __name__ == "__main__":
    main()
