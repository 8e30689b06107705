"""Basic proxying: curl, http.client, raw sockets, keep-alive, pipelining, HEAD/204/304."""
import http.client
import json
import subprocess
import time

import pytest

from integ_util import HttpConn, request, request_bytes, simple_config


@pytest.fixture(scope="module")
def env(mprocs):
    o = mprocs.origin("o1")
    m = mprocs.meridian(simple_config(("o1", o.port)))
    return m, o


def test_curl_get(env):
    m, o = env
    out = subprocess.run(["curl", "-s", "-i", "--max-time", "10", "http://127.0.0.1:%d/" % m.port],
                         capture_output=True, timeout=15)
    assert out.returncode == 0, out.stderr
    head, _, body = out.stdout.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    assert body == b"hello from o1\n"
    assert b"\r\nx-origin: o1" in head.lower()


def test_curl_post_echo(env):
    m, _ = env
    out = subprocess.run(["curl", "-s", "--max-time", "10", "-X", "PUT", "--data-binary", "abcdef",
                          "http://127.0.0.1:%d/echo?q=1" % m.port], capture_output=True, timeout=15)
    assert out.returncode == 0, out.stderr
    j = json.loads(out.stdout)
    assert j["method"] == "PUT"
    assert j["target"] == "/echo?q=1"
    assert j["body_len"] == 6


def test_http_client_headers_pass_through(env):
    m, _ = env
    c = http.client.HTTPConnection("127.0.0.1", m.port, timeout=10)
    try:
        c.request("GET", "/echo", headers={"X-Custom": "value 1", "Accept": "text/plain"})
        r = c.getresponse()
        body = r.read()
        assert r.status == 200
        assert r.getheader("X-Origin") == "o1"
        assert r.getheader("Content-Type") == "application/json"
        j = json.loads(body)
        hs = {k.lower(): v for k, v in j["headers"]}
        assert hs["x-custom"] == "value 1"
        assert hs["accept"] == "text/plain"
        # the response status reason and statuses pass through
        c.request("GET", "/status/404")
        r = c.getresponse()
        assert r.status == 404 and r.read() == b"status 404\n"
        c.request("GET", "/status/503")
        r = c.getresponse()
        assert r.status == 503 and r.read() == b"status 503\n"
    finally:
        c.close()


def test_raw_socket_get(env):
    m, _ = env
    r = request(m.port, target="/", host="whatever.example")
    assert r.version == "HTTP/1.1"
    assert r.status == 200
    assert r.body == b"hello from o1\n"
    assert r.header("Content-Length") == "14"


def test_keepalive_many_requests_reuse_upstream(env):
    m, o = env
    # let any earlier connection settle, then count
    o.reset_stats()
    c = http.client.HTTPConnection("127.0.0.1", m.port, timeout=10)
    try:
        for i in range(100):
            c.request("GET", "/echo?i=%d" % i)
            r = c.getresponse()
            j = json.loads(r.read())
            assert r.status == 200
            assert j["target"] == "/echo?i=%d" % i
    finally:
        c.close()
    st = o.stats
    assert st["requests"] == 100
    assert st["accepts"] <= 2, "upstream connections are not reused: %d accepts for 100 requests" % st["accepts"]


def test_keepalive_reuse_across_client_connections(env):
    m, o = env
    o.reset_stats()
    for k in range(10):
        with HttpConn(m.port) as c:
            for i in range(5):
                c.send(request_bytes(target="/echo?k=%d&i=%d" % (k, i)))
                assert c.read_response().status == 200
    st = o.stats
    assert st["requests"] == 50
    assert st["accepts"] <= 3, "upstream connections are not reused across clients: %d accepts" % st["accepts"]


def test_pipelining_in_order(env):
    m, _ = env
    with HttpConn(m.port) as c:
        n = 10
        c.send(b"".join(request_bytes(target="/echo?p=%d" % i) for i in range(n)))
        for i in range(n):
            r = c.read_response()
            assert r.status == 200
            assert r.json()["target"] == "/echo?p=%d" % i


def test_pipelining_slow_first_keeps_order(env):
    m, _ = env
    delays = [600, 400, 200, 0]
    t0 = time.monotonic()
    with HttpConn(m.port) as c:
        c.send(b"".join(request_bytes(target="/slow?ms=%d&id=%d" % (d, i)) for i, d in enumerate(delays)))
        for i, d in enumerate(delays):
            r = c.read_response()
            assert r.status == 200
            assert r.json()["target"] == "/slow?ms=%d&id=%d" % (d, i)
    assert time.monotonic() - t0 < 8


