"""Global load balancing, warm keep-alive pools: min_idle connections are opened before any
traffic and replaced before they go stale, so a request after a quiet period (or right after
a reload) never waits for a TCP connect."""
import time

from integ_util import lb_config, lb_pool, request, wait_until


def _warm_cfg(o):
    return lb_config({"p1": lb_pool([("w1", o.port)], "round_robin",
                                    keepalive={"min_idle": 2, "max_idle": 8, "idle_timeout": "700ms"})})


def _through(m, o, tag):
    """Sends one request through meridian; returns (echo info, conns the origin had opened
    before it was sent)."""
    opened = o.stats["conns_opened"]
    r = request(m.port, target="/echo?" + tag)
    assert r.status == 200 and r.header("X-Origin") == "w1", r
    return r.json(), opened


def test_warm_pool_survives_quiet_period_and_reload(procs):
    """An origin that closes idle connections after 1 s, and a pool keeping min_idle 2 with
    idle_timeout 700ms: after 2.5 s without traffic the origin already holds warm connections
    and a request is served on one of them (no new accept for it); right after a SIGHUP reload
    the same holds, and also once the new generation is certainly live."""
    o = procs.origin("w1", keepalive_timeout=1.0)
    m = procs.meridian(_warm_cfg(o))
    wait_until(lambda: o.stats["open_conns"] >= 2, 3, what="min_idle warm connections without traffic")
    time.sleep(2.5)  # more than twice the origin's keep-alive timeout, no traffic
    st = o.stats
    assert st["requests"] == 0, st
    assert st["open_conns"] >= 2, "warm connections were not kept: %r" % st
    assert st["accepts"] >= 3, "the idle connections were never replaced: %r" % st

    info, opened = _through(m, o, "after-quiet")
    assert info["conn"] <= opened, "the request opened a new connection (conn %d, %d opened before)" % (
        info["conn"], opened)

    # reload the same config, and at once one more request
    opened = o.stats["conns_opened"]
    m.reload(_warm_cfg(o))
    r = request(m.port, target="/echo?right-after-reload")
    assert r.status == 200
    assert r.json()["conn"] <= opened, "a request right after the reload opened a new connection"

    # a new generation that is certainly live (it has a rule the old one lacks)
    cfg = _warm_cfg(o)
    cfg["load_balancers"]["lb1"]["rules"] = [
        {"match": {"path": "/gen2"}, "fixed_response": {"status": 200, "body": "gen2\n"}}]
    m.reload(cfg)
    wait_until(lambda: request(m.port, target="/gen2").body == b"gen2\n", 5, what="the new generation")
    time.sleep(1.2)
    info, opened = _through(m, o, "new-generation")
    assert info["conn"] <= opened, "the new generation did not inherit or keep warm connections"
    assert m.alive()
