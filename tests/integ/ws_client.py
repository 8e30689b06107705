"""A small raw-socket WebSocket (RFC 6455) client for the integration tests, plus helpers
shared by test_ws.py and test_tls.py (a ws_origin.py subprocess, many tunnels at once).

Every byte is under the test's control: masking (or deliberately not), every length class,
fragmentation, reserved bits, ping/pong, close codes; optional TLS through an ssl.SSLContext.

    c = WsClient.connect(port, "/chat")             # handshake; c.response is the 101
    c.send_text("hi"); assert c.recv_message() == (OP_TEXT, b"hi")
    c.close(1000); assert c.recv_close()[0] == 1000
"""
import base64
import os
import selectors
import socket
import ssl
import struct
import time

from integ_util import HOST, HttpConn, ToolProcess, request, request_bytes

from ws_origin import (OP_BIN, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT,  # noqa: F401
                       accept_key, big_payload, unmask)


class Frame:
    def __init__(self, fin, rsv, opcode, payload, masked):
        self.fin, self.rsv, self.opcode, self.payload, self.masked = fin, rsv, opcode, payload, masked

    def close_code(self):
        return struct.unpack("!H", self.payload[:2])[0] if len(self.payload) >= 2 else None

    def __repr__(self):
        return "<Frame op=%d fin=%s rsv=%d len=%d %r>" % (self.opcode, self.fin, self.rsv,
                                                        len(self.payload), self.payload[:60])


class WsClosed(Exception):
    """The connection ended (EOF/RST) while a frame was expected."""


def new_key():
    return base64.b64encode(os.urandom(16)).decode()


def upgrade_request(path="/", host="test.example", key=None, version="13", extra=()):
    hs = [("Upgrade", "websocket"), ("Connection", "Upgrade")]
    if key is not False:
        hs.append(("Sec-WebSocket-Key", key or new_key()))
    if version is not None:
        hs.append(("Sec-WebSocket-Version", version))
    return request_bytes("GET", path, host, hs + list(extra))


