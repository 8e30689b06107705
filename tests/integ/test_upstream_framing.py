"""Strict framing of origin responses: a malformed response becomes 502 and the proxy
keeps serving."""
import pytest

from integ_util import HttpConn, request, request_bytes, simple_config

MALFORMED = ["cl-te", "dup-cl", "bad-cl", "bad-chunk-size", "chunk-no-crlf", "obs-fold", "nul-header",
             "bare-cr", "bad-status-line", "garbage", "space-before-colon", "te-gzip"]


@pytest.fixture(scope="module")
def env(mprocs):
    o = mprocs.origin("o1")
    m = mprocs.meridian(simple_config(("o1", o.port), limits={"upstream_timeout": "5s"}))
    return m, o


@pytest.mark.parametrize("case", MALFORMED)
def test_malformed_response_502(env, case):
    m, o = env
    r = request(m.port, target="/raw/%s" % case, timeout=10)
    assert r.status == 502, "got %d for /raw/%s: %r" % (r.status, case, r.body[:200])
    rid = r.header("X-Request-Id")
    assert rid and rid.encode() in r.body, "502 body should carry the request id: %r" % r.body
    # still serving
    r = request(m.port, target="/echo")
    assert r.status == 200


@pytest.mark.parametrize("case", MALFORMED)
def test_malformed_response_then_keepalive(env, case):
    """On a keep-alive client connection the 502 is framed correctly; the next request works
    (or the proxy closed cleanly after the 502)."""
    m, _ = env
    with HttpConn(m.port, timeout=10) as c:
        c.send(request_bytes(target="/raw/%s" % case))
        r = c.read_response()
        assert r.status == 502
        if r.header("Connection", "").lower() == "close":
            assert c.closed_within(3)
            return
        c.send(request_bytes(target="/echo?after"))
        r = c.read_response()
        assert r.status == 200 and r.json()["target"] == "/echo?after"


def test_origin_closes_without_response_502(env):
    m, _ = env
    r = request(m.port, target="/close", timeout=10)
    assert r.status == 502


def test_origin_resets_502(env):
    m, _ = env
    r = request(m.port, target="/reset", timeout=10)
    assert r.status == 502


@pytest.mark.parametrize("case", ["truncated-cl", "truncated-chunked"])
def test_origin_closes_mid_response_client_closed(env, case):
    """Response already started: the client connection is closed, not left hanging."""
    m, _ = env
    with HttpConn(m.port, timeout=10) as c:
        c.send(request_bytes(target="/raw/%s" % case))
        data, closed = c.read_until_eof(5)
        assert closed, "client connection left open after the origin died mid-response"
        assert data.startswith((b"HTTP/1.1 200", b"HTTP/1.1 502")), data[:100]
        if case == "truncated-chunked":
            assert not data.endswith(b"0\r\n\r\n"), "a truncated chunked body must not be terminated cleanly"
