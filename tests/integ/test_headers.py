"""Request headers the origin sees: X-Forwarded-*, X-Request-Id, hop-by-hop removal."""
import re

import pytest

from integ_util import HttpConn, request, request_bytes, simple_config

RID_GEN = re.compile(r"^[A-Za-z0-9-]+$")


@pytest.fixture(scope="module")
def env(mprocs):
    o = mprocs.origin("o1")
    m = mprocs.meridian(simple_config(("o1", o.port)))
    return m, o


def echo(port, headers=(), host="h.example", target="/echo", method="GET"):
    r = request(port, method, target, host=host, headers=headers)
    assert r.status == 200, r
    j = r.json()
    return r, j


def hvals(j, name):
    return [v for k, v in j["headers"] if k.lower() == name.lower()]


def test_x_forwarded_for_set(env):
    m, _ = env
    _, j = echo(m.port)
    assert hvals(j, "X-Forwarded-For") == ["127.0.0.1"]


def test_x_forwarded_for_appended(env):
    m, _ = env
    _, j = echo(m.port, headers=[("X-Forwarded-For", "1.2.3.4")])
    assert hvals(j, "X-Forwarded-For") == ["1.2.3.4, 127.0.0.1"]


def test_x_forwarded_proto_and_host(env):
    m, _ = env
    _, j = echo(m.port, host="myhost.example")
    assert hvals(j, "X-Forwarded-Proto") == ["http"]
    assert hvals(j, "X-Forwarded-Host") == ["myhost.example"]


def test_x_forwarded_proto_overrides_client_value(env):
    m, _ = env
    _, j = echo(m.port, headers=[("X-Forwarded-Proto", "https")])
    assert hvals(j, "X-Forwarded-Proto") == ["http"]


def test_request_id_generated_and_returned(env):
    m, _ = env
    r, j = echo(m.port)
    ids = hvals(j, "X-Request-Id")
    assert len(ids) == 1
    assert RID_GEN.match(ids[0]), ids
    assert r.header("X-Request-Id") == ids[0]


def test_request_ids_unique(env):
    m, _ = env
    seen = set()
    for _ in range(50):
        _, j = echo(m.port)
        seen.add(hvals(j, "X-Request-Id")[0])
    assert len(seen) == 50


@pytest.mark.parametrize("rid", ["abc", "req-1.2:3", "under_score", "A" * 40, "A" * 41, "A" * 64, "A" * 128, "0", "a.b-c:d"],
                         ids=lambda v: v if len(v) < 20 else "A*%d" % len(v))
def test_request_id_kept_when_well_formed(env, rid):
    m, _ = env
    r, j = echo(m.port, headers=[("X-Request-Id", rid)])
    assert hvals(j, "X-Request-Id") == [rid]
    assert r.header("X-Request-Id") == rid


@pytest.mark.parametrize("rid", ["has space", "A" * 129, "a/b", "semi;colon", "quote\"", "é"],
                         ids=lambda v: v if len(v) < 20 else "A*%d" % len(v))
def test_request_id_replaced_when_malformed(env, rid):
    m, _ = env
    r, j = echo(m.port, headers=[("X-Request-Id", rid)])
    ids = hvals(j, "X-Request-Id")
    assert len(ids) == 1
    assert ids[0] != rid
    assert RID_GEN.match(ids[0]), ids
    assert r.header("X-Request-Id") == ids[0]


def test_hop_by_hop_removed(env):
    m, _ = env
    _, j = echo(m.port, headers=[
        ("Connection", "keep-alive, X-Foo"),
        ("Keep-Alive", "timeout=5"),
        ("Proxy-Connection", "keep-alive"),
        ("TE", "trailers"),
        ("Trailer", "X-T"),
        ("Upgrade", "h2c"),
        ("Proxy-Authorization", "Basic eHl6"),
        ("X-Foo", "1"),
        ("X-Bar", "2"),
    ])
    names = {k.lower() for k, _ in j["headers"]}
    for h in ("keep-alive", "proxy-connection", "te", "upgrade", "x-foo"):
        assert h not in names, "%s was forwarded: %r" % (h, j["headers"])
    # Trailer is not hop-by-hop in RFC 9110: it announces trailer fields of a chunked body,
    # which the gateway relays unchanged, so it must reach the origin.
    assert hvals(j, "Trailer") == ["X-T"]
    # the proxy may send its own Connection header upstream, but not the client's tokens
    for v in hvals(j, "Connection"):
        toks = {t.strip().lower() for t in v.split(",")}
        assert toks <= {"keep-alive", "close"}, v
    assert hvals(j, "Proxy-Authorization") == ["Basic eHl6"]
    assert hvals(j, "X-Bar") == ["2"]


def test_connection_close_with_named_header(env):
    m, _ = env
    with HttpConn(m.port) as c:
        c.send(request_bytes(target="/echo", headers=[("Connection", "close, X-Foo"), ("X-Foo", "secret"),
                                                      ("X-Keep", "yes")]))
        r = c.read_response()
        assert r.status == 200
        j = r.json()
        assert hvals(j, "X-Foo") == []
        assert hvals(j, "X-Keep") == ["yes"]
        assert c.closed_within(3), "the proxy did not close after Connection: close"


