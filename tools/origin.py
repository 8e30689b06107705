#!/usr/bin/python3
"""A small, deliberately byte-exact HTTP/1.1 origin server for Meridian.

Used by the integration tests (tests/integ) and as the quickstart demo origin.
Standard library only: raw sockets and one thread per connection, so every
byte of framing on the wire is under our control.

Run:    python3 tools/origin.py --port 8081 [--host 127.0.0.1] [--name NAME] [--port-file F]
                [--health-status 200] [--health-body ok] [--delay-ms 0] [--keepalive-timeout SECONDS]
Import: sys.path.insert(0, "tools"); from origin import Origin
        o = Origin(name="o1").start(); o.port; o.stats; o.reset_stats(); o.stop()
        o.set_health(503); o.set_delay(50); o.set_delay(50, serial=True); Origin(keepalive_timeout=1.0)

Endpoints
  GET /                anything unknown: 200 "hello from NAME\\n"
  /echo                any method: 200 JSON {name, method, target, version,
                       headers: [[k, v], ...] (received order), body_len, body_sha256,
                       conn, conn_req, peer}
  /size/N              N bytes of pattern(N) with Content-Length
  /size/N?chunked=1    same, chunked (several chunks)
  /size/N?close=1      same, no length, close-delimited
  /slow?ms=N           wait N ms before the head (body: echo JSON)
  /slowbody?ms=N       send the head, then the body (echo JSON) after N ms
  /status/N            that status, with proper framing (204/304/HEAD: no body)
  /raw/<case>          deliberately malformed responses (see RAW_CASES); closes after
  /close               read the request, then close without a response
  /reset               read the request, then reset the connection (SO_LINGER 0)
  /readbody_then_die   read the whole request (body included), then reset the connection
                       (RST, no response): "the origin died after reading the body"
  /readbody_then_die?only=NAME   only the origin named NAME dies; others answer like /echo
  /health              the settable health endpoint: 200 "ok\n" unless changed
  /__health?status=N[&body=TEXT]   (any method) set /health's status and body; answers 200
  /__delay?ms=N[&serial=1]   (any method) every normal response waits N ms first (0 = off);
                       serial=1: one at a time (an origin with a capacity of one, so a queue
                       builds up behind it); /health and the /__ endpoints are never delayed
  any ?conn_close=1     answer with "Connection: close", then close
  any ?idle_close_ms=N  afterwards, close the connection silently when idle for N ms
  /__stats             JSON {name, accepts, requests, bytes_in, paths[last 200 targets],
                       health_checks, conns_opened, open_conns, health_status, delay_ms}
  /__reset_stats       zero the counters
Stats, control (/__*) and /health requests are not counted in `requests` or `paths` (/health
counts in `health_checks`), and the connection they arrive on is not counted in `accepts` if
it is its first request. `accepts` does count every other TCP accept, including connections
that never send a request (warm pools). `conns_opened` is the raw accept count (every
connection, never decremented by reset_stats): the `conn` id /echo reports is at most the
`conns_opened` seen before the connection was accepted. `requests` counts every request head
the origin received and parsed, valid or not.

Keep-alive: an idle connection is kept 300 s, or --keepalive-timeout SECONDS (also while
waiting for the first request); then the origin closes it (FIN).
"""
import argparse
import collections
import hashlib
import json
import os
import signal
import socket
import struct
import sys
import threading
import time
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

# ---------------------------------------------------------------------------
# The deterministic body pattern: a 65537-byte pseudo-random block, repeated.

_BLOCK_LEN = 65537  # prime, so offset bugs of "nice" sizes do not hide


def _make_block():
    out = bytearray()
    i = 0
    while len(out) < _BLOCK_LEN:
        out += hashlib.sha256(b"meridian-origin-%d" % i).digest()
        i += 1
    return bytes(out[:_BLOCK_LEN])


BLOCK = _make_block()
_DOUBLE = BLOCK + BLOCK
PIECE = 65536  # <= _BLOCK_LEN


def pattern_slice(offset, length):
    """Bytes [offset, offset+length) of the pattern; length <= PIECE."""
    o = offset % _BLOCK_LEN
    return _DOUBLE[o:o + length]


def pattern_pieces(n, piece=PIECE):
    """Yields the first n pattern bytes in pieces of at most `piece` bytes."""
    off = 0
    while off < n:
        m = min(piece, n - off, PIECE)
        yield pattern_slice(off, m)
        off += m


def pattern(n):
    """The first n bytes of the pattern (what /size/N returns)."""
    reps = n // _BLOCK_LEN + 1
    return (BLOCK * reps)[:n]


