"""Global load balancing, session affinity: the __mrdlb cookie, zero-downtime failover modes,
header and ip_cookie affinity, and draining with pinned sessions."""
import re

import pytest

from integ_util import Admin, lb_config, lb_pool, request, request_from, wait_until

COOKIE = "__mrdlb"


def _set_cookie(r):
    """(value, {attr-lower: value}) of the __mrdlb Set-Cookie, or None."""
    for v in r.header_all("Set-Cookie"):
        parts = [p.strip() for p in v.split(";")]
        name, _, val = parts[0].partition("=")
        if name == COOKIE:
            attrs = {}
            for p in parts[1:]:
                k, _, av = p.partition("=")
                attrs[k.strip().lower()] = av.strip()
            return val, attrs
    return None


def _get(port, cookie=None, headers=()):
    hs = list(headers)
    if cookie is not None:
        hs.append(("Cookie", "%s=%s" % (COOKIE, cookie)))
    r = request(port, target="/", headers=hs)
    assert r.status == 200, r
    return r


def _three(procs, prefix):
    os_ = [procs.origin("%s%d" % (prefix, i)) for i in range(3)]
    return os_, [("%s%d" % (prefix, i), o.port) for i, o in enumerate(os_)]


def _affinity_meridian(procs, tmp_path, zdf="temporary", ttl="1h", kind="cookie", extra=None):
    os_, entries = _three(procs, "c")
    admin_cfg, admin = Admin.make(tmp_path)
    lb = {"session_affinity": kind, "session_affinity_ttl": ttl,
          "session_affinity_attributes": {"zero_downtime_failover": zdf}}
    lb.update(extra or {})
    m = procs.meridian(lb_config({"p1": lb_pool(entries, "round_robin")}, lb=lb, admin=admin_cfg))
    return m, admin, os_


def test_cookie_pins_origin(procs, tmp_path):
    """session_affinity cookie over a round_robin pool: the first response sets __mrdlb with
    Max-Age = session_affinity_ttl, HttpOnly and Path=/; 20 requests carrying it all reach the
    same origin (without it they rotate); a bogus value is ignored and replaced by a new pin."""
    m, _, _ = _affinity_meridian(procs, tmp_path, ttl="1h")
    r = _get(m.port)
    sc = _set_cookie(r)
    assert sc is not None, "no %s cookie set: %r" % (COOKIE, r.headers)
    val, attrs = sc
    assert re.fullmatch(r"[0-9a-fA-F]{16}", val), "cookie value %r is not 16 hex digits" % val
    assert attrs.get("max-age") == "3600", attrs
    assert "httponly" in attrs, attrs
    assert attrs.get("path") == "/", attrs
    assert attrs.get("samesite", "").lower() == "lax", attrs
    pinned = r.header("X-Origin")
    got = [_get(m.port, val).header("X-Origin") for _ in range(20)]
    assert got == [pinned] * 20, got
    # without the cookie round robin rotates (so the pin above is not an accident)
    assert len({_get(m.port).header("X-Origin") for _ in range(6)}) == 3
    # a bogus cookie is ignored: answered, and a new valid pin is set
    for bogus in ("garbage", "0", "x" * 300, "%00%ff"):
        rb = _get(m.port, bogus)
        sc2 = _set_cookie(rb)
        assert sc2 is not None and sc2[0] != bogus, "bogus cookie %r not replaced: %r" % (bogus, rb.headers)
        o = rb.header("X-Origin")
        assert [_get(m.port, sc2[0]).header("X-Origin") for _ in range(3)] == [o] * 3


def _pin(m):
    r = _get(m.port)
    val, _ = _set_cookie(r)
    return val, r.header("X-Origin")


def test_cookie_disabled_origin_temporary(procs, tmp_path):
    """zero_downtime_failover temporary: when the pinned origin is disabled (admin PATCH), the
    request goes to another origin but the cookie is not rewritten, so the session returns to
    its origin once it is enabled again."""
    m, admin, _ = _affinity_meridian(procs, tmp_path, zdf="temporary")
    admin.wait_up()
    val, pinned = _pin(m)
    r = admin.patch_origin("p1", pinned, {"enabled": False})
    assert r.status == 200, r
    for _ in range(5):
        rr = _get(m.port, val)
        assert rr.header("X-Origin") != pinned
        sc = _set_cookie(rr)
        assert sc is None or sc[0] == val, "temporary failover rewrote the cookie: %r" % (sc,)
    assert admin.patch_origin("p1", pinned, {"enabled": True}).status == 200
    assert [_get(m.port, val).header("X-Origin") for _ in range(5)] == [pinned] * 5


def test_cookie_disabled_origin_sticky(procs, tmp_path):
    """zero_downtime_failover sticky: when the pinned origin is disabled the request goes to
    another origin and the cookie is rewritten to pin the session there for good."""
    m, admin, _ = _affinity_meridian(procs, tmp_path, zdf="sticky")
    admin.wait_up()
    val, pinned = _pin(m)
    assert admin.patch_origin("p1", pinned, {"enabled": False}).status == 200
    rr = _get(m.port, val)
    other = rr.header("X-Origin")
    assert other != pinned
    sc = _set_cookie(rr)
    assert sc is not None and sc[0] != val, "sticky failover did not rewrite the cookie: %r" % (rr.headers,)
    new = sc[0]
    assert [_get(m.port, new).header("X-Origin") for _ in range(10)] == [other] * 10
    # the new pin holds even after the old origin is back
    assert admin.patch_origin("p1", pinned, {"enabled": True}).status == 200
    assert [_get(m.port, new).header("X-Origin") for _ in range(5)] == [other] * 5


