"""Limits: header size/count, body size, header/body/idle timeouts."""
import select
import time

import pytest

from integ_util import HttpConn, request, request_bytes, simple_config

LIMITS = {"header_timeout": "1s", "body_timeout": "1s", "idle_timeout": "1s",
          "max_header_bytes": "4KiB", "max_headers": 20, "max_body_bytes": "1MiB"}


@pytest.fixture(scope="module")
def env(mprocs):
    o = mprocs.origin("o1")
    m = mprocs.meridian(simple_config(("o1", o.port), limits=LIMITS))
    return m, o


def _no_origin_request(o, before):
    time.sleep(0.15)
    assert o.stats["requests"] == before, "request reached the origin"


def test_header_bytes_over_limit_431(env):
    m, o = env
    before = o.stats["requests"]
    with HttpConn(m.port, timeout=5) as c:
        c.send(request_bytes(target="/echo", headers=[("X-Big", "a" * 8000)]))
        r = c.read_response()
        assert r.status == 431
        assert c.closed_within(3)
    _no_origin_request(o, before)


def test_header_bytes_many_small_headers_over_limit_431(env):
    m, o = env
    before = o.stats["requests"]
    with HttpConn(m.port, timeout=5) as c:
        c.send(request_bytes(target="/echo", headers=[("X-H%d" % i, "v" * 400) for i in range(15)]))
        r = c.read_response()
        assert r.status == 431
    _no_origin_request(o, before)


def test_header_bytes_under_limit_ok(env):
    m, _ = env
    r = request(m.port, target="/echo", headers=[("X-Big", "a" * 3000)])
    assert r.status == 200


def test_too_many_headers_431(env):
    m, o = env
    before = o.stats["requests"]
    with HttpConn(m.port, timeout=5) as c:
        c.send(request_bytes(target="/echo", headers=[("X-H%d" % i, "v") for i in range(40)]))
        r = c.read_response()
        assert r.status == 431
        assert c.closed_within(3)
    _no_origin_request(o, before)


def test_headers_at_limit_ok(env):
    m, _ = env
    # Host + 19 others = 20 headers
    r = request(m.port, target="/echo", headers=[("X-H%d" % i, "v") for i in range(19)])
    assert r.status == 200


def test_content_length_over_limit_413_before_body(env):
    m, o = env
    before = o.stats["requests"]
    with HttpConn(m.port, timeout=5) as c:
        c.send(request_bytes("POST", "/echo", headers=[("Content-Length", str(2 * 1024 * 1024))]))
        # no body sent: the proxy must answer from the head alone
        r = c.read_response(timeout=3)
        assert r.status == 413
    _no_origin_request(o, before)


def test_content_length_over_limit_with_expect_413_no_continue(env):
    m, o = env
    before = o.stats["requests"]
    with HttpConn(m.port, timeout=5) as c:
        c.send(request_bytes("POST", "/echo", headers=[("Content-Length", str(2 * 1024 * 1024)),
                                                       ("Expect", "100-continue")]))
        r = c.read_response(timeout=3)
        assert r.status == 413
        assert r.interim == [], "sent 100 Continue for a body it will refuse"
    _no_origin_request(o, before)


def test_content_length_one_over_limit_413(env):
    m, o = env
    before = o.stats["requests"]
    with HttpConn(m.port, timeout=5) as c:
        c.send(request_bytes("POST", "/echo", headers=[("Content-Length", str(1024 * 1024 + 1))]))
        r = c.read_response(timeout=3)
        assert r.status == 413
    _no_origin_request(o, before)


def test_content_length_at_limit_ok(env):
    m, _ = env
    n = 1024 * 1024
    r = request(m.port, "POST", "/echo", body=b"a" * n, timeout=10)
    assert r.status == 200
    assert r.json()["body_len"] == n