_sha_cache = {}


def pattern_sha256(n):
    if n not in _sha_cache:
        h = hashlib.sha256()
        for p in pattern_pieces(n):
            h.update(p)
        _sha_cache[n] = h.hexdigest()
    return _sha_cache[n]


# Chunk sizes used by /size/N?chunked=1 (cycled).
CHUNK_SIZES = [1, 10, 1000, 8192, 65536, 3, 50000, 65536, 65536, 4095]

# ---------------------------------------------------------------------------
# Deliberately malformed responses. Every one is followed by a close.

RAW_CASES = {
    # both Content-Length and Transfer-Encoding
    "cl-te": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
             b"5\r\nhello\r\n0\r\n\r\n",
    # two different Content-Length values
    "dup-cl": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    # invalid Content-Length
    "bad-cl": b"HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\nhello",
    # bad chunk size
    "bad-chunk-size": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
    # chunk data not followed by CRLF
    "chunk-no-crlf": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n",
    # obsolete line folding
    "obs-fold": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Folded: a\r\n  b\r\n\r\nhello",
    # NUL in a header value
    "nul-header": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Nul: a\x00b\r\n\r\nhello",
    # bare CR inside a header line
    "bare-cr": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Cr: a\rb\r\n\r\nhello",
    # invalid status line
    "bad-status-line": b"HTTP/1.1 abc OK\r\nContent-Length: 5\r\n\r\nhello",
    # not HTTP at all
    "garbage": b"\x00\x01\x02 this is not http \xff\xfe\r\n\r\n",
    # whitespace between a header name and the colon
    "space-before-colon": b"HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\nhello",
    # a transfer coding whose final coding is not chunked
    "te-gzip": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nhello",
    # --- well-formed heads, then the origin goes away mid-body ---
    "truncated-cl": b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 1000,
    "truncated-chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                         b"3e8\r\n" + b"y" * 1000 + b"\r\n3e8\r\n" + b"y" * 10,
}


class BadRequest(Exception):
    pass


def _reason(status):
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Status"


class _Conn:
    """One accepted connection with a read buffer."""

    def __init__(self, origin, sock, peer, cid):
        self.o = origin
        self.s = sock
        self.peer = peer
        self.cid = cid
        self.buf = bytearray()
        self.nreq = 0
        self.counted = True  # counted in accepts
        self.idle_close = None  # seconds: close the connection when idle this long

    # -- reading ---------------------------------------------------------
    def _fill(self):
        data = self.s.recv(262144)
        if not data:
            return False
        self.o._add_bytes(len(data), self)
        self.buf += data
        return True

    def read_head(self):
        """Returns the head bytes (without the final CRLFCRLF) or None on a clean EOF."""
        while True:
            i = self.buf.find(b"\r\n\r\n")
            if i >= 0:
                head = bytes(self.buf[:i])
                del self.buf[:i + 4]
                return head
            if len(self.buf) > 1 << 20:
                raise BadRequest("head too large")
            if not self._fill():
                return None

    def read_exact(self, n, sink):
        while n > 0:
            if not self.buf:
                if not self._fill():
                    raise BadRequest("eof in body")
            m = min(n, len(self.buf))
            sink(bytes(self.buf[:m]))
            del self.buf[:m]
            n -= m

    def read_line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line = bytes(self.buf[:i])
                del self.buf[:i + 2]
                return line
            if len(self.buf) > 65536:
                raise BadRequest("line too long")
            if not self._fill():
                raise BadRequest("eof in chunked body")

    def read_chunked(self, sink):
        while True:
            line = self.read_line()
            size_txt = line.split(b";", 1)[0].strip()
            try:
                size = int(size_txt, 16)
            except ValueError:
                raise BadRequest("bad chunk size %r" % size_txt)
            if size < 0:
                raise BadRequest("bad chunk size")
            if size == 0:
                while self.read_line() != b"":  # trailers
                    pass
                return
            self.read_exact(size, sink)
            if self.read_line() != b"":
                raise BadRequest("chunk data not followed by CRLF")

    # -- writing ---------------------------------------------------------
    def send(self, data):
        self.s.sendall(data)

    def head(self, status, headers, reason=None):
        lines = ["HTTP/1.1 %d %s" % (status, reason or _reason(status))]
        lines.append("Server: meridian-test-origin")
        lines.append("X-Origin: %s" % self.o.name)
        for k, v in headers:
            lines.append("%s: %s" % (k, v))
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


