"""Global load balancing, health: active monitors, passive health and safe retries under load,
minimum_origins, fallback_pool."""
import time

from integ_util import (HC, HC_DOWN, HC_INTERVAL, HC_TIMEOUT, HC_UP, Admin, lb_config, lb_pool,
                        request, run_load, wait_until)


def _origins_of(port, n, target="/"):
    """X-Origin of <n> sequential requests."""
    return [request(port, target=target).header("X-Origin") for _ in range(n)]


def _wait_only(port, names, what, timeout=8.0, run=10):
    """Waits until <run> requests in a row are all answered by origins in <names>."""
    def ok():
        got = _origins_of(port, run)
        return got if all(g in names for g in got) else None
    return wait_until(ok, timeout, interval=0.1, what=what)


def test_failover_under_load(procs, tmp_path):
    """SIGKILL of one of two origins under keep-alive load loses no request (passive health and
    safe retries cover the gap until the monitor notices); the admin API reports it unhealthy
    within consecutive_down x interval + timeout + 0.5 s; restarted on the same port it is back
    healthy after consecutive_up probes and takes traffic again.
    The retry budget is raised to 100%: with the default (20%, floor 3 retrying at once) the
    4 or so requests in flight to the killed origin plus the next connects to it can exceed
    it in the same millisecond, and the test is about failover, not about the budget."""
    a = procs.origin_process("fa")
    b = procs.origin_process("fb")
    admin_cfg, admin = Admin.make(tmp_path)
    m = procs.meridian(lb_config({"p1": lb_pool([("fa", a.port), ("fb", b.port)], monitor="hc")},
                                 lb={"retries": {"attempts": 2, "budget_percent": 100}},
                                 monitors={"hc": HC}, admin=admin_cfg))
    admin.wait_up()
    wait_until(lambda: admin.origin_healthy("p1", "fa") and admin.origin_healthy("p1", "fb"), 5,
               what="both origins healthy at start")

    down_limit = HC_DOWN * HC_INTERVAL + HC_TIMEOUT + 0.5
    up_limit = HC_UP * HC_INTERVAL + 1.0
    st = {"killed": None, "down": None, "restarted": None, "up": None, "err": None}

    def tick(now):
        try:
            if st["killed"] is None and now >= 1.0:
                a.kill()
                st["killed"] = now
            elif st["killed"] is not None and st["down"] is None:
                if not admin.origin_healthy("p1", "fa"):
                    st["down"] = now
                elif now - st["killed"] > down_limit + 2:
                    st["down"] = float("inf")
            elif st["down"] is not None and st["restarted"] is None and st["down"] != float("inf"):
                a.start()  # same port
                st["restarted"] = time.monotonic()
                st["restarted_rel"] = now
            elif st["restarted"] is not None and st["up"] is None:
                if admin.origin_healthy("p1", "fa"):
                    st["up"] = now
                elif now - st["restarted_rel"] > up_limit + 2:
                    st["up"] = float("inf")
        except Exception as e:  # noqa: BLE001
            st["err"] = st["err"] or repr(e)

    res = run_load(m.port, threads=8, duration=6.0, target="/", on_tick=tick)
    assert st["err"] is None, st["err"]
    assert st["killed"] is not None
    print("failover: %d ok, %d failed, killed at %.2fs, unhealthy at %.2fs, restarted at %.2fs, "
          "healthy at %s" % (res.ok, len(res.failures), st["killed"], st["down"], st.get("restarted_rel", -1),
                             st["up"]))
    assert not res.failures, "%d failed requests (of %d), first: %r" % (
        len(res.failures), res.ok + len(res.failures), res.failures[:5])
    assert res.ok > 500, "too little load to mean anything: %d requests" % res.ok
    assert st["down"] - st["killed"] <= down_limit, (
        "admin API showed the killed origin unhealthy after %.2fs (limit %.2fs)" % (st["down"] - st["killed"],
                                                                                 down_limit))
    assert st["up"] is not None and st["up"] - st["restarted_rel"] <= up_limit, (
        "restarted origin not healthy within %.2fs (%r)" % (up_limit, st))
    # once healthy again it takes traffic (within this load run or right after it)
    after = [t for t, o in res.timeline if o == "fa" and t > st["up"]]
    if not after:
        wait_until(lambda: "fa" in _origins_of(m.port, 10), 3, what="traffic to the restarted origin")
    # the monitor's view: both healthy
    assert admin.origin_healthy("p1", "fa") and admin.origin_healthy("p1", "fb")


