"""Routing: host → load balancer, rules (path glob, host, method), fixed responses, steering."""
import collections

import pytest

from integ_util import HttpConn, config, origin_entry, pool, request, request_bytes


@pytest.fixture(scope="module")
def env(mprocs):
    A = mprocs.origin("A")
    B = mprocs.origin("B")
    C = mprocs.origin("C")
    D = mprocs.origin("D")
    cfg = config(
        pools={
            "pa": pool([("A", A.port)]),
            "pb": pool([("B", B.port)]),
            "pc": pool([("C", C.port)]),
            "pd": pool([("D", D.port)]),
        },
        lbs={
            "lb_exact": {"hostnames": ["a.example"], "default_pools": ["pa"], "rules": [
                {"match": {"path": "/fixed/*", "method": ["GET", "HEAD"], "host": "a.example"},
                 "fixed_response": {"status": 200, "content_type": "text/plain", "body": "fixed\n"}},
                {"match": {"path": "/other/*"}, "pools": ["pd"]},
                {"match": {"path": "/teapot"},
                 "fixed_response": {"status": 418, "content_type": "application/x-tea", "body": "short and stout"}},
                {"match": {"path": "/order/*"},
                 "fixed_response": {"status": 200, "content_type": "text/plain", "body": "first"}},
                {"match": {"path": "/order/x"},
                 "fixed_response": {"status": 200, "content_type": "text/plain", "body": "second"}},
                {"match": {"path": "/m/*", "method": "POST"}, "pools": ["pd"]},
                {"match": {"path": "/q?"}, "pools": ["pd"]},
            ]},
            "lb_suffix": {"hostnames": ["*.b.example"], "default_pools": ["pb"]},
            "lb_star": {"hostnames": ["*"], "default_pools": ["pc"]},
        })
    m = mprocs.meridian(cfg)
    return m, {"A": A, "B": B, "C": C, "D": D}


def name_for(port, host, target="/echo", method="GET"):
    r = request(port, method, target, host=host)
    assert r.status == 200, r
    if r.body.startswith(b"hello from "):
        return r.body.decode().split()[-1]
    return r.json()["name"]


@pytest.mark.parametrize("host,want", [
    ("a.example", "A"),
    ("A.EXAMPLE", "A"),
    ("a.example:8080", "A"),
    ("x.b.example", "B"),
    ("deep.x.b.example", "B"),
    ("b.example", "C"),
    ("xa.example", "C"),
    ("other.test", "C"),
    ("127.0.0.1", "C"),
])
def test_host_selects_load_balancer(env, host, want):
    m, _ = env
    assert name_for(m.port, host) == want


def test_fixed_response(env):
    m, origins = env
    before = origins["A"].stats["requests"]
    r = request(m.port, target="/fixed/thing", host="a.example")
    assert r.status == 200
    assert r.body == b"fixed\n"
    assert r.header("Content-Type") == "text/plain"
    assert r.header("Content-Length") == "6"
    assert origins["A"].stats["requests"] == before


def test_fixed_response_head(env):
    m, _ = env
    with HttpConn(m.port) as c:
        c.send(request_bytes("HEAD", "/fixed/thing", host="a.example") + request_bytes("GET", "/echo", host="a.example"))
        r = c.read_response("HEAD")
        assert r.status == 200 and r.body == b""
        assert r.header("Content-Length") == "6"
        if r.header("Connection", "").lower() == "close":
            assert c.closed_within(3)  # allowed: the proxy ends the connection after a fixed response
            return
        r = c.read_response()
        assert r.json()["name"] == "A"


def test_fixed_response_status_and_type(env):
    m, _ = env
    r = request(m.port, target="/teapot", host="a.example")
    assert r.status == 418
    assert r.header("Content-Type") == "application/x-tea"
    assert r.body == b"short and stout"


