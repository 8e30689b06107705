"""Gateway errors: 502 (refused), 504 (timeouts), 503 (no enabled origin), dead origins."""
import socket
import time

import pytest

from integ_util import HttpConn, closed_port, config, origin_entry, pool, request, request_bytes, simple_config


def _assert_error_page(r, status):
    assert r.status == status, r
    rid = r.header("X-Request-Id")
    assert rid, "gateway error without X-Request-Id"
    assert rid.encode() in r.body, "error page should carry the request id %r: %r" % (rid, r.body)
    assert len(r.body) < 4096, "error pages are short"


def test_origin_port_closed_502(procs):
    m = procs.meridian(simple_config(("dead", closed_port()), limits={"connect_timeout": "2s"}))
    t0 = time.monotonic()
    r = request(m.port, target="/echo", timeout=10)
    _assert_error_page(r, 502)
    assert time.monotonic() - t0 < 5


def test_upstream_timeout_504(procs):
    o = procs.origin("slow")
    m = procs.meridian(simple_config(("slow", o.port), limits={"upstream_timeout": "1s"}))
    t0 = time.monotonic()
    r = request(m.port, target="/slow?ms=6000", timeout=10)
    el = time.monotonic() - t0
    _assert_error_page(r, 504)
    assert 0.8 <= el <= 4.0, "504 after %.2fs with upstream_timeout 1s" % el
    # a fast request still works afterwards
    assert request(m.port, target="/echo").status == 200


def _blackhole_listener():
    """A loopback listener whose accept queue is full, so new SYNs are dropped and connect()
    hangs. Returns (listener, fillers) or None when the kernel does not behave that way."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(0)
    port = ls.getsockname()[1]
    fillers = []
    for _ in range(8):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        fillers.append(s)
    time.sleep(0.2)
    probe = socket.socket()
    probe.settimeout(1.0)
    try:
        probe.connect(("127.0.0.1", port))
        ok = False
    except socket.timeout:
        ok = True
    except OSError:
        ok = False
    finally:
        probe.close()
    if not ok:
        for s in fillers:
            s.close()
        ls.close()
        return None
    return ls, fillers


def test_connect_timeout_504(procs):
    bh = _blackhole_listener()
    if bh is None:
        pytest.skip("cannot make a connect() hang on loopback here (accept-queue overflow not dropping SYNs)")
    ls, fillers = bh
    try:
        port = ls.getsockname()[1]
        m = procs.meridian(simple_config(("bh", port), limits={"connect_timeout": "1s", "upstream_timeout": "30s"}))
        t0 = time.monotonic()
        r = request(m.port, target="/echo", timeout=15)
        el = time.monotonic() - t0
        _assert_error_page(r, 504)
        assert el <= 6.0, "connect timeout 1s took %.1fs" % el
    finally:
        for s in fillers:
            s.close()
        ls.close()


def test_all_origins_disabled_503(procs):
    o = procs.origin("o1")
    cfg = config({"p1": pool([origin_entry("o1", o.port, enabled=False),
                              origin_entry("o2", o.port, enabled=False)])})
    m = procs.meridian(cfg)
    r = request(m.port, target="/echo")
    _assert_error_page(r, 503)
    assert o.stats["requests"] == 0


def test_disabled_origin_gets_no_traffic(procs):
    a = procs.origin("a")
    b = procs.origin("b")
    cfg = config({"p1": pool([origin_entry("a", a.port), origin_entry("b", b.port, enabled=False)])})
    m = procs.meridian(cfg)
    for _ in range(20):
        r = request(m.port, target="/echo")
        assert r.json()["name"] == "a"
    assert b.stats["requests"] == 0


def test_origin_killed_then_502_then_recovers(procs):
    o = procs.origin_process("victim")
    port = o.port
    m = procs.meridian(simple_config(("victim", port), limits={"connect_timeout": "2s"}))
    with HttpConn(m.port) as c:
        c.send(request_bytes(target="/echo"))
        assert c.read_response().status == 200
    o.kill()
    # idle pooled upstream connections are now dead; the proxy must not hang or crash
    r = request(m.port, target="/echo", timeout=10)
    assert r.status == 502, r
    r = request(m.port, target="/echo", timeout=10)
    assert r.status == 502, r


def test_origin_killed_mid_response_closes_client(procs):
    o = procs.origin_process("victim")
    m = procs.meridian(simple_config(("victim", o.port)))
    with HttpConn(m.port, timeout=10) as c:
        c.send(request_bytes(target="/slowbody?ms=3000"))
        # wait for the head to arrive, then kill the origin before the body
        line = c._line(5)
        assert line.startswith(b"HTTP/1.1 200"), line
        o.kill()
        data, closed = c.read_until_eof(5)
        assert closed, "client connection hangs after the origin died mid-response"


def test_origin_killed_while_waiting_for_head_502(procs):
    o = procs.origin_process("victim")
    m = procs.meridian(simple_config(("victim", o.port)))
    with HttpConn(m.port, timeout=10) as c:
        c.send(request_bytes(target="/slow?ms=5000"))
        time.sleep(0.5)
        o.kill()
        r = c.read_response(timeout=5)
        assert r.status == 502, r


def test_origin_restart_recovers(procs):
    """Pooled connections to a dead origin are not reused forever: after the origin comes back on
    the same port, requests succeed again (at most one 502 on the way)."""
    o = procs.origin_process("first")
    port = o.port
    m = procs.meridian(simple_config(("o", port), limits={"connect_timeout": "2s"}))
    with HttpConn(m.port) as c:
        for _ in range(3):
            c.send(request_bytes(target="/echo"))
            assert c.read_response().status == 200
    o.kill()
    from integ_util import OriginProcess
    o2 = OriginProcess(o.workdir, name="second", port=port)
    procs.items.append(o2)
    o2.start()
    statuses = [request(m.port, target="/echo", timeout=10).status for _ in range(4)]
    assert statuses.count(502) <= 1 and statuses[-3:] == [200, 200, 200], statuses
    assert request(m.port, target="/echo").json()["name"] == "second"


def test_origin_closes_with_connection_close_header(procs):
    """The origin says "Connection: close" and closes: the proxy must not reuse that connection."""
    o = procs.origin("o1")
    m = procs.meridian(simple_config(("o1", o.port)))
    with HttpConn(m.port) as c:
        for i in range(40):
            t = "/echo?i=%d" % i + ("&conn_close=1" if i % 2 else "")
            c.send(request_bytes(target=t))
            r = c.read_response()
            assert r.status == 200 and r.json()["target"] == t, (i, r)
            assert r.header("Connection", "").lower() != "close" or c.closed_within(2)
            if r.header("Connection", "").lower() == "close":
                break


def test_origin_closes_idle_pooled_connection(procs):
    """The origin silently closes an idle keep-alive connection (as servers with short idle
    timeouts do). The next request must not fail: a pooled connection that the origin closed
    is detected (or the request is replayed) instead of answering 502."""
    o = procs.origin("o1")
    m = procs.meridian(simple_config(("o1", o.port)))
    statuses = []
    with HttpConn(m.port) as c:
        for i in range(6):
            c.send(request_bytes(target="/echo?idle_close_ms=200&i=%d" % i))
            statuses.append(c.read_response().status)
            time.sleep(0.4)
    assert statuses == [200] * 6, statuses