def test_monitor_alone_detects_kill_and_restart(procs, tmp_path):
    """With passive health off, the monitor alone marks a SIGKILLed origin unhealthy within
    consecutive_down x interval + timeout + 0.5 s, and the restarted origin healthy again
    within consecutive_up x interval + 1 s; it then takes traffic."""
    a = procs.origin_process("ma")
    b = procs.origin_process("mb")
    admin_cfg, admin = Admin.make(tmp_path)
    m = procs.meridian(lb_config({"p1": lb_pool([("ma", a.port), ("mb", b.port)], monitor="hc",
                                                passive_health={"consecutive_errors": 0})},
                                 monitors={"hc": HC}, admin=admin_cfg))
    admin.wait_up()
    wait_until(lambda: admin.origin_healthy("p1", "ma"), 5, what="ma healthy at start")
    a.kill()
    t0 = time.monotonic()
    wait_until(lambda: not admin.origin_healthy("p1", "ma"), 5, interval=0.02, what="ma unhealthy")
    down = time.monotonic() - t0
    a.start()
    t1 = time.monotonic()
    wait_until(lambda: admin.origin_healthy("p1", "ma"), 5, interval=0.02, what="ma healthy again")
    up = time.monotonic() - t1
    print("monitor: unhealthy after %.2fs, healthy again after %.2fs" % (down, up))
    assert down <= HC_DOWN * HC_INTERVAL + HC_TIMEOUT + 0.5, down
    assert up <= HC_UP * HC_INTERVAL + 1.0, up
    wait_until(lambda: "ma" in _origins_of(m.port, 6), 3, what="traffic to the restarted origin")


def test_health_endpoint_503_stops_traffic_then_recovers(procs):
    """An origin whose monitored /health answers 503 is marked unhealthy and gets no more
    requests; when /health answers 200 again it comes back (after consecutive_up probes)."""
    a = procs.origin("ha")
    b = procs.origin("hb")
    m = procs.meridian(lb_config({"p1": lb_pool([("ha", a.port), ("hb", b.port)], monitor="hc")},
                                 monitors={"hc": HC}))
    wait_until(lambda: {"ha", "hb"} <= set(_origins_of(m.port, 6)), 5, what="both origins in use")
    wait_until(lambda: a.stats["health_checks"] >= 2, 3, what="the monitor probing /health")

    a.set_health(503)
    t0 = time.monotonic()
    _wait_only(m.port, {"hb"}, "traffic to leave the 503 origin", timeout=HC_DOWN * HC_INTERVAL + 3)
    print("503 -> no traffic after %.2fs" % (time.monotonic() - t0))
    before = a.stats["requests"]
    got = _origins_of(m.port, 30)
    assert got == ["hb"] * 30, got
    assert a.stats["requests"] == before, "the unhealthy origin still received requests"

    a.set_health(200)
    wait_until(lambda: "ha" in _origins_of(m.port, 6), HC_UP * HC_INTERVAL + 3, what="the origin back in rotation")


def test_minimum_origins_fails_over_to_next_pool(procs):
    """A pool with minimum_origins 2 and one of its 2 origins failing is unhealthy as a whole:
    traffic moves to the next pool of default_pools, not to its remaining healthy origin."""
    a1 = procs.origin("ma1")
    a2 = procs.origin("ma2")
    b1 = procs.origin("mb1")
    pools = {"pa": lb_pool([("ma1", a1.port), ("ma2", a2.port)], monitor="hc", minimum_origins=2),
             "pb": lb_pool([("mb1", b1.port)], monitor="hc")}
    m = procs.meridian(lb_config(pools, lb={"default_pools": ["pa", "pb"]}, monitors={"hc": HC}))
    wait_until(lambda: set(_origins_of(m.port, 6)) == {"ma1", "ma2"}, 5, what="pool pa serving")
    assert b1.stats["requests"] == 0

    a1.set_health(503)
    _wait_only(m.port, {"mb1"}, "failover to pool pb", timeout=HC_DOWN * HC_INTERVAL + 3)
    before = a2.stats["requests"]
    assert _origins_of(m.port, 20) == ["mb1"] * 20
    assert a2.stats["requests"] == before, "the healthy origin of an unhealthy pool still got traffic"

    a1.set_health(200)
    _wait_only(m.port, {"ma1", "ma2"}, "pool pa back", timeout=HC_UP * HC_INTERVAL + 3)


def test_fallback_pool_when_every_pool_is_unhealthy(procs):
    """When every pool of default_pools is unhealthy the fallback_pool serves, and it still does
    when it is unhealthy itself (rather than a 503 from the gateway)."""
    a = procs.origin("fba")
    b = procs.origin("fbb")
    f = procs.origin("fbf")
    pools = {"pa": lb_pool([("fba", a.port)], monitor="hc"),
             "pb": lb_pool([("fbb", b.port)], monitor="hc"),
             "pf": lb_pool([("fbf", f.port)], monitor="hc")}
    m = procs.meridian(lb_config(pools, lb={"default_pools": ["pa", "pb"], "fallback_pool": "pf"},
                                 monitors={"hc": HC}))
    wait_until(lambda: _origins_of(m.port, 3) == ["fba"] * 3, 5, what="pool pa serving")

    a.set_health(503)
    _wait_only(m.port, {"fbb"}, "failover to pb", timeout=HC_DOWN * HC_INTERVAL + 3)
    b.set_health(503)
    _wait_only(m.port, {"fbf"}, "the fallback pool", timeout=HC_DOWN * HC_INTERVAL + 3)

    f.set_health(503)
    time.sleep(HC_DOWN * HC_INTERVAL + HC_TIMEOUT + 0.5)  # every pool is unhealthy now
    for _ in range(10):
        r = request(m.port, target="/")
        assert r.status == 200 and r.header("X-Origin") == "fbf", r

    a.set_health(200)
    _wait_only(m.port, {"fba"}, "pool pa back", timeout=HC_UP * HC_INTERVAL + 3)