def test_rule_method_mismatch_falls_through(env):
    m, _ = env
    # POST does not match the GET/HEAD fixed rule → default pool
    r = request(m.port, "POST", "/fixed/thing", host="a.example", body=b"x")
    assert r.status == 200
    assert r.body.startswith(b"hello from A")


def test_rule_host_mismatch_falls_through(env):
    m, _ = env
    # rule host is a.example; a.example:8080 still is a.example (port stripped) → fixed
    r = request(m.port, target="/fixed/x", host="a.example:8080")
    assert r.body == b"fixed\n"


def test_rule_pools(env):
    m, _ = env
    assert name_for(m.port, "a.example", "/other/x") == "D"
    assert name_for(m.port, "a.example", "/otherx") == "A"
    assert name_for(m.port, "a.example", "/other/") == "D"


def test_rule_method_single(env):
    m, _ = env
    assert name_for(m.port, "a.example", "/m/1", "POST") == "D"
    assert name_for(m.port, "a.example", "/m/1", "GET") == "A"


def test_rule_glob_question_mark(env):
    m, _ = env
    assert name_for(m.port, "a.example", "/q1") == "D"
    assert name_for(m.port, "a.example", "/q12") == "A"


def test_rule_order_first_match_wins(env):
    m, _ = env
    r = request(m.port, target="/order/x", host="a.example")
    assert r.body == b"first"


def test_rules_only_in_their_lb(env):
    m, _ = env
    r = request(m.port, target="/fixed/thing", host="other.test")
    assert r.status == 200 and r.body == b"hello from C\n"


def test_path_match_ignores_query(env):
    m, _ = env
    r = request(m.port, target="/teapot?x=1", host="a.example")
    assert r.status == 418


def test_no_lb_for_host_404(procs):
    o = procs.origin("o")
    cfg = config({"p": pool([("o", o.port)])},
                 lbs={"only": {"hostnames": ["only.example"], "default_pools": ["p"]}})
    m = procs.meridian(cfg)
    r = request(m.port, target="/echo", host="nope.example")
    assert r.status == 404
    assert o.stats["requests"] == 0
    r = request(m.port, target="/echo", host="only.example")
    assert r.status == 200


def test_round_robin_alternates(procs):
    a = procs.origin("a")
    b = procs.origin("b")
    m = procs.meridian(config({"p": pool([("a", a.port), ("b", b.port)], steering="round_robin")}))
    names = []
    with HttpConn(m.port) as c:
        for i in range(40):
            c.send(request_bytes(target="/echo"))
            names.append(c.read_response().json()["name"])
    cnt = collections.Counter(names)
    assert cnt == {"a": 20, "b": 20}, cnt
    assert all(names[i] != names[i + 1] for i in range(len(names) - 1)), names


def test_random_weighted_3_to_1(procs):
    a = procs.origin("a")
    b = procs.origin("b")
    m = procs.meridian(config({"p": pool([origin_entry("a", a.port, weight=3), origin_entry("b", b.port, weight=1)],
                                         steering="random")}))
    n = 4000
    cnt = collections.Counter()
    with HttpConn(m.port) as c:
        batch = 50
        for k in range(n // batch):
            c.send(request_bytes(target="/") * batch)
            for _ in range(batch):
                r = c.read_response()
                cnt[r.body.decode().strip().rsplit(" ", 1)[-1]] += 1
    assert sum(cnt.values()) == n
    share = 100.0 * cnt["a"] / n
    assert 72.0 <= share <= 78.0, "weight 3:1 gave %.1f%% to a (%r)" % (share, cnt)


def test_zero_weight_gets_nothing(procs):
    a = procs.origin("a")
    b = procs.origin("b")
    m = procs.meridian(config({"p": pool([origin_entry("a", a.port, weight=1), origin_entry("b", b.port, weight=0)],
                                         steering="random")}))
    for _ in range(50):
        assert request(m.port, target="/echo").json()["name"] == "a"
    assert b.stats["requests"] == 0