# Paths answered without counting a request (nor the connection, on its first request).
CONTROL_PATHS = ("/__stats", "/__reset_stats", "/__health", "/__delay")
HEALTH_PATH = "/health"
IDLE_DEFAULT_S = 300


class Origin:
    def __init__(self, host="127.0.0.1", port=0, name="origin", keepalive_timeout=None,
                 health_status=200, health_body=None, delay_ms=0):
        self.host = host
        self.req_port = port
        self.name = name
        self.port = None
        self.keepalive_timeout = keepalive_timeout  # seconds; None = IDLE_DEFAULT_S
        self.health_status = health_status
        self.health_body = health_body if health_body is not None else _default_health_body(health_status)
        self.delay_ms = delay_ms
        self.delay_serial = False
        self._serial = threading.Lock()  # held through a serial delay
        self.conns_opened = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._socks = set()
        self._lsock = None
        self._thread = None
        self._next_cid = 0
        self.reset_stats()

    # -- lifecycle -------------------------------------------------------
    def start(self):
        # one thread per connection: small stacks so thousands of keep-alive connections fit
        threading.stack_size(512 * 1024)
        ls = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((self.host, self.req_port))
        ls.listen(4096)
        self._lsock = ls
        self.port = ls.getsockname()[1]
        self._thread = threading.Thread(target=self._accept_loop, name="origin-accept-%s" % self.name,
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        if self._lsock is not None:
            try:
                self._lsock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._lsock.close()
        with self._lock:
            socks = list(self._socks)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *a):
        self.stop()

    # -- control ---------------------------------------------------------
    def set_health(self, status, body=None):
        """What /health answers from now on (body defaults to "ok" for 2xx, else "unhealthy")."""
        with self._lock:
            self.health_status = int(status)
            self.health_body = body if body is not None else _default_health_body(status)

    def set_delay(self, ms, serial=False):
        """Every normal response waits <ms> first (0 = off); serial: one request at a time."""
        with self._lock:
            self.delay_ms = max(0, int(ms))
            self.delay_serial = bool(serial)

    # -- stats -----------------------------------------------------------
    def reset_stats(self):
        with getattr(self, "_lock", threading.Lock()):
            self.accepts = 0
            self.requests = 0
            self.bytes_in = 0
            self.health_checks = 0
            self.paths = collections.deque(maxlen=200)

    @property
    def stats(self):
        with self._lock:
            return {"name": self.name, "accepts": self.accepts, "requests": self.requests,
                    "bytes_in": self.bytes_in, "paths": list(self.paths),
                    "health_checks": self.health_checks, "conns_opened": self.conns_opened,
                    "open_conns": len(self._socks), "health_status": self.health_status,
                    "delay_ms": self.delay_ms, "delay_serial": self.delay_serial}

    def _add_bytes(self, n, conn):
        if conn.counted:
            with self._lock:
                self.bytes_in += n
        conn._pending_bytes = getattr(conn, "_pending_bytes", 0) + n

    # -- serving ---------------------------------------------------------
    def _accept_loop(self):
        while not self._stop.is_set():
            try:
                s, peer = self._lsock.accept()
            except OSError:
                if self._stop.is_set():
                    return
                time.sleep(0.01)
                continue
            with self._lock:
                self.accepts += 1
                self.conns_opened += 1
                self._next_cid += 1
                cid = self._next_cid
                self._socks.add(s)
            t = threading.Thread(target=self._serve, args=(s, peer, cid), daemon=True)
            t.start()

    def _serve(self, s, peer, cid):
        c = _Conn(self, s, peer, cid)
        idle = self.keepalive_timeout if self.keepalive_timeout is not None else IDLE_DEFAULT_S
        try:
            while not self._stop.is_set():
                # the next request must start within this, or we close (FIN)
                s.settimeout(c.idle_close if c.idle_close is not None else idle)
                if not self._one(c):
                    break
        except (OSError, BadRequest):
            pass
        finally:
            with self._lock:
                self._socks.discard(s)
            try:
                s.close()
            except OSError:
                pass

    def _one(self, c):
        """Serves one request. Returns False when the connection must end."""
        head = c.read_head()
        if head is None:
            return False
        c.s.settimeout(300)
        lines = head.split(b"\r\n")
        # tolerate a stray CRLF between pipelined requests (RFC 9112 2.2)
        while lines and lines[0] == b"":
            lines.pop(0)
        reqline = lines[0].decode("latin-1") if lines else ""
        parts = reqline.split(" ")
        target = parts[1] if len(parts) == 3 else reqline
        path = urlsplit(target).path if len(parts) == 3 else ""
        is_stats = path in CONTROL_PATHS or path == HEALTH_PATH
        c.nreq += 1
        if is_stats:
            with self._lock:
                if path == HEALTH_PATH:
                    self.health_checks += 1
                if c.nreq == 1 and c.counted:
                    self.accepts -= 1
                    self.bytes_in -= getattr(c, "_pending_bytes", 0)
                    c.counted = False
        else:
            with self._lock:
                self.requests += 1
                self.paths.append(target)
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            c.send(c.head(400, [("Content-Length", "12"), ("Connection", "close")]) + b"bad request\n")
            return False
        method, target, version = parts
        headers = []
        for ln in lines[1:]:
            k, sep, v = ln.decode("latin-1").partition(":")
            if not sep:
                c.send(c.head(400, [("Content-Length", "12"), ("Connection", "close")]) + b"bad request\n")
                return False
            headers.append([k, v.strip(" \t")])
        hmap = collections.defaultdict(list)
        for k, v in headers:
            hmap[k.lower()].append(v)
        conn_tokens = {t.strip().lower() for v in hmap.get("connection", []) for t in v.split(",")}
        if version == "HTTP/1.0":
            keep = "keep-alive" in conn_tokens
        else:
            keep = "close" not in conn_tokens
        # body framing
        te = [t.strip().lower() for v in hmap.get("transfer-encoding", []) for t in v.split(",") if t.strip()]
        h = hashlib.sha256()
        blen = [0]

        def sink(b):
            blen[0] += len(b)
            h.update(b)

        has_body = bool(te) or any(v.strip() not in ("", "0") for v in hmap.get("content-length", []))
        if has_body and any(v.strip().lower() == "100-continue" for v in hmap.get("expect", [])):
            c.send(b"HTTP/1.1 100 Continue\r\n\r\n")
        try:
            if te:
                if te[-1] != "chunked":
                    raise BadRequest("te")
                c.read_chunked(sink)
            elif hmap.get("content-length"):
                cl = hmap["content-length"][0].strip()
                if not cl.isdigit():
                    raise BadRequest("cl")
                c.read_exact(int(cl), sink)
        except BadRequest:
            c.send(c.head(400, [("Content-Length", "12"), ("Connection", "close")]) + b"bad request\n")
            return False

        u = urlsplit(target)
        path, query = u.path, parse_qs(u.query)
        info = {"name": self.name, "method": method, "target": target, "version": version,
                "headers": headers, "body_len": blen[0], "body_sha256": h.hexdigest(),
                "conn": c.cid, "conn_req": c.nreq, "peer": "%s:%d" % c.peer[:2]}
        head_only = method == "HEAD"
        # ?conn_close=1: answer with "Connection: close" and close (any endpoint)
        # ?idle_close_ms=N: after this response, close the connection if idle for N ms (no header)
        if query.get("conn_close") == ["1"]:
            keep = False
        if query.get("idle_close_ms"):
            c.idle_close = int(query["idle_close_ms"][0]) / 1000.0
        conn_hdr = [] if keep else [("Connection", "close")]

        def q(name, default=None):
            v = query.get(name)
            return v[0] if v else default

        def simple(status, body, ctype="text/plain", extra=()):
            hs = [("Content-Type", ctype), ("Content-Length", str(len(body)))] + list(extra) + conn_hdr
            c.send(c.head(status, hs) + (b"" if head_only else body))

        if not is_stats:
            with self._lock:
                delay, serial = self.delay_ms, self.delay_serial
            if delay > 0 and serial:
                with self._serial:
                    self._stop.wait(delay / 1000.0)
            elif delay > 0:
                self._stop.wait(delay / 1000.0)

        if path == "/__stats":
            simple(200, json.dumps(self.stats).encode(), "application/json")
        elif path == "/__health":
            try:
                self.set_health(int(q("status", "200")), q("body"))
            except ValueError:
                simple(400, b"bad status\n")
                return keep
            simple(200, b"ok\n")
        elif path == "/__delay":
            try:
                self.set_delay(int(q("ms", "0")), q("serial") == "1")
            except ValueError:
                simple(400, b"bad ms\n")
                return keep
            simple(200, b"ok\n")
        elif path == HEALTH_PATH:
            with self._lock:
                st, body = self.health_status, self.health_body
            if st in (204, 304):
                c.send(c.head(st, conn_hdr))
            else:
                simple(st, body.encode("utf-8") if isinstance(body, str) else body)
        elif path == "/__reset_stats":
            self.reset_stats()
            simple(200, b"ok\n")
        elif path == "/echo":
            simple(200, json.dumps(info).encode() + b"\n", "application/json")
        elif path.startswith("/size/"):
            try:
                n = int(path[len("/size/"):])
            except ValueError:
                simple(400, b"bad size\n")
                return keep
            if q("close") == "1":
                c.send(c.head(200, [("Content-Type", "application/octet-stream"), ("Connection", "close")]))
                if not head_only:
                    for p in pattern_pieces(n):
                        c.send(p)
                return False
            if q("chunked") == "1":
                c.send(c.head(200, [("Content-Type", "application/octet-stream"),
                                    ("Transfer-Encoding", "chunked")] + conn_hdr))
                if not head_only:
                    off, i = 0, 0
                    while off < n:
                        m = min(CHUNK_SIZES[i % len(CHUNK_SIZES)], n - off)
                        i += 1
                        data = _slice_any(off, m)
                        c.send(b"%x\r\n" % m + data + b"\r\n")
                        off += m
                    c.send(b"0\r\n\r\n")
                return keep
            c.send(c.head(200, [("Content-Type", "application/octet-stream"),
                                ("Content-Length", str(n))] + conn_hdr))
            if not head_only:
                for p in pattern_pieces(n):
                    c.send(p)
        elif path == "/slow":
            self._stop.wait(int(q("ms", "1000")) / 1000.0)
            simple(200, json.dumps(info).encode() + b"\n", "application/json")
        elif path == "/slowbody":
            body = json.dumps(info).encode() + b"\n"
            c.send(c.head(200, [("Content-Type", "application/json"),
                                ("Content-Length", str(len(body)))] + conn_hdr))
            if not head_only:
                self._stop.wait(int(q("ms", "1000")) / 1000.0)
                c.send(body)
        elif path.startswith("/status/"):
            try:
                st = int(path[len("/status/"):])
            except ValueError:
                st = 0
            if not 200 <= st <= 999:
                simple(400, b"bad status\n")
            elif st in (204, 304):
                c.send(c.head(st, conn_hdr))
            else:
                simple(st, b"status %d\n" % st)
        elif path.startswith("/raw/"):
            case = path[len("/raw/"):]
            data = RAW_CASES.get(case)
            if data is None:
                simple(404, b"no such raw case\n")
                return keep
            c.send(data)
            try:
                c.s.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            return False
        elif path == "/close":
            c.s.shutdown(socket.SHUT_RDWR)
            return False
        elif path == "/readbody_then_die" and q("only") not in (None, self.name):
            # ?only=NAME: only origin NAME dies; the others answer like /echo
            simple(200, json.dumps(info).encode() + b"\n", "application/json")
        elif path in ("/reset", "/readbody_then_die"):
            # the whole request, body included, has been read above: die without a word
            c.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return False
        else:
            simple(200, ("hello from %s\n" % self.name).encode())
        return keep


