"""Request and response bodies: streamed uploads/downloads up to 50 MiB, 100-continue."""
import hashlib
import select
import time

import pytest

from integ_util import HttpConn, pattern, pattern_pieces, pattern_sha256, request, request_bytes, simple_config

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def env(mprocs):
    o = mprocs.origin("o1")
    m = mprocs.meridian(simple_config(("o1", o.port)))
    return m, o


def _upload_cl(port, n, piece=MiB, pause_every=0):
    h = hashlib.sha256()
    with HttpConn(port, timeout=60) as c:
        c.send(request_bytes("POST", "/echo", headers=[("Content-Length", str(n))]))
        sent = 0
        for i, p in enumerate(pattern_pieces(n)):
            c.send(p)
            h.update(p)
            sent += len(p)
            if pause_every and i % pause_every == 0:
                time.sleep(0.01)
        r = c.read_response(timeout=60)
    return r, h.hexdigest()


def test_upload_content_length_small(env):
    m, _ = env
    r, sha = _upload_cl(m.port, 100000)
    assert r.status == 200
    assert r.json()["body_len"] == 100000
    assert r.json()["body_sha256"] == sha


def test_upload_content_length_50mib_streamed(env):
    m, _ = env
    n = 50 * MiB
    r, sha = _upload_cl(m.port, n, pause_every=64)
    assert r.status == 200
    j = r.json()
    assert j["body_len"] == n
    assert j["body_sha256"] == sha


def _upload_chunked(port, n):
    sizes = [1, 17, 4096, 65536, 100000, 3, 1 << 20]
    data = memoryview(pattern(n))
    with HttpConn(port, timeout=60) as c:
        c.send(request_bytes("POST", "/echo", headers=[("Transfer-Encoding", "chunked")]))
        off, i, buf = 0, 0, []
        pending = 0
        while off < n:
            m = min(sizes[i % len(sizes)], n - off)
            i += 1
            buf.append(b"%x\r\n" % m + data[off:off + m] + b"\r\n")
            pending += m
            off += m
            if pending >= 256 * 1024:
                c.send(b"".join(buf))
                buf, pending = [], 0
        buf.append(b"0\r\n\r\n")
        c.send(b"".join(buf))
        r = c.read_response(timeout=60)
    return r, pattern_sha256(n)


def test_upload_chunked_small(env):
    m, _ = env
    r, sha = _upload_chunked(m.port, 300000)
    assert r.status == 200
    assert r.json()["body_len"] == 300000
    assert r.json()["body_sha256"] == sha


def test_upload_chunked_50mib_streamed(env):
    m, _ = env
    n = 50 * MiB
    r, sha = _upload_chunked(m.port, n)
    assert r.status == 200
    j = r.json()
    assert j["body_len"] == n
    assert j["body_sha256"] == sha


def test_upload_chunked_with_extensions_and_trailers(env):
    m, _ = env
    body = b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"
    r = request(m.port, "POST", "/echo", headers=[("Transfer-Encoding", "chunked")], body=body)
    assert r.status == 200
    assert r.json()["body_len"] == 11
    assert r.json()["body_sha256"] == hashlib.sha256(b"hello world").hexdigest()


@pytest.mark.parametrize("mode", ["", "?chunked=1", "?close=1"])
@pytest.mark.parametrize("n", [0, 1, 70000, 50 * MiB])
def test_download(env, n, mode):
    m, _ = env
    t0 = time.monotonic()
    r = request(m.port, target="/size/%d%s" % (n, mode), timeout=60 if n > MiB else 5, store=False)
    el = time.monotonic() - t0
    assert r.status == 200
    assert el < (30 if n > MiB else 3), "download took %.1fs" % el
    assert r.body_len == n
    assert r.body_sha256 == pattern_sha256(n)


def test_download_then_keepalive_continues(env):
    m, _ = env
    with HttpConn(m.port, timeout=30) as c:
        c.send(request_bytes(target="/size/3000000?chunked=1") + request_bytes(target="/size/2000000")
               + request_bytes(target="/echo?x"))
        r = c.read_response(store=False)
        assert r.body_len == 3000000 and r.body_sha256 == pattern_sha256(3000000)
        r = c.read_response(store=False)
        assert r.body_len == 2000000 and r.body_sha256 == pattern_sha256(2000000)
        r = c.read_response()
        assert r.json()["target"] == "/echo?x"


def test_download_slow_reader(env):
    """A client that reads slowly still gets every byte (backpressure, no truncation)."""
    m, _ = env
    n = 8 * MiB
    with HttpConn(m.port, timeout=30) as c:
        c.sock.setsockopt(__import__("socket").SOL_SOCKET, __import__("socket").SO_RCVBUF, 65536)
        c.send(request_bytes(target="/size/%d" % n))
        time.sleep(1.0)
        r = c.read_response(store=False)
        assert r.body_len == n and r.body_sha256 == pattern_sha256(n)


def test_expect_100_continue(env):
    m, _ = env
    body = b"z" * 1000
    with HttpConn(m.port) as c:
        c.send(request_bytes("POST", "/echo", headers=[("Content-Length", "1000"), ("Expect", "100-continue")]))
        # the proxy must answer 100 Continue before we send the body
        rl, _, _ = select.select([c.sock], [], [], 3)
        assert rl, "no 100 Continue within 3 s"
        line = c._line(3)
        assert line == b"HTTP/1.1 100 Continue", line
        assert c._line(3) == b""
        c.send(body)
        r = c.read_response()
        assert r.status == 200
        assert r.json()["body_len"] == 1000
        assert r.json()["body_sha256"] == hashlib.sha256(body).hexdigest()


def test_expect_100_continue_chunked(env):
    m, _ = env
    with HttpConn(m.port) as c:
        c.send(request_bytes("PUT", "/echo", headers=[("Transfer-Encoding", "chunked"),
                                                       ("Expect", "100-continue")]))
        rl, _, _ = select.select([c.sock], [], [], 3)
        assert rl, "no 100 Continue within 3 s"
        assert c._line(3) == b"HTTP/1.1 100 Continue"
        assert c._line(3) == b""
        c.send(b"4\r\nabcd\r\n0\r\n\r\n")
        r = c.read_response()
        assert r.status == 200
        assert r.json()["body_len"] == 4
