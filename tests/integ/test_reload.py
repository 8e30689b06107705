"""SIGHUP reloads: routing switches, bad files are refused, in-flight requests keep their
generation, and reloading under load drops nothing."""
import re
import threading
import time

from integ_util import HttpConn, config, pool, request, request_bytes, wait_until


def fixed_cfg(origin_name, origin_port, body):
    return config({"p": pool([(origin_name, origin_port)])},
                  lbs={"lb": {"hostnames": ["*"], "default_pools": ["p"], "rules": [
                      {"match": {"path": "/fixed"},
                       "fixed_response": {"status": 200, "content_type": "text/plain", "body": body}}]}})


def test_reload_switches_fixed_body(procs):
    o = procs.origin("o")
    m = procs.meridian(fixed_cfg("o", o.port, "gen1\n"))
    assert request(m.port, target="/fixed").body == b"gen1\n"
    # a keep-alive connection opened before the reload keeps working
    c = HttpConn(m.port)
    try:
        c.send(request_bytes(target="/echo?before"))
        assert c.read_response().status == 200
        pid = m.proc.pid
        m.reload(fixed_cfg("o", o.port, "gen2\n"))
        wait_until(lambda: request(m.port, target="/fixed").body == b"gen2\n", 5, what="new generation")
        assert m.proc.pid == pid and m.alive()
        c.send(request_bytes(target="/echo?after"))
        r = c.read_response()
        assert r.status == 200 and r.json()["target"] == "/echo?after"
    finally:
        c.close()


def test_reload_switches_origin(procs):
    a = procs.origin("a")
    b = procs.origin("b")
    m = procs.meridian(fixed_cfg("a", a.port, "x"))
    assert request(m.port, target="/echo").json()["name"] == "a"
    m.reload(fixed_cfg("b", b.port, "x"))
    wait_until(lambda: request(m.port, target="/echo").json()["name"] == "b", 5, what="origin b")
    for _ in range(10):
        assert request(m.port, target="/echo").json()["name"] == "b"


def test_bad_reload_refused_old_config_keeps_serving(procs):
    o = procs.origin("o")
    m = procs.meridian(fixed_cfg("o", o.port, "good\n"))
    m.reload("server:\n  workers: 1\n  listen: [ { address: \"127.0.0.1:$PORT\" } ]\npools: { bogus: 1 }\n")

    def refused():
        return re.search(r"reload.*(refus|reject|fail|invalid|error|keep)|(refus|reject|fail).*reload",
                         m.stderr_text(), re.I | re.S)
    wait_until(refused, 5, what="an error log line saying the reload was refused")
    assert m.alive()
    for _ in range(5):
        r = request(m.port, target="/fixed")
        assert r.status == 200 and r.body == b"good\n"
    # and a later good reload still works
    m.reload(fixed_cfg("o", o.port, "better\n"))
    wait_until(lambda: request(m.port, target="/fixed").body == b"better\n", 5, what="good reload after bad")


def test_reload_missing_file_refused(procs):
    import os
    o = procs.origin("o")
    m = procs.meridian(fixed_cfg("o", o.port, "still\n"))
    os.rename(m.path, m.path + ".moved")
    m.send_signal(__import__("signal").SIGHUP)
    time.sleep(1.0)
    assert m.alive()
    assert request(m.port, target="/fixed").body == b"still\n"


def test_in_flight_request_keeps_old_generation(procs):
    a = procs.origin("a")
    b = procs.origin("b")
    m = procs.meridian(fixed_cfg("a", a.port, "x"))
    res = {}

    def slow():
        try:
            res["r"] = request(m.port, target="/slow?ms=1500", timeout=10)
        except Exception as e:  # noqa: BLE001
            res["e"] = e

    t = threading.Thread(target=slow)
    t.start()
    wait_until(lambda: any(p.startswith("/slow") for p in a.stats["paths"]), 3, what="slow request at origin a")
    m.reload(fixed_cfg("b", b.port, "x"))
    wait_until(lambda: request(m.port, target="/echo").json()["name"] == "b", 5, what="new generation")
    t.join(10)
    assert "e" not in res, res.get("e")
    r = res["r"]
    assert r.status == 200
    assert r.json()["name"] == "a"


def test_reload_under_load_no_failures(procs):
    a = procs.origin("a")
    b = procs.origin("b")
    cfgs = [fixed_cfg("a", a.port, "one\n"), fixed_cfg("b", b.port, "two\n")]
    m = procs.meridian(cfgs[0])
    stop = threading.Event()
    counts = {"ok": 0}
    errors = []
    lock = threading.Lock()

    def client(k):
        c = None
        i = 0
        fresh = k < 3  # a few clients open a new connection per request: the listener must stay up
        while not stop.is_set():
            try:
                if c is None:
                    c = HttpConn(m.port, timeout=10)
                target = "/fixed" if i % 3 == 0 else "/echo?c=%d&i=%d" % (k, i)
                c.send(request_bytes(target=target, headers=[("Connection", "close")] if fresh else []))
                r = c.read_response()
                if fresh or r.header("Connection", "").lower() == "close":
                    # an HTTP client honours "Connection: close"; that is not a failure
                    c.close()
                    c = None
                good = r.status == 200 and (r.body in (b"one\n", b"two\n") if target == "/fixed"
                                            else r.json()["target"] == target)
                with lock:
                    if good:
                        counts["ok"] += 1
                    else:
                        errors.append((k, i, r.status, r.body[:100]))
            except Exception as e:  # noqa: BLE001
                with lock:
                    errors.append((k, i, repr(e)))
                if c is not None:
                    c.close()
                c = None
            i += 1
        if c is not None:
            c.close()

    ts = [threading.Thread(target=client, args=(k,)) for k in range(20)]
    for t in ts:
        t.start()
    try:
        time.sleep(0.5)
        for n in range(10):
            m.reload(cfgs[(n + 1) % 2])
            time.sleep(0.5)
        time.sleep(0.5)
    finally:
        stop.set()
        for t in ts:
            t.join(15)
    assert m.alive()
    assert errors == [], "%d failed requests out of %d: %r" % (len(errors), counts["ok"] + len(errors), errors[:10])
    assert counts["ok"] > 200, counts
    # the last config (index 10 % 2 == 0 → "one") is in effect
    wait_until(lambda: request(m.port, target="/fixed").body == b"one\n", 5, what="final generation")