def _default_health_body(status):
    return "ok\n" if 200 <= int(status) < 300 else "unhealthy\n"


def _slice_any(off, m):
    if m <= PIECE:
        return pattern_slice(off, m)
    out = bytearray()
    while m > 0:
        k = min(m, PIECE)
        out += pattern_slice(off, k)
        off += k
        m -= k
    return bytes(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description="Meridian test/demo origin server")
    ap.add_argument("--port", type=int, required=True, help="port (0 = any free port)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--name", default="origin")
    ap.add_argument("--port-file", help="write the bound port to this file")
    ap.add_argument("--health-status", type=int, default=200, help="initial /health status (default 200)")
    ap.add_argument("--health-body", default=None, help="initial /health body (default ok / unhealthy)")
    ap.add_argument("--delay-ms", type=int, default=0, help="delay every normal response (default 0)")
    ap.add_argument("--keepalive-timeout", type=float, default=None, metavar="SECONDS",
                    help="close idle keep-alive connections after this long (default %d)" % IDLE_DEFAULT_S)
    a = ap.parse_args(argv)
    o = Origin(a.host, a.port, a.name, keepalive_timeout=a.keepalive_timeout,
               health_status=a.health_status, health_body=a.health_body, delay_ms=a.delay_ms).start()
    return serve(o, "origin", a)


def serve(o, what, a):
    """The command-line servers' common end: reports the bound port (to --port-file, atomically,
    and to stderr), then runs until SIGTERM or SIGINT and stops <o>. Used by ws_origin.py too."""
    if a.port_file:
        tmp = a.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % o.port)
        os.replace(tmp, a.port_file)
    print("%s %s listening on %s:%d" % (what, a.name, a.host, o.port), file=sys.stderr, flush=True)
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    while not done.wait(1):
        pass
    o.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
