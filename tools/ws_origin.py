#!/usr/bin/python3
"""A WebSocket (RFC 6455) echo origin for Meridian's tests. Standard library only.

One thread runs a selectors loop over non-blocking sockets, so thousands of open tunnels cost
a socket each and no thread. HTTP and WebSocket share the port.

Run:    python3 tools/ws_origin.py --port 8082 [--host 127.0.0.1] [--name NAME] [--port-file F]
Import: sys.path.insert(0, "tools"); from ws_origin import WsOrigin
        o = WsOrigin(name="w1").start(); o.port; o.stats; o.reset_stats(); o.stop()

HTTP
  GET /__stats         JSON {name, accepts, requests, upgrades, refused, open_ws, ws_closed,
                       messages, texts[last 200, each cut to 200 chars], close_codes[last 200
                       close codes received from peers; null = close frame without a code],
                       paths[last 200 request targets], last_upgrade_headers [[k, v], ...],
                       pings, protocol_errors}
                       (stats requests are not counted in `requests` or `paths`)
  /__reset_stats       zero the counters
  /refuse...           any request whose path starts with /refuse (upgrade or not): 403 with
                       body "upgrade refused by NAME\\n", header X-Refused: NAME; then close
  /health              200 "ok\\n"
  anything else        a valid upgrade -> 101 with Sec-WebSocket-Accept = base64(sha1(key +
                       GUID)); a bad upgrade (no key, version != 13) -> 400 and close;
                       a plain request -> 200 "hello from NAME\\n" (keep-alive)

WebSocket, after the 101
  Client frames must be masked; an unmasked frame, a reserved bit or opcode, a bad control frame
  or bad continuation -> close 1002 and the connection ends.
  Text / binary messages are echoed as ONE unfragmented frame of the same opcode once the whole
  message (fragments reassembled) has arrived -- except these text commands:
    "close:CODE"            the origin sends a close frame with CODE (reason "origin close")
                            and waits for the peer's close
    "frag:N:PAYLOAD"        the origin sends PAYLOAD back as a text message in N fragments
    "big:N"                 the origin sends a binary message of N bytes (byte i = i % 251)
  Ping -> pong with the same payload. Close -> a close frame echoing the code (and an empty
  one for an empty close), then the origin closes the TCP connection.
  Messages are limited to 64 MiB.
"""
import argparse
import base64
import collections
import hashlib
import json
import resource
import selectors
import socket
import struct
import sys
import threading

from origin import serve

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MAX_HEAD = 65536
MAX_MSG = 64 << 20

OP_CONT, OP_TEXT, OP_BIN, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


def accept_key(key):
    """Sec-WebSocket-Accept for a Sec-WebSocket-Key (str or bytes) -> str."""
    if isinstance(key, str):
        key = key.encode("latin-1")
    return base64.b64encode(hashlib.sha1(key.strip() + GUID).digest()).decode()


def frame(opcode, payload=b"", fin=True):
    """An unmasked (server) frame, with the shortest length encoding."""
    n = len(payload)
    b0 = (0x80 if fin else 0) | opcode
    if n < 126:
        head = struct.pack("!BB", b0, n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, 126, n)
    else:
        head = struct.pack("!BBQ", b0, 127, n)
    return head + payload


def close_frame(code=None, reason=b""):
    return frame(OP_CLOSE, b"" if code is None else struct.pack("!H", code) + reason)


def unmask(mask, data):
    n = len(data)
    if n == 0:
        return b""
    key = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(key, "little")).to_bytes(n, "little")


class _Conn:
    def __init__(self, sock, peer):
        self.sock = sock
        self.peer = peer
        self.rx = bytearray()
        self.tx = bytearray()
        self.ws = False
        self.nreq = 0
        self.close_after_tx = False   # shut down once tx is flushed
        self.close_sent = False
        self.frag_op = None           # opcode of the message being reassembled
        self.frag = bytearray()
        self.dead = False
        self.rsv_ok = 0               # reserved bits the 101's extension allows (0x40 deflate)


