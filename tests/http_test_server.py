#!/usr/bin/env python3
"""http_test_server.py - a local stand-in for Hugging Face, used by tests/test_pull.c.

usage: http_test_server.py ROOT LOGFILE [LIFETIME_SECONDS]

Listens on 127.0.0.1 only, on a free port, and prints that port on stdout. Serves the
files in ROOT at /MODE/OWNER/REPO/resolve/main/FILE (FILE is looked up in ROOT; the
owner and repository are ignored). Exits when its stdin reaches end-of-file, which
happens when the test that started it ends or dies, or after LIFETIME_SECONDS (default
300), whichever comes first.

MODE chooses how the server behaves, so that one server covers every case:
  ok         honours "Range: bytes=N-" (206), answers 416 past the end; ETag is the
             file's sha256, as Hugging Face sends it
  hf         like Hugging Face for LFS files: 302 to /cdn/... with the sha256 in
             X-Linked-Etag (and an ETag that is not a sha256); /cdn/ serves the bytes
             with an md5-like ETag
  corrupt    like ok, but one byte in the middle of the file is flipped (the ETag still
             names the real file)
  drop       like ok, but every response stops after DROP_BYTES bytes of body and the
             connection is closed (Content-Length still promises the rest)
  dropfirst  the first request for a file without a Range is cut off halfway; later
             requests are served as in ok
  norange    ignores Range and always answers 200 with the whole file
  nohash     like ok, without any ETag
  evil       a 404 whose reason phrase carries terminal escape sequences: ESC sequences
             that set the title and clear the screen, BEL, the 8-bit CSI (0x9B) and its
             UTF-8 form (C2 9B)
  endless    200 without Content-Length: the file, then zeros until the client hangs up
  hugecl     200 announcing a Content-Length of 10 GB (then the file, and the end)
  bighdr     200 with a 1 MB header line before the file
Anything else, or a file that is not in ROOT, is a 404.

Each request appends one line to LOGFILE:
  GET /ok/owner/repo/resolve/main/x.gguf range=bytes=100- status=206 sent=123
"""

import hashlib
import http.server
import os
import select
import sys
import threading
import time

DROP_BYTES = 256 * 1024
CHUNK = 64 * 1024


class State:
    """What the handlers share: the root, the log, cached hashes and the dropfirst memory."""

    def __init__(self, root, log_path):
        self.root = os.path.realpath(root)
        self.log_path = log_path
        self.lock = threading.Lock()
        self.hashes = {}
        self.dropped = set()

    def sha256(self, path):
        with self.lock:
            if path not in self.hashes:
                h = hashlib.sha256()
                with open(path, "rb") as f:
                    for block in iter(lambda: f.read(1 << 20), b""):
                        h.update(block)
                self.hashes[path] = h.hexdigest()
            return self.hashes[path]

    def log(self, line):
        with self.lock:
            with open(self.log_path, "a") as f:
                f.write(line + "\n")

    def first_plain_request(self, path):
        """True the first time PATH is asked for without a Range (dropfirst mode)."""
        with self.lock:
            if path in self.dropped:
                return False
            self.dropped.add(path)
            return True


