"""Clients that misbehave at the transport level: the proxy survives and keeps serving."""
import hashlib
import socket
import struct
import threading
import time

import pytest

from integ_util import HttpConn, request, request_bytes, simple_config

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def env(mprocs):
    o = mprocs.origin("o1")
    m = mprocs.meridian(simple_config(("o1", o.port), limits={"body_timeout": "2s"}))
    return m, o


def _ok(m):
    r = request(m.port, target="/echo?ok")
    assert r.status == 200 and r.json()["target"] == "/echo?ok"


def test_body_trickled_in_small_pieces(env):
    m, _ = env
    body = bytes(range(256)) * 8
    with HttpConn(m.port, timeout=10) as c:
        c.send(request_bytes("POST", "/echo", headers=[("Content-Length", str(len(body)))]))
        for i in range(0, len(body), 20):
            c.send(body[i:i + 20])
            time.sleep(0.003)
        r = c.read_response()
    assert r.status == 200
    assert r.json()["body_len"] == len(body)
    assert r.json()["body_sha256"] == hashlib.sha256(body).hexdigest()


def test_head_split_across_many_writes(env):
    m, _ = env
    data = request_bytes("GET", "/echo?split", headers=[("X-A", "1"), ("X-B", "2")])
    with HttpConn(m.port, timeout=10) as c:
        for i in range(len(data)):
            c.send(data[i:i + 1])
        r = c.read_response()
    assert r.status == 200 and r.json()["target"] == "/echo?split"


def test_client_aborts_mid_upload(env):
    m, _ = env
    for _ in range(5):
        with HttpConn(m.port, timeout=5) as c:
            c.send(request_bytes("POST", "/echo", headers=[("Content-Length", str(MiB))]) + b"x" * 100000)
            time.sleep(0.05)
    _ok(m)


def test_client_resets_mid_upload(env):
    m, _ = env
    for _ in range(5):
        c = HttpConn(m.port, timeout=5)
        c.send(request_bytes("POST", "/echo", headers=[("Transfer-Encoding", "chunked")]) + b"1000\r\n" + b"y" * 2000)
        time.sleep(0.05)
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()
    _ok(m)


def test_client_aborts_mid_download(env):
    m, _ = env
    for _ in range(5):
        with HttpConn(m.port, timeout=10) as c:
            c.send(request_bytes(target="/size/%d" % (20 * MiB)))
            got = 0
            while got < MiB:
                c._fill(5)
                got += len(c.buf)
                c.buf.clear()
        # closed with ~19 MiB unread
    _ok(m)


def test_client_resets_mid_download(env):
    m, _ = env
    for _ in range(5):
        c = HttpConn(m.port, timeout=10)
        c.send(request_bytes(target="/size/%d?chunked=1" % (20 * MiB)))
        c._fill(5)
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()
    _ok(m)


def test_client_half_close_after_request(env):
    """A client that shuts down its write side after sending still gets its response."""
    m, _ = env
    with HttpConn(m.port, timeout=5) as c:
        c.send(request_bytes(target="/echo?half"))
        c.sock.shutdown(socket.SHUT_WR)
        r = c.read_response()
        assert r.status == 200 and r.json()["target"] == "/echo?half"


def test_connect_and_close_storm(env):
    m, _ = env
    for _ in range(300):
        s = socket.create_connection(("127.0.0.1", m.port), timeout=5)
        s.close()
    _ok(m)


def test_concurrent_aborts_and_requests(env):
    m, _ = env
    errors = []

    def good():
        try:
            for i in range(30):
                _ok(m)
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))

    def bad():
        for i in range(30):
            try:
                c = HttpConn(m.port, timeout=5)
                c.send(request_bytes(target="/slow?ms=50") if i % 2 else b"GET /echo HTTP/1.1\r\nHost: x")
                c.close()
            except OSError:
                pass

    ts = [threading.Thread(target=good) for _ in range(4)] + [threading.Thread(target=bad) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(30)
    assert errors == []