def test_connection_named_headers_case_insensitive(env):
    m, _ = env
    _, j = echo(m.port, headers=[("Connection", "x-one,X-TWO"), ("X-One", "1"), ("x-two", "2"), ("X-Three", "3")])
    assert hvals(j, "X-One") == [] and hvals(j, "X-Two") == []
    assert hvals(j, "X-Three") == ["3"]


def test_upgrade_non_websocket_is_proxied_normally(env):
    m, _ = env
    r, j = echo(m.port, headers=[("Connection", "Upgrade"), ("Upgrade", "h2c"), ("HTTP2-Settings", "AAMAAABkAARAAAAAAAIAAAAA")])
    assert r.status == 200
    assert hvals(j, "Upgrade") == []


def test_end_to_end_headers_kept_in_order(env):
    m, _ = env
    _, j = echo(m.port, headers=[("X-A", "1"), ("X-B", "2"), ("X-A", "3"), ("Cookie", "a=b"),
                                 ("Authorization", "Bearer t")])
    xa = [v for k, v in j["headers"] if k.lower() == "x-a"]
    assert xa == ["1", "3"] or xa == ["1, 3"]
    assert hvals(j, "Cookie") == ["a=b"]
    assert hvals(j, "Authorization") == ["Bearer t"]


def test_trusted_proxy_keeps_x_forwarded_for(procs):
    o = procs.origin("o1")
    m = procs.meridian(simple_config(("o1", o.port), trusted=["127.0.0.0/8"]))
    _, j = echo(m.port, headers=[("X-Forwarded-For", "1.2.3.4")])
    assert hvals(j, "X-Forwarded-For") == ["1.2.3.4"]


def test_websocket_upgrade_refused_by_origin_is_relayed(env):
    """A valid WebSocket upgrade goes to the origin with Upgrade/Connection; an origin that
    answers with a normal response (here 200 from /echo) has it relayed as is, and the client
    connection then closes (nothing after an upgrade request can be parsed safely)."""
    m, _ = env
    with HttpConn(m.port, timeout=5) as c:
        c.send(request_bytes(target="/echo", host="h.example", headers=[
            ("Connection", "Upgrade"), ("Upgrade", "websocket"), ("Sec-WebSocket-Version", "13"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")]))
        r = c.read_response()
        assert r.status == 200
        j = r.json()
        assert hvals(j, "Upgrade") == ["websocket"]
        assert hvals(j, "Connection") == ["Upgrade"]
        assert hvals(j, "Sec-WebSocket-Key") == ["dGhlIHNhbXBsZSBub25jZQ=="]
        assert r.header("Connection", "").lower() == "close"
        assert c.closed_within(3)


def test_other_upgrades_are_plain_http(env):
    """An upgrade to something other than websocket (h2c) is proxied as plain HTTP with the
    Upgrade header dropped, and the client connection closes after the response."""
    m, _ = env
    with HttpConn(m.port, timeout=5) as c:
        c.send(request_bytes(target="/echo", host="h.example", headers=[
            ("Connection", "Upgrade, HTTP2-Settings"), ("Upgrade", "h2c"),
            ("HTTP2-Settings", "AAMAAABkAAQAAP__")]))
        r = c.read_response()
        assert r.status == 200
        j = r.json()
        assert not hvals(j, "Upgrade") and not hvals(j, "Connection")
        assert r.header("Connection", "").lower() == "close"
        assert c.closed_within(3)


KEY = ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")


@pytest.mark.parametrize("hdrs,status,why", [
    ([("Sec-WebSocket-Version", "13")], 400, "Sec-WebSocket-Key is missing"),
    ([KEY], 400, "Sec-WebSocket-Version is missing; send 13"),
    ([("Sec-WebSocket-Version", "8"), KEY], 426, "Sec-WebSocket-Version 13 only"),
    ([("Sec-WebSocket-Version", "13"), ("Sec-WebSocket-Version", "13"), KEY], 426,
     "Sec-WebSocket-Version 13 only"),
    ([("Sec-WebSocket-Version", "13"), ("Sec-WebSocket-Key", "c2hvcnQ=")], 400,
     "the base64 of 16 random bytes"),
    ([("Sec-WebSocket-Version", "13"), KEY, KEY], 400, "appears more than once"),
])
def test_bad_websocket_upgrade_is_refused(env, hdrs, status, why):
    """A WebSocket upgrade without version 13 and one 16-byte key gets 400 from the gateway
    (426 Upgrade Required with Sec-WebSocket-Version: 13 for a version it does not speak,
    RFC 6455 4.4), and nothing reaches the origin."""
    m, o = env
    before = o.stats["requests"]
    with HttpConn(m.port, timeout=5) as c:
        c.send(request_bytes(target="/echo", host="h.example", headers=[
            ("Connection", "Upgrade"), ("Upgrade", "websocket")] + hdrs))
        r = c.read_response()
        assert r.status == status, r
        assert why in r.body.decode(), r.body
        if status == 426:
            assert r.header("Sec-WebSocket-Version") == "13", r
            assert r.reason == "Upgrade Required", r
    assert o.stats["requests"] == before