def parse_range(header, size):
    """(start, end) inclusive for "bytes=N-" or "bytes=N-M"; None for no/unsupported
    Range; "unsatisfiable" when N is at or past the end."""
    if not header or not header.startswith("bytes=") or "," in header:
        return None
    first, _, last = header[len("bytes="):].partition("-")
    try:
        start = int(first)
        end = int(last) if last else size - 1
    except ValueError:
        return None
    if start >= size:
        return "unsatisfiable"
    return start, min(end, size - 1)


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "llmscope-test/1"
    protocol_version = "HTTP/1.0"  # one request per connection: a drop is a close

    def log_message(self, fmt, *args):  # keep the test output clean
        pass

    def record(self, status, sent):
        self.server.state.log("%s %s range=%s status=%d sent=%d" % (
            self.command, self.path, self.headers.get("Range") or "-", status, sent))

    def simple(self, status, headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", "0")
        self.end_headers()
        self.record(status, 0)

    def do_GET(self):
        state = self.server.state
        parts = self.path.split("?")[0].split("/")
        # "", MODE, then either OWNER, REPO, "resolve", "main", FILE... or FILE... for /cdn/
        mode = parts[1] if len(parts) > 1 else ""
        if mode == "cdn":
            rel = "/".join(parts[2:])
        elif len(parts) >= 7 and parts[4] == "resolve" and parts[5] == "main":
            rel = "/".join(parts[6:])
        else:
            return self.simple(404)
        path = os.path.realpath(os.path.join(state.root, rel))
        if (mode not in ("ok", "hf", "cdn", "corrupt", "drop", "dropfirst", "norange", "nohash",
                         "evil", "endless", "hugecl", "bighdr")
                or not path.startswith(state.root + os.sep) or not os.path.isfile(path)):
            return self.simple(404)
        sha = state.sha256(path)

        if mode == "evil":
            self.send_response(404, "Not Found \x1b]0;pwned\x07\x1b[2J\x9b31m\u00c2\u009b2J")
            self.send_header("Content-Length", "0")
            self.end_headers()
            self.record(404, 0)
            return None
        if mode in ("endless", "hugecl", "bighdr"):
            return self.hostile_body(mode, path)

        if mode == "hf":
            return self.simple(302, [("Location", "/cdn/" + rel),
                                     ("X-Linked-Etag", '"%s"' % sha),
                                     ("X-Linked-Size", str(os.path.getsize(path))),
                                     ("ETag", 'W/"41-deadbeef"')])

        with open(path, "rb") as f:
            data = bytearray(f.read())
        size = len(data)
        if mode == "corrupt":
            data[size // 2] ^= 0xFF

        rng = None if mode == "norange" else parse_range(self.headers.get("Range"), size)
        if rng == "unsatisfiable":
            return self.simple(416, [("Content-Range", "bytes */%d" % size)])
        start, end = rng if rng else (0, size - 1)
        limit = end - start + 1
        if mode == "drop":
            limit = min(limit, DROP_BYTES)
        elif mode == "dropfirst" and rng is None and state.first_plain_request(path):
            limit = size // 2

        status = 206 if rng else 200
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Accept-Ranges", "bytes")
        if rng:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, end, size))
        if mode == "cdn":
            self.send_header("ETag", '"%s"' % hashlib.md5(bytes(data)).hexdigest())
        elif mode != "nohash":
            self.send_header("ETag", '"%s"' % sha)
        self.end_headers()
        sent = 0
        try:
            while sent < limit:
                n = min(CHUNK, limit - sent)
                self.wfile.write(data[start + sent:start + sent + n])
                sent += n
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True
        self.record(status, sent)


def hostile_body(self, mode, path):
    """The whole file with a hostile framing (see the modes above)."""
    with open(path, "rb") as f:
        data = f.read()
    self.send_response(200)
    self.send_header("Content-Type", "application/octet-stream")
    if mode == "hugecl":
        self.send_header("Content-Length", str(10 * 1000 ** 3))
    if mode == "bighdr":
        self.send_header("X-Filler", "a" * (1 << 20))
        self.send_header("Content-Length", str(len(data)))
    self.end_headers()
    sent = 0
    try:
        self.wfile.write(data)
        sent = len(data)
        zeros = bytes(CHUNK)
        while mode == "endless":
            self.wfile.write(zeros)
            sent += len(zeros)
        self.wfile.flush()
    except (BrokenPipeError, ConnectionResetError):
        pass
    self.close_connection = True
    self.record(200, sent)


Handler.hostile_body = hostile_body


def main():
    if len(sys.argv) not in (3, 4):
        sys.stderr.write(__doc__)
        return 2
    lifetime = float(sys.argv[3]) if len(sys.argv) == 4 else 300.0
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.state = State(sys.argv[1], sys.argv[2])
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdout.write("%d\n" % server.server_address[1])
    sys.stdout.flush()

    # Serve until stdin closes or the lifetime is over.
    deadline = time.monotonic() + lifetime
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        readable, _, _ = select.select([sys.stdin], [], [], min(left, 1.0))
        if readable and not os.read(sys.stdin.fileno(), 4096):
            break
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