class WsOrigin:
    def __init__(self, host="127.0.0.1", port=0, name="ws-origin"):
        self.host = host
        self.req_port = port
        self.name = name
        self.port = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._sel = None
        self._lsock = None
        self._thread = None
        self._conns = {}
        self.reset_stats()

    # -- lifecycle -------------------------------------------------------
    def start(self):
        ls = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((self.host, self.req_port))
        ls.listen(8192)
        ls.setblocking(False)
        self._lsock = ls
        self.port = ls.getsockname()[1]
        self._sel = selectors.DefaultSelector()
        self._sel.register(ls, selectors.EVENT_READ, None)
        self._thread = threading.Thread(target=self._loop, name="ws-origin-%s" % self.name, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    kill = stop  # the tests' process factory cleans up with kill()

    def __enter__(self):
        return self.start()

    def __exit__(self, *a):
        self.stop()

    # -- stats -----------------------------------------------------------
    def reset_stats(self):
        with self._lock:
            self.accepts = 0
            self.requests = 0
            self.upgrades = 0
            self.refused = 0
            self.ws_closed = 0
            self.messages = 0
            self.pings = 0
            self.protocol_errors = 0
            self.texts = collections.deque(maxlen=200)
            self.close_codes = collections.deque(maxlen=200)
            self.paths = collections.deque(maxlen=200)
            self.last_upgrade_headers = []

    @property
    def stats(self):
        with self._lock:
            return {"name": self.name, "accepts": self.accepts, "requests": self.requests,
                    "upgrades": self.upgrades, "refused": self.refused,
                    "open_ws": sum(1 for c in self._conns.values() if c.ws and not c.dead),
                    "ws_closed": self.ws_closed, "messages": self.messages, "pings": self.pings,
                    "protocol_errors": self.protocol_errors, "texts": list(self.texts),
                    "close_codes": list(self.close_codes), "paths": list(self.paths),
                    "last_upgrade_headers": list(self.last_upgrade_headers)}

    # -- the loop ----------------------------------------------------------
    def _loop(self):
        try:
            while not self._stop.is_set():
                for key, ev in self._sel.select(0.1):
                    if key.data is None:
                        self._accept()
                        continue
                    c = key.data
                    if ev & selectors.EVENT_READ and not c.dead:
                        self._on_read(c)
                    if ev & selectors.EVENT_WRITE and not c.dead:
                        self._flush(c)
        finally:
            for c in list(self._conns.values()):
                self._drop(c)
            self._sel.close()
            self._lsock.close()

    def _accept(self):
        for _ in range(256):
            try:
                s, peer = self._lsock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            s.setblocking(False)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            c = _Conn(s, peer)
            with self._lock:
                self.accepts += 1
                self._conns[s.fileno()] = c
            self._sel.register(s, selectors.EVENT_READ, c)

    def _drop(self, c):
        if c.dead:
            return
        c.dead = True
        with self._lock:
            self._conns.pop(c.sock.fileno(), None)
            if c.ws:
                self.ws_closed += 1
        try:
            self._sel.unregister(c.sock)
        except (KeyError, ValueError):
            pass
        try:
            c.sock.close()
        except OSError:
            pass

    def _on_read(self, c):
        try:
            d = c.sock.recv(1 << 20)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            d = b""
        if not d:
            self._drop(c)
            return
        c.rx += d
        if not c.ws:
            self._http(c)
        if c.ws and not c.dead:
            self._frames(c)

    def _send(self, c, data):
        if c.dead:
            return
        c.tx += data
        self._flush(c)

    def _flush(self, c):
        while c.tx:
            try:
                n = c.sock.send(c.tx)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                self._drop(c)
                return
            del c.tx[:n]
        if c.tx:
            self._sel.modify(c.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, c)
            return
        self._sel.modify(c.sock, selectors.EVENT_READ, c)
        if c.close_after_tx:
            try:
                c.sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            self._drop(c)

    # -- HTTP ----------------------------------------------------------------
    def _http(self, c):
        while not c.ws and not c.dead and not c.close_after_tx:
            i = c.rx.find(b"\r\n\r\n")
            if i < 0:
                if len(c.rx) > MAX_HEAD:
                    self._respond(c, 431, b"head too large\n", close=True)
                return
            head = bytes(c.rx[:i]).decode("latin-1")
            del c.rx[:i + 4]
            lines = head.split("\r\n")
            parts = lines[0].split(" ")
            if len(parts) != 3:
                self._respond(c, 400, b"bad request line\n", close=True)
                return
            method, target, _version = parts
            hdrs = []
            for ln in lines[1:]:
                k, sep, v = ln.partition(":")
                if not sep:
                    self._respond(c, 400, b"bad header\n", close=True)
                    return
                hdrs.append((k.strip(), v.strip()))
            if self._request(c, method, target, hdrs) is False:
                return

    def _request(self, c, method, target, hdrs):
        def h(name):
            vals = [v for k, v in hdrs if k.lower() == name]
            return ", ".join(vals) if vals else None

        path = target.split("?", 1)[0]
        clen = int(h("content-length") or 0)
        if clen:  # bodies are not expected here; skip what arrived
            del c.rx[:clen]
        if path == "/__stats":
            self._respond(c, 200, json.dumps(self.stats).encode(), "application/json")
            return True
        if path == "/__reset_stats":
            self.reset_stats()
            self._respond(c, 200, b"ok\n")
            return True
        with self._lock:
            self.requests += 1
            self.paths.append(target)
        if path.startswith("/refuse"):
            with self._lock:
                self.refused += 1
            self._respond(c, 403, ("upgrade refused by %s\n" % self.name).encode(),
                          extra=[("X-Refused", self.name)], close=True)
            return False
        if path == "/health":
            self._respond(c, 200, b"ok\n")
            return True
        up = (h("upgrade") or "").lower()
        if "websocket" not in [t.strip() for t in up.split(",")]:
            self._respond(c, 200, ("hello from %s\n" % self.name).encode())
            return True
        key, ver = h("sec-websocket-key"), h("sec-websocket-version")
        if not key or ver != "13" or method != "GET":
            self._respond(c, 400, b"bad websocket upgrade\n", close=True)
            return False
        with self._lock:
            self.upgrades += 1
            self.last_upgrade_headers = [list(kv) for kv in hdrs]
        # test paths: a 101 that breaks RFC 6455 4.2.2, and one that accepts permessage-deflate
        # (RSV1 frames are then counted, not refused; their payload is not inflated)
        conn = "" if path.endswith("/bad101-noconn") else "Connection: Upgrade\r\n"
        acc = "" if path.endswith("/bad101-noaccept") else "Sec-WebSocket-Accept: %s\r\n" % accept_key(key)
        ext = ""
        if path.endswith("/deflate"):
            ext, c.rsv_ok = "Sec-WebSocket-Extensions: permessage-deflate\r\n", 0x40
        resp = ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n%s%s%sX-Origin: %s\r\n\r\n"
                % (conn, acc, ext, self.name))
        c.ws = True
        self._send(c, resp.encode("latin-1"))
        return False

    def _respond(self, c, status, body, ctype="text/plain", extra=(), close=False):
        reason = {200: "OK", 400: "Bad Request", 403: "Forbidden", 431: "Request Header Fields Too Large"}
        hs = ["HTTP/1.1 %d %s" % (status, reason.get(status, "Status")), "Content-Type: %s" % ctype,
              "Content-Length: %d" % len(body)]
        hs += ["%s: %s" % kv for kv in extra]
        if close:
            hs.append("Connection: close")
            c.close_after_tx = True
        self._send(c, ("\r\n".join(hs) + "\r\n\r\n").encode("latin-1") + body)

    # -- WebSocket -------------------------------------------------------------
    def _fail(self, c, why):
        with self._lock:
            self.protocol_errors += 1
        if not c.close_sent:
            c.close_sent = True
            c.close_after_tx = True
            self._send(c, close_frame(1002, why.encode()[:100]))
        else:
            self._drop(c)

    def _frames(self, c):
        while not c.dead:
            buf = c.rx
            if len(buf) < 2:
                return
            b0, b1 = buf[0], buf[1]
            n = b1 & 0x7F
            pos = 2
            if n == 126:
                if len(buf) < 4:
                    return
                n = struct.unpack_from("!H", buf, 2)[0]
                pos = 4
            elif n == 127:
                if len(buf) < 10:
                    return
                n = struct.unpack_from("!Q", buf, 2)[0]
                pos = 10
            if not b1 & 0x80:
                self._fail(c, "unmasked client frame")
                return
            if n > MAX_MSG:
                self._fail(c, "frame too large")
                return
            if len(buf) < pos + 4 + n:
                return
            mask = bytes(buf[pos:pos + 4])
            payload = unmask(mask, bytes(buf[pos + 4:pos + 4 + n]))
            del buf[:pos + 4 + n]
            self._frame(c, bool(b0 & 0x80), b0 & 0x70, b0 & 0x0F, payload)

    def _frame(self, c, fin, rsv, op, payload):
        if rsv & ~c.rsv_ok:
            return self._fail(c, "reserved bits set")
        if op >= 0x8:
            if not fin or len(payload) > 125 or op not in (OP_CLOSE, OP_PING, OP_PONG):
                return self._fail(c, "bad control frame")
            if op == OP_PING:
                with self._lock:
                    self.pings += 1
                if not c.close_sent:
                    self._send(c, frame(OP_PONG, payload))
            elif op == OP_CLOSE:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                with self._lock:
                    self.close_codes.append(code)
                if not c.close_sent:  # the peer started it: echo the code, then end
                    c.close_sent = True
                    c.close_after_tx = True
                    self._send(c, close_frame(code))
                else:                  # the answer to our own close
                    self._drop(c)
            return None
        if op == OP_CONT:
            if c.frag_op is None:
                return self._fail(c, "continuation without a message")
        elif op in (OP_TEXT, OP_BIN):
            if c.frag_op is not None:
                return self._fail(c, "new message inside a fragmented one")
            c.frag_op = op
        else:
            return self._fail(c, "reserved opcode")
        c.frag += payload
        if len(c.frag) > MAX_MSG:
            return self._fail(c, "message too large")
        if not fin:
            return None
        op, msg = c.frag_op, bytes(c.frag)
        c.frag_op = None
        c.frag = bytearray()
        self._message(c, op, msg)
        return None

    def _message(self, c, op, msg):
        with self._lock:
            self.messages += 1
            if op == OP_TEXT:
                self.texts.append(msg[:200].decode("utf-8", "replace"))
        if c.close_sent:
            return
        if op == OP_TEXT and msg.startswith(b"close:"):
            try:
                code = int(msg[6:])
            except ValueError:
                code = 1000
            c.close_sent = True
            self._send(c, close_frame(code, b"origin close"))
            return
        if op == OP_TEXT and msg.startswith(b"frag:"):
            _, n, data = msg.split(b":", 2)
            n = max(1, int(n))
            step = max(1, -(-len(data) // n))
            pieces = [data[i:i + step] for i in range(0, len(data), step)] or [b""]
            out = bytearray()
            for i, p in enumerate(pieces):
                out += frame(OP_TEXT if i == 0 else OP_CONT, p, fin=(i == len(pieces) - 1))
            self._send(c, bytes(out))
            return
        if op == OP_TEXT and msg.startswith(b"big:"):
            self._send(c, frame(OP_BIN, big_payload(int(msg[4:]))))
            return
        self._send(c, frame(op, msg))


def big_payload(n):
    """The bytes "big:N" sends: byte i is i % 251."""
    block = bytes(range(251))
    return (block * (n // 251 + 1))[:n]


def main(argv=None):
    ap = argparse.ArgumentParser(description="Meridian test WebSocket echo origin")
    ap.add_argument("--port", type=int, required=True, help="port (0 = any free port)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--name", default="ws-origin")
    ap.add_argument("--port-file", help="write the bound port to this file")
    a = ap.parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:  # many tunnels: one socket each
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    o = WsOrigin(a.host, a.port, a.name).start()
    return serve(o, "ws origin", a)


if __name__ == "__main__":
    sys.exit(main())