def test_chunked_body_over_limit_413(env):
    m, _ = env
    chunk = b"x" * 65536
    piece = b"%x\r\n" % len(chunk) + chunk + b"\r\n"
    with HttpConn(m.port, timeout=5) as c:
        c.send(request_bytes("POST", "/echo", headers=[("Transfer-Encoding", "chunked")]))
        sent = 0
        for _ in range(64):  # up to 4 MiB, stop as soon as the proxy answers
            rl, _, _ = select.select([c.sock], [], [], 0)
            if rl:
                break
            try:
                c.send(piece)
            except OSError:
                break
            sent += len(chunk)
            time.sleep(0.002)
        r = c.read_response(timeout=5)
        assert r.status == 413, r
        assert c.read_until_eof(3)[1], "connection not closed after 413"


def test_header_timeout_408(env):
    m, _ = env
    t0 = time.monotonic()
    with HttpConn(m.port, timeout=6) as c:
        c.send(b"GET /echo HTTP/1.1\r\nHost: a.example\r\n")
        r = c.read_response(timeout=6)
        el = time.monotonic() - t0
        assert r.status == 408
        assert c.closed_within(3)
    assert 0.8 <= el <= 4.0, "header timeout fired after %.2fs (configured 1s)" % el


def test_header_timeout_slowloris_drip(env):
    """The whole head must arrive within header_timeout, even if bytes keep trickling in."""
    m, _ = env
    head = b"GET /echo HTTP/1.1\r\nHost: a.example\r\n" + b"".join(b"X-D%d: v\r\n" % i for i in range(100))
    t0 = time.monotonic()
    got = b""
    with HttpConn(m.port, timeout=6) as c:
        for b in head:
            if time.monotonic() - t0 > 6:
                break
            rl, _, _ = select.select([c.sock], [], [], 0)
            if rl:
                break
            try:
                c.send(bytes([b]))
            except OSError:
                break
            time.sleep(0.1)
        got, closed = c.read_until_eof(4)
    el = time.monotonic() - t0
    assert got.startswith(b"HTTP/1.1 408"), got[:100]
    assert closed
    assert el <= 5.0, "slowloris connection lived %.1fs with a 1s header timeout" % el


def test_body_timeout(env):
    m, _ = env
    t0 = time.monotonic()
    with HttpConn(m.port, timeout=6) as c:
        c.send(request_bytes("POST", "/echo", headers=[("Content-Length", "100")]) + b"x" * 10)
        data, closed = c.read_until_eof(6)
    el = time.monotonic() - t0
    assert closed, "connection with a stalled body still open after 6s (body_timeout 1s)"
    assert data == b"" or data.startswith(b"HTTP/1.1 408"), data[:100]
    assert el <= 5.0


def test_idle_keepalive_closed_without_bytes(env):
    m, _ = env
    with HttpConn(m.port, timeout=6) as c:
        c.send(request_bytes(target="/echo"))
        assert c.read_response().status == 200
        t0 = time.monotonic()
        data, closed = c.read_until_eof(5)
        el = time.monotonic() - t0
    assert closed, "idle keep-alive connection not closed within 5s (idle_timeout 1s)"
    assert data == b"", "an idle close must not send bytes: %r" % data[:100]
    assert 0.8 <= el <= 4.0, "closed after %.2fs" % el


def test_fresh_connection_without_bytes_is_closed(env):
    m, _ = env
    with HttpConn(m.port, timeout=6) as c:
        data, closed = c.read_until_eof(5)
    assert closed
    assert data == b"" or data.startswith(b"HTTP/1.1 408"), data[:100]


def test_keepalive_active_connection_survives_past_idle_timeout(env):
    """Requests spaced under idle_timeout keep one connection alive well past it."""
    m, _ = env
    with HttpConn(m.port, timeout=5) as c:
        for i in range(5):
            c.send(request_bytes(target="/echo?i=%d" % i))
            assert c.read_response().status == 200
            time.sleep(0.5)
