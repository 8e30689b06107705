"""Access log: one JSON object per line on stdout; `access: off` prints nothing."""
import time

from integ_util import HttpConn, closed_port, config, pool, request, request_bytes, simple_config

FIELDS = ["ts", "request_id", "client_ip", "method", "host", "path", "status", "bytes_in", "bytes_out",
          "duration_ms", "upstream_ms", "lb", "pool", "origin", "retries", "error"]


def test_access_log_fields(procs):
    o = procs.origin("o1")
    m = procs.meridian(config({"p1": pool([("o1", o.port)])},
                              lbs={"lb1": {"hostnames": ["*"], "default_pools": ["p1"]}}))
    r = request(m.port, "POST", "/echo?x=1", host="log.example", body=b"0123456789")
    assert r.status == 200
    seen_rid = [v for k, v in r.json()["headers"] if k.lower() == "x-request-id"][0]
    (e,) = m.wait_access_log(lambda e: e.get("request_id") == seen_rid, 1)
    for f in FIELDS:
        assert f in e, "access log entry lacks %r: %r" % (f, e)
    assert e["request_id"] == seen_rid == r.header("X-Request-Id")
    assert e["client_ip"] == "127.0.0.1"
    assert e["method"] == "POST"
    assert e["host"] == "log.example"
    assert e["path"].startswith("/echo")
    assert e["status"] == 200
    assert isinstance(e["bytes_in"], int) and e["bytes_in"] >= 10
    assert isinstance(e["bytes_out"], int) and e["bytes_out"] >= len(r.body)
    assert isinstance(e["duration_ms"], (int, float)) and e["duration_ms"] >= 0
    assert isinstance(e["upstream_ms"], (int, float)) and e["upstream_ms"] >= 0
    assert e["duration_ms"] >= e["upstream_ms"] - 1
    assert e["lb"] == "lb1"
    assert e["pool"] == "p1"
    assert e["origin"] == "o1"
    assert e["retries"] == 0
    assert e["error"] in (None, "")
    assert isinstance(e["ts"], (str, int, float)) and e["ts"]


def test_access_log_one_line_per_request(procs):
    o = procs.origin("o1")
    m = procs.meridian(simple_config(("o1", o.port)))
    with HttpConn(m.port) as c:
        for i in range(20):
            c.send(request_bytes(target="/echo?n=%d" % i))
            assert c.read_response().status == 200
    es = m.wait_access_log(lambda e: (e.get("path") or "").startswith("/echo"), 20)
    assert len(es) == 20
    assert len({e["request_id"] for e in es}) == 20
    # every stdout line is a JSON object
    for ln in m.stdout_text().splitlines():
        assert ln.startswith("{") and ln.endswith("}"), ln


def test_access_log_gateway_error(procs):
    m = procs.meridian(simple_config(("dead", closed_port())))
    r = request(m.port, target="/echo")
    assert r.status == 502
    rid = r.header("X-Request-Id")
    (e,) = m.wait_access_log(lambda e: e.get("request_id") == rid, 1)
    assert e["status"] == 502
    assert e["error"], "a 502 should say what failed in `error`: %r" % e
    assert e["origin"] == "dead"


def test_access_log_fixed_response(procs):
    o = procs.origin("o1")
    m = procs.meridian(config({"p1": pool([("o1", o.port)])},
                              lbs={"lb1": {"hostnames": ["*"], "default_pools": ["p1"], "rules": [
                                  {"match": {"path": "/fixed"},
                                   "fixed_response": {"status": 202, "body": "ok"}}]}}))
    r = request(m.port, target="/fixed")
    assert r.status == 202
    rid = r.header("X-Request-Id")
    (e,) = m.wait_access_log(lambda e: e.get("request_id") == rid, 1)
    assert e["status"] == 202 and e["lb"] == "lb1"
    assert e["origin"] in (None, "")


def test_access_log_off(procs):
    o = procs.origin("o1")
    m = procs.meridian(simple_config(("o1", o.port), log={"access": "off"}))
    for _ in range(5):
        assert request(m.port, target="/echo").status == 200
    time.sleep(0.5)
    assert m.stop() == 0
    assert m.stdout_text() == ""


def test_access_log_to_file(procs, tmp_path):
    o = procs.origin("o1")
    path = tmp_path / "access.log"
    m = procs.meridian(simple_config(("o1", o.port), log={"access": str(path)}))
    r = request(m.port, target="/echo")
    assert r.status == 200
    assert m.stop() == 0
    import json
    lines = [json.loads(ln) for ln in path.read_text().splitlines() if ln.strip()]
    assert any(e["request_id"] == r.header("X-Request-Id") for e in lines)
    assert m.stdout_text() == ""