def test_pipelining_mixed_methods_and_bodies(env):
    m, _ = env
    reqs = [
        request_bytes("POST", "/echo?a", body=b"x" * 1000),
        request_bytes("GET", "/size/5000"),
        request_bytes("PUT", "/echo?b", headers=[("Transfer-Encoding", "chunked")],
                      body=b"3\r\nabc\r\n0\r\n\r\n"),
        request_bytes("GET", "/size/3000?chunked=1"),
        request_bytes("GET", "/echo?c"),
    ]
    with HttpConn(m.port) as c:
        c.send(b"".join(reqs))
        r = c.read_response()
        assert r.json()["target"] == "/echo?a" and r.json()["body_len"] == 1000
        r = c.read_response()
        assert r.status == 200 and r.body_len == 5000
        r = c.read_response()
        assert r.json()["target"] == "/echo?b" and r.json()["body_len"] == 3
        r = c.read_response()
        assert r.status == 200 and r.body_len == 3000
        r = c.read_response()
        assert r.json()["target"] == "/echo?c"


def test_head_has_no_body_then_pipelined_request_works(env):
    m, _ = env
    with HttpConn(m.port, timeout=4) as c:
        c.send(request_bytes("HEAD", "/size/1234") + request_bytes("GET", "/echo?after-head"))
        r = c.read_response("HEAD")
        assert r.status == 200
        assert r.header("Content-Length") == "1234"
        r = c.read_response()
        assert r.status == 200, r
        assert r.json()["target"] == "/echo?after-head"


def test_head_chunked_then_pipelined(env):
    m, _ = env
    with HttpConn(m.port, timeout=4) as c:
        c.send(request_bytes("HEAD", "/size/1234?chunked=1") + request_bytes("GET", "/echo?after-head2"))
        r = c.read_response("HEAD")
        assert r.status == 200
        r = c.read_response()
        assert r.status == 200, r
        assert r.json()["target"] == "/echo?after-head2"


@pytest.mark.parametrize("status", [204, 304])
def test_no_body_statuses_then_pipelined(env, status):
    m, _ = env
    with HttpConn(m.port, timeout=4) as c:
        c.send(request_bytes("GET", "/status/%d" % status) + request_bytes("GET", "/echo?after-%d" % status))
        r = c.read_response()
        assert r.status == status
        assert r.body == b""
        assert r.header("Transfer-Encoding") is None
        r = c.read_response()
        assert r.status == 200, r
        assert r.json()["target"] == "/echo?after-%d" % status


def test_absolute_form_target(env):
    m, o = env
    r = request(m.port, target="http://abs.example/echo?abs=1", host="other.example")
    assert r.status == 200
    j = r.json()
    # a gateway sends origin-form to the origin (RFC 9112 3.2.1)
    assert j["target"] == "/echo?abs=1"
    hs = {k.lower(): v for k, v in j["headers"]}
    assert hs.get("x-forwarded-host") == "abs.example"


def test_http10_request(env):
    m, _ = env
    with HttpConn(m.port) as c:
        c.send(b"GET /echo HTTP/1.0\r\nHost: a.example\r\n\r\n")
        r = c.read_response()
        assert r.status == 200
        assert r.json()["target"] == "/echo"
        # HTTP/1.0 without keep-alive: the proxy closes after the response
        assert c.closed_within(3)


def test_connection_close_from_client(env):
    m, _ = env
    with HttpConn(m.port) as c:
        c.send(request_bytes(target="/echo", headers=[("Connection", "close")]))
        r = c.read_response()
        assert r.status == 200
        assert c.closed_within(3)


def test_many_parallel_connections(env):
    import threading
    m, _ = env
    errors = []

    def worker(k):
        try:
            with HttpConn(m.port) as c:
                for i in range(20):
                    c.send(request_bytes(target="/echo?w=%d&i=%d" % (k, i)))
                    r = c.read_response()
                    if r.status != 200 or r.json()["target"] != "/echo?w=%d&i=%d" % (k, i):
                        errors.append((k, i, r.status))
        except Exception as e:  # noqa: BLE001
            errors.append((k, repr(e)))

    ts = [threading.Thread(target=worker, args=(k,)) for k in range(30)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(30)
    assert errors == []


@pytest.mark.parametrize("workers", [2, "auto"])
def test_multiple_workers(procs, workers):
    o = procs.origin("o1")
    m = procs.meridian(simple_config(("o1", o.port), workers=workers))
    for i in range(20):
        with HttpConn(m.port) as c:
            c.send(request_bytes(target="/echo?w=%d" % i) * 2)
            for _ in range(2):
                r = c.read_response()
                assert r.status == 200 and r.json()["target"] == "/echo?w=%d" % i


def test_200_concurrent_connections(env):
    m, _ = env
    conns = []
    try:
        for i in range(200):
            c = HttpConn(m.port, timeout=10)
            conns.append(c)
        for i, c in enumerate(conns):
            c.send(request_bytes(target="/echo?cc=%d" % i))
        for i, c in enumerate(conns):
            r = c.read_response()
            assert r.status == 200 and r.json()["target"] == "/echo?cc=%d" % i
    finally:
        for c in conns:
            c.close()
