"""Global load balancing, origin steering: spill-over at max_in_flight, weighted distribution
(round_robin, random), and least_outstanding_requests (P2C) against a slow origin."""
import os
import threading
import time

import pytest

from integ_util import (ROOT, HttpConn, lb_config, lb_pool, origin_entry, percentile, request,
                        request_bytes, run_load)


def test_spill_over_beyond_max_in_flight(procs):
    """Origins at max_in_flight take no more requests: concurrent requests beyond the limit are
    served at once by the next pool instead of queueing behind the slow origin."""
    a = procs.origin("sa")
    b = procs.origin("sb")
    a.set_delay(800)
    oa = origin_entry("sa", a.port)
    oa["max_in_flight"] = 1
    m = procs.meridian(lb_config({"pa": lb_pool([oa]), "pb": lb_pool([("sb", b.port)])},
                                 lb={"default_pools": ["pa", "pb"]}))
    # the first request occupies sa's only slot ...
    first = {}

    def slow_one():
        t = time.monotonic()
        r = request(m.port, target="/echo?first")
        first["r"], first["dt"] = r, time.monotonic() - t

    th = threading.Thread(target=slow_one)
    th.start()
    t0 = time.monotonic()
    while a.stats["requests"] < 1 and time.monotonic() - t0 < 3:
        time.sleep(0.01)
    assert a.stats["requests"] == 1, "the first request never reached sa"
    # ... so 4 concurrent requests now spill to pool pb and are answered without waiting
    out = []
    lock = threading.Lock()

    def one(i):
        t = time.monotonic()
        r = request(m.port, target="/echo?spill=%d" % i)
        with lock:
            out.append((r.status, r.header("X-Origin"), time.monotonic() - t))

    ths = [threading.Thread(target=one, args=(i,)) for i in range(4)]
    for t in ths:
        t.start()
    for t in ths:
        t.join(10)
    th.join(10)
    assert first["r"].status == 200 and first["r"].header("X-Origin") == "sa"
    assert sorted(o for _, o, _ in out) == ["sb"] * 4, out
    assert all(s == 200 and dt < 0.5 for s, _, dt in out), "spilled requests waited: %r" % out
    assert a.stats["requests"] == 1
    # with the slot free again, pa serves once more
    r = request(m.port, target="/echo?after")
    assert r.header("X-Origin") == "sa"


def _pipelined(port, n, target="/", depth=50):
    """<n> GETs on one keep-alive connection, <depth> requests per write."""
    ok = 0
    with HttpConn(port, timeout=20) as c:
        left = n
        while left > 0:
            k = min(depth, left)
            c.send(request_bytes(target=target) * k)
            for _ in range(k):
                r = c.read_response()
                assert r.status == 200, r
                ok += 1
            left -= k
    return ok


@pytest.mark.parametrize("steering", ["round_robin", "random"])
def test_weighted_distribution(procs, steering):
    """Weights 1:3 give shares of 25%/75% (+-3 points) over 10,000 keep-alive requests, counted
    by the origins themselves."""
    a = procs.origin_process("wa")
    b = procs.origin_process("wb")
    m = procs.meridian(lb_config({"p1": lb_pool([("wa", a.port, 1), ("wb", b.port, 3)], steering)}))
    n_conns, per = 4, 2500
    done = []
    errs = []

    def client():
        try:
            done.append(_pipelined(m.port, per))
        except Exception as e:  # noqa: BLE001
            errs.append(repr(e))

    ths = [threading.Thread(target=client) for _ in range(n_conns)]
    for t in ths:
        t.start()
    for t in ths:
        t.join(120)
    assert not errs, errs[:3]
    assert sum(done) == n_conns * per
    ca, cb = a.stats["requests"], b.stats["requests"]
    assert ca + cb == n_conns * per, (ca, cb)
    share = 100.0 * ca / (ca + cb)
    print("%s 1:3 -> %.2f%% / %.2f%%" % (steering, share, 100 - share))
    assert abs(share - 25.0) <= 3.0, "weight-1 origin got %.2f%% (%d of %d)" % (share, ca, ca + cb)


def _p99_with(procs, steering):
    names = ["pa", "pb", "pc"]
    os_ = [procs.origin_process(n) for n in names]
    os_[2].set_delay(50, serial=True)  # a slow origin with a capacity of one
    m = procs.meridian(lb_config({"p1": lb_pool([(n, o.port) for n, o in zip(names, os_)], steering)}))
    res = run_load(m.port, threads=8, duration=3.0, target="/")
    assert not res.failures, res.failures[:3]
    p99 = percentile(res.latencies, 99) * 1000
    p50 = percentile(res.latencies, 50) * 1000
    share = 100.0 * res.by_origin.get("pc", 0) / max(1, res.ok)
    m.kill()
    for o in os_:
        o.kill()
    return p99, p50, share, res.ok


def test_p2c_beats_random_on_p99(procs):
    """least_outstanding_requests (power of two choices on in-flight counts) keeps requests off
    a slow, queueing origin, so its p99 latency is lower than random steering's on the same
    pool and load. The figures are printed and written to build/p2c-figures.txt."""
    rnd = _p99_with(procs, "random")
    lor = _p99_with(procs, "least_outstanding_requests")
    text = ("P2C figures (3 origins, one serial at 50 ms, 8 keep-alive clients, 3 s each)\n"
            "random:                     p99 %.1f ms  p50 %.1f ms  slow share %.1f%%  requests %d\n"
            "least_outstanding_requests: p99 %.1f ms  p50 %.1f ms  slow share %.1f%%  requests %d\n"
            % (rnd + lor))
    print("\n" + text)
    os.makedirs(os.path.join(ROOT, "build"), exist_ok=True)
    with open(os.path.join(ROOT, "build", "p2c-figures.txt"), "w") as f:
        f.write(text)
    assert lor[0] < rnd[0], "p99 with least_outstanding_requests %.1f ms >= random %.1f ms" % (lor[0], rnd[0])
    assert lor[2] < rnd[2], "the slow origin's share did not fall"