def test_cookie_disabled_origin_none(procs, tmp_path):
    """zero_downtime_failover none (docs/load-balancing.md): a session whose pinned origin is
    disabled is steered like a new one and the cookie is re-issued for the new origin."""
    m, admin, _ = _affinity_meridian(procs, tmp_path, zdf="none")
    admin.wait_up()
    val, pinned = _pin(m)
    assert admin.patch_origin("p1", pinned, {"enabled": False}).status == 200
    rr = _get(m.port, val)
    other = rr.header("X-Origin")
    assert other != pinned
    sc = _set_cookie(rr)
    assert sc is not None and sc[0] != val, "cookie not re-issued: %r" % (rr.headers,)
    assert [_get(m.port, sc[0]).header("X-Origin") for _ in range(5)] == [other] * 5


@pytest.mark.parametrize("zdf,want", [("none", 502), ("temporary", 200), ("sticky", 200)])
def test_pinned_failure_retry_depends_on_zdf(procs, tmp_path, zdf, want):
    """A GET pinned to an origin that dies after reading it: with zero_downtime_failover none the
    attempt is not retried elsewhere (the client gets the error); with temporary or sticky it
    is retried on another origin (docs/load-balancing.md, Session affinity)."""
    m, _, os_ = _affinity_meridian(procs, tmp_path, zdf=zdf)
    val, pinned = _pin(m)
    r = request(m.port, target="/readbody_then_die?only=%s&t=zdf" % pinned,
                headers=[("Cookie", "%s=%s" % (COOKIE, val))])
    assert r.status == want, r
    by_name = {o.name: o for o in os_}
    # (a GET that failed on a reused connection may be tried once more on a fresh one to the
    # same origin: that is not "elsewhere")
    assert sum(1 for p in by_name[pinned].stats["paths"] if "t=zdf" in p) >= 1
    others = sum(1 for n, o in by_name.items() if n != pinned for p in o.stats["paths"] if "t=zdf" in p)
    assert others == (0 if want == 502 else 1), others


def test_header_affinity(procs):
    """session_affinity header with headers [X-User]: requests with the same X-User value reach
    the same origin; different users spread over the pool."""
    _, entries = _three(procs, "h")
    m = procs.meridian(lb_config({"p1": lb_pool(entries, "round_robin")},
                                 lb={"session_affinity": "header",
                                     "session_affinity_attributes": {"headers": ["X-User"]}}))
    seen = {}
    for u in range(12):
        user = "user-%d" % u
        got = {_get(m.port, headers=[("X-User", user)]).header("X-Origin") for _ in range(5)}
        assert len(got) == 1, "user %s was sent to %r" % (user, got)
        seen[user] = got.pop()
    assert len(set(seen.values())) >= 2, "every user pinned to one origin: %r" % seen


def test_ip_cookie_affinity(procs):
    """session_affinity ip_cookie: without a cookie the origin is chosen from the client IP, so
    the same source address gets the same origin every time (over a round_robin pool), and
    different addresses spread."""
    _, entries = _three(procs, "i")
    m = procs.meridian(lb_config({"p1": lb_pool(entries, "round_robin")}, lb={"session_affinity": "ip_cookie"}))
    seen = {}
    for k in range(10, 22):
        src = "127.0.0.%d" % k
        got = {request_from(m.port, src).header("X-Origin") for _ in range(4)}
        assert len(got) == 1, "source %s was sent to %r" % (src, got)
        seen[src] = got.pop()
    assert len(set(seen.values())) >= 2, "every address pinned to one origin: %r" % seen


def test_drain_keeps_pinned_sessions(procs, tmp_path):
    """Admin PATCH {"drain": true}: requests whose cookie pins them to the draining origin still
    go to it; new clients (no cookie) never do."""
    m, admin, _ = _affinity_meridian(procs, tmp_path, zdf="temporary")
    admin.wait_up()
    val, pinned = _pin(m)
    r = admin.patch_origin("p1", pinned, {"drain": True})
    assert r.status == 200, r
    wait_until(lambda: admin.origin("p1", pinned).get("draining") is True, 3, what="draining in /v1/pools")
    assert [_get(m.port, val).header("X-Origin") for _ in range(10)] == [pinned] * 10
    fresh = [_get(m.port).header("X-Origin") for _ in range(12)]
    assert pinned not in fresh, fresh
    assert admin.patch_origin("p1", pinned, {"drain": False}).status == 200
    assert pinned in [_get(m.port).header("X-Origin") for _ in range(6)]


@pytest.mark.parametrize("kind", ["cookie", "ip_cookie"])
def test_affinity_cookie_only_once(procs, tmp_path, kind):
    """A request that already carries a valid pin is not sent a new Set-Cookie with a different
    value (the pin is stable)."""
    m, _, _ = _affinity_meridian(procs, tmp_path, kind=kind)
    r = _get(m.port)
    sc = _set_cookie(r)
    assert sc is not None, r.headers
    for _ in range(3):
        s2 = _set_cookie(_get(m.port, sc[0]))
        assert s2 is None or s2[0] == sc[0]