def build_frame(opcode, payload=b"", fin=True, mask=True, rsv=0, mask_key=None):
    """A client frame; mask=False makes a (bad) unmasked one; rsv is the 3-bit RSV field."""
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    n = len(payload)
    b0 = (0x80 if fin else 0) | ((rsv & 7) << 4) | (opcode & 0x0F)
    mbit = 0x80 if mask else 0
    if n < 126:
        head = struct.pack("!BB", b0, mbit | n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        head = struct.pack("!BBQ", b0, mbit | 127, n)
    if not mask:
        return head + payload
    mk = mask_key or os.urandom(4)
    return head + mk + unmask(mk, payload)


def parse_frame(buf):
    """-> (Frame, consumed) or (None, 0) if buf does not hold a whole frame yet."""
    if len(buf) < 2:
        return None, 0
    b0, b1 = buf[0], buf[1]
    n = b1 & 0x7F
    pos = 2
    if n == 126:
        if len(buf) < 4:
            return None, 0
        n = struct.unpack_from("!H", buf, 2)[0]
        pos = 4
    elif n == 127:
        if len(buf) < 10:
            return None, 0
        n = struct.unpack_from("!Q", buf, 2)[0]
        pos = 10
    masked = bool(b1 & 0x80)
    mk = None
    if masked:
        if len(buf) < pos + 4:
            return None, 0
        mk = bytes(buf[pos:pos + 4])
        pos += 4
    if len(buf) < pos + n:
        return None, 0
    payload = bytes(buf[pos:pos + n])
    if masked:
        payload = unmask(mk, payload)
    return Frame(bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0x0F, payload, masked), pos + n


class WsClient:
    """One WebSocket connection. Build with WsClient.connect(); the 101 is in .response."""

    def __init__(self, conn, response):
        self.conn = conn            # integ_util.HttpConn (its .buf holds bytes after the 101)
        self.response = response
        self._frag_op = None
        self._frag = bytearray()

    # -- setup ---------------------------------------------------------------
    @staticmethod
    def open_conn(port, timeout=10.0, tls=None, server_hostname=None):
        """A HttpConn to 127.0.0.1:port, optionally wrapped by the ssl.SSLContext tls."""
        if tls is None:
            return HttpConn(port, timeout=timeout)
        c = HttpConn.__new__(HttpConn)
        raw = socket.create_connection((HOST, port), timeout=timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        c.sock = tls.wrap_socket(raw, server_hostname=server_hostname)
        c.timeout, c.buf, c.eof = timeout, bytearray(), False
        return c

    @classmethod
    def connect(cls, port, path="/", host="test.example", key=None, extra=(), timeout=10.0, tls=None,
                server_hostname=None, check=True):
        """Handshake. check=True asserts a valid 101 (status, Upgrade, Connection, Accept)."""
        conn = cls.open_conn(port, timeout, tls, server_hostname)
        key = key or new_key()
        conn.send(upgrade_request(path, host, key, extra=extra))
        r = conn.read_response()
        if check:
            assert r.status == 101, "upgrade answered %r" % r
            assert (r.header("Upgrade") or "").lower() == "websocket", r
            assert "upgrade" in (r.header("Connection") or "").lower(), r
            assert r.header("Sec-WebSocket-Accept") == accept_key(key), (r, accept_key(key))
        return cls(conn, r)

    def close_socket(self):
        self.conn.close()

    # -- sending ---------------------------------------------------------------
    def send_raw(self, data):
        self.conn.send(data)

    def send_frame(self, opcode, payload=b"", fin=True, mask=True, rsv=0):
        self.conn.send(build_frame(opcode, payload, fin, mask, rsv))

    def send_message(self, opcode, payload, fragments=1):
        """A text/binary message, split into <fragments> frames (continuations after the first)."""
        if isinstance(payload, str):
            payload = payload.encode("utf-8")
        if fragments <= 1:
            return self.send_frame(opcode, payload)
        step = max(1, -(-len(payload) // fragments))
        pieces = [payload[i:i + step] for i in range(0, len(payload), step)] or [b""]
        out = bytearray()
        for i, p in enumerate(pieces):
            out += build_frame(opcode if i == 0 else OP_CONT, p, fin=(i == len(pieces) - 1))
        self.conn.send(bytes(out))
        return None

    def send_text(self, text, fragments=1):
        self.send_message(OP_TEXT, text, fragments)

    def send_binary(self, data, fragments=1):
        self.send_message(OP_BIN, data, fragments)

    def ping(self, payload=b""):
        self.send_frame(OP_PING, payload)

    def close(self, code=1000, reason=b""):
        self.send_frame(OP_CLOSE, b"" if code is None else struct.pack("!H", code) + reason)

    # -- receiving ---------------------------------------------------------------
    def recv_frame(self, timeout=10.0):
        """The next frame; server frames must not be masked. Raises WsClosed / socket.timeout."""
        deadline = time.monotonic() + timeout
        while True:
            f, used = parse_frame(self.conn.buf)
            if f is not None:
                del self.conn.buf[:used]
                assert not f.masked, "a server frame is masked: %r" % f
                return f
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("no whole frame within %.1fs (have %d bytes)"
                                     % (timeout, len(self.conn.buf)))
            try:
                if not self.conn._fill(left):
                    raise WsClosed("connection closed (%d bytes of a partial frame)" % len(self.conn.buf))
            except ConnectionError as e:
                raise WsClosed(repr(e))
            except ssl.SSLError as e:
                raise WsClosed(repr(e))

    def recv_message(self, timeout=10.0):
        """(opcode, payload) of the next message, fragments reassembled; a control frame is
        returned as it comes (it may arrive between fragments)."""
        deadline = time.monotonic() + timeout
        while True:
            f = self.recv_frame(max(0.01, deadline - time.monotonic()))
            assert f.rsv == 0, "a server frame has reserved bits: %r" % f
            if f.opcode >= 0x8:
                assert f.fin and len(f.payload) <= 125, "bad control frame %r" % f
                return f.opcode, f.payload
            if f.opcode == OP_CONT:
                assert self._frag_op is not None, "continuation without a message"
            else:
                assert self._frag_op is None, "a new message inside a fragmented one"
                self._frag_op = f.opcode
            self._frag += f.payload
            if f.fin:
                op, data = self._frag_op, bytes(self._frag)
                self._frag_op, self._frag = None, bytearray()
                return op, data

    def recv_close(self, timeout=10.0, skip_data=True):
        """Waits for a close frame -> (code or None, reason bytes). Data messages before it are
        skipped if skip_data, else they fail the call."""
        deadline = time.monotonic() + timeout
        while True:
            op, data = self.recv_message(max(0.01, deadline - time.monotonic()))
            if op == OP_CLOSE:
                code = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else None
                return code, data[2:]
            assert skip_data or op in (OP_PING, OP_PONG), "expected a close, got op %d %r" % (op, data[:80])

    def wait_eof(self, timeout=5.0):
        """True if the peer ends the TCP connection within timeout (bytes before it are dropped)."""
        _, closed = self.conn.read_until_eof(timeout)
        return closed

    def echo(self, opcode, payload, timeout=10.0, fragments=1):
        self.send_message(opcode, payload, fragments)
        return self.recv_message(timeout)


# ---------------------------------------------------------------------------
# ws_origin.py as a subprocess (many tunnels need their own process and GIL)

class WsOriginProcess(ToolProcess):
    SCRIPT, LABEL = "ws_origin.py", "ws-origin"

    def __init__(self, workdir, name="ws", port=0):
        super().__init__(workdir, name, port)

    def reset_stats(self):
        request(self.port, target="/__reset_stats", host="origin")


# ---------------------------------------------------------------------------
# Many tunnels at once: one thread, non-blocking sockets, a small state machine each

class _Tun:
    __slots__ = ("sock", "state", "buf", "out", "key", "payload", "err", "t_close", "close_code", "origin")

    def __init__(self, sock, key, payload):
        self.sock, self.key, self.payload = sock, key, payload
        self.state = "connect"
        self.buf = bytearray()
        self.out = b""
        self.err = None
        self.t_close = None
        self.close_code = None
        self.origin = None      # the X-Origin header of the 101 (ws_origin.py names itself)


class ManyTunnels:
    """n WebSocket tunnels to port/path, driven by one selector. open_and_echo() brings every
    one to "open" (101 checked, then one masked text message echoed back exactly);
    wait_closes() records, per tunnel, when a close frame (and its code) or EOF arrived."""

    def __init__(self, port, n, path="/", host="test.example"):
        self.port, self.n, self.path, self.host = port, n, path, host
        self.tuns = []
        self.sel = selectors.DefaultSelector()

    def _start(self, i):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect((HOST, self.port))
        except BlockingIOError:
            pass
        key = new_key()
        t = _Tun(s, key, ("tunnel-%d-" % i).encode() + os.urandom(6).hex().encode())
        t.out = upgrade_request(self.path, self.host, key)
        self.tuns.append(t)
        self.sel.register(s, selectors.EVENT_WRITE, t)

    def _fail(self, t, why):
        t.err = why
        t.state = "failed"
        self._unreg(t)

    def _unreg(self, t):
        try:
            self.sel.unregister(t.sock)
        except (KeyError, ValueError):
            pass

    def _on_write(self, t):
        if t.state == "connect":
            err = t.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                return self._fail(t, "connect: %s" % os.strerror(err))
            t.state = "handshake"
        try:
            n = t.sock.send(t.out)
        except (BlockingIOError, InterruptedError):
            return None
        except OSError as e:
            return self._fail(t, "send: %r" % e)
        t.out = t.out[n:]
        if not t.out:
            self.sel.modify(t.sock, selectors.EVENT_READ, t)
        return None

    def _on_read(self, t):
        try:
            d = t.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return None
        except OSError as e:
            d = b""
            if t.state == "open":
                t.state, t.t_close = "eof", time.monotonic()
                return self._unreg(t)
            return self._fail(t, "recv: %r" % e)
        if not d:
            if t.state in ("open", "closing"):
                t.state = "eof" if t.state == "open" else "closed"
                t.t_close = t.t_close or time.monotonic()
                return self._unreg(t)
            return self._fail(t, "EOF in state %s" % t.state)
        t.buf += d
        if t.state == "handshake":
            i = t.buf.find(b"\r\n\r\n")
            if i < 0:
                return None
            head = bytes(t.buf[:i]).decode("latin-1")
            del t.buf[:i + 4]
            if not head.startswith("HTTP/1.1 101") or accept_key(t.key) not in head:
                return self._fail(t, "bad handshake answer %r" % head[:200])
            for ln in head.split("\r\n")[1:]:
                k, _, v = ln.partition(":")
                if k.strip().lower() == "x-origin":
                    t.origin = v.strip()
            t.state = "echo"
            t.out = build_frame(OP_TEXT, t.payload)
            self.sel.modify(t.sock, selectors.EVENT_WRITE, t)
            return None
        while True:
            f, used = parse_frame(t.buf)
            if f is None:
                return None
            del t.buf[:used]
            if t.state == "echo":
                if f.opcode != OP_TEXT or f.payload != t.payload:
                    return self._fail(t, "echo mismatch: %r" % f)
                t.state = "open"
            elif f.opcode == OP_CLOSE and t.state == "open":
                t.close_code = f.close_code()
                t.t_close = time.monotonic()
                t.state = "closing"
                try:  # answer the close like a polite client
                    t.sock.send(build_frame(OP_CLOSE, f.payload[:2]))
                except OSError:
                    pass

    def _run(self, done, deadline):
        while not done() and time.monotonic() < deadline:
            for key, ev in self.sel.select(0.2):
                t = key.data
                if ev & selectors.EVENT_WRITE:
                    self._on_write(t)
                elif ev & selectors.EVENT_READ:
                    self._on_read(t)

    def open_and_echo(self, timeout=30.0, batch=500):
        """Opens all n tunnels (at most <batch> handshakes in flight). -> seconds taken."""
        t0 = time.monotonic()
        deadline = t0 + timeout
        started = 0
        while time.monotonic() < deadline:
            inflight = sum(1 for t in self.tuns if t.state in ("connect", "handshake", "echo"))
            while started < self.n and inflight < batch:
                self._start(started)
                started += 1
                inflight += 1
            if started >= self.n and inflight == 0:
                break
            self._run(lambda: False, min(deadline, time.monotonic() + 0.2))
        return time.monotonic() - t0

    def count(self, state):
        return sum(1 for t in self.tuns if t.state == state)

    def failures(self, limit=5):
        return [t.err for t in self.tuns if t.state == "failed"][:limit]

    def open_tunnels(self):
        return [t for t in self.tuns if t.state == "open"]

    def wait_closes(self, timeout):
        """Reads until every open tunnel saw a close or EOF, or timeout."""
        deadline = time.monotonic() + timeout
        self._run(lambda: not any(t.state in ("open",) for t in self.tuns), deadline)

    def close_all(self):
        for t in self.tuns:
            try:
                t.sock.close()
            except OSError:
                pass
        self.sel.close()
