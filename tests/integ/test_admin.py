"""The admin API: bearer-token auth, PATCH validation (documented error shape, nothing applied
on error), overrides surviving a reload, health events, and a strictly parsed /metrics."""
import json
import math
import re
import time

import pytest

from integ_util import (HC, HC_DOWN, HC_INTERVAL, Admin, find_origin, lb_config, lb_pool, request,
                        wait_until)


def _setup(procs, tmp_path, monitor=False):
    a, b = procs.origin("aa"), procs.origin("ab")
    admin_cfg, admin = Admin.make(tmp_path)
    kw = {"monitor": "hc"} if monitor else {}
    cfg = lb_config({"p1": lb_pool([("aa", a.port), ("ab", b.port)], **kw)}, admin=admin_cfg,
                    monitors={"hc": HC} if monitor else None)
    m = procs.meridian(cfg)
    admin.wait_up()
    return m, admin, a, b


def _assert_error(r, status_range=(400, 499)):
    assert status_range[0] <= r.status <= status_range[1], r
    assert (r.header("Content-Type") or "").startswith("application/json"), r.headers
    j = r.json()
    assert set(j) == {"error"}, j
    e = j["error"]
    assert isinstance(e.get("code"), str) and e["code"], j
    assert isinstance(e.get("message"), str) and e["message"], j
    assert isinstance(e.get("details", []), list), j
    return e


def _settings(doc):
    """The admin-settable state of every origin: {(pool, origin): (enabled, weight, draining)}."""
    out = {}
    for p in doc["pools"]:
        for o in p["origins"]:
            out[(p["name"], o["name"])] = (o["enabled"], o["weight"], o["draining"])
    return out


def test_auth(procs, tmp_path):
    """Every endpoint but GET /healthz needs the bearer token: none or a wrong one -> 401 with
    the JSON error shape; the right one -> 200."""
    _, admin, _, _ = _setup(procs, tmp_path)
    for target in ("/v1/pools", "/v1/status", "/v1/events", "/metrics"):
        _assert_error(admin.call("GET", target, token=None), (401, 401))
        _assert_error(admin.call("GET", target, token="Bearer wrong-token"), (401, 401))
        _assert_error(admin.call("GET", target, token="Bearer " + admin.token + "x"), (401, 401))
        _assert_error(admin.call("GET", target, token="Basic " + admin.token), (401, 401))
        assert admin.call("GET", target).status == 200
    _assert_error(admin.call("PATCH", "/v1/pools/p1/origins/aa", {"weight": 3}, token=None), (401, 401))
    assert admin.call("GET", "/healthz", token=None).status == 200
    assert _settings(admin.pools())[("p1", "aa")] == (True, 1, False), "an unauthenticated PATCH applied"


@pytest.mark.parametrize("target,body,status", [
    ("/v1/pools/p1/origins/aa", "{not json", 400),
    ("/v1/pools/p1/origins/aa", "[1, 2]", 400),
    ("/v1/pools/p1/origins/aa", {"bogus": 1}, 400),
    ("/v1/pools/p1/origins/aa", {"weight": 5, "bogus": 1}, 400),
    ("/v1/pools/p1/origins/aa", {"weight": -1}, 400),
    ("/v1/pools/p1/origins/aa", {"weight": 1000001}, 400),
    ("/v1/pools/p1/origins/aa", {"weight": "5"}, 400),
    ("/v1/pools/p1/origins/aa", {"enabled": "no", "weight": 5}, 400),
    ("/v1/pools/p1/origins/aa", {"weight": 5, "drain": 1}, 400),
    ("/v1/pools/nope/origins/aa", {"weight": 5}, 404),
    ("/v1/pools/p1/origins/nope", {"weight": 5}, 404),
])
def test_patch_rejects_bad_input_and_applies_nothing(procs, tmp_path, target, body, status):
    """A bad PATCH (bad JSON, unknown field, weight out of 0..1000000, wrong type, unknown pool
    or origin) gets the documented 4xx JSON error and changes nothing in GET /v1/pools."""
    _, admin, _, _ = _setup(procs, tmp_path)
    before = _settings(admin.pools())
    r = admin.call("PATCH", target, body)
    e = _assert_error(r)
    assert r.status == status, (r, e)
    assert _settings(admin.pools()) == before


def test_patch_applies_and_survives_reload(procs, tmp_path):
    """A good PATCH applies at once (traffic follows), and admin overrides survive a SIGHUP
    reload of the same config."""
    m, admin, a, b = _setup(procs, tmp_path)
    r = admin.patch_origin("p1", "aa", {"enabled": False})
    assert r.status == 200, r
    r = admin.patch_origin("p1", "ab", {"weight": 7})
    assert r.status == 200, r
    s = _settings(admin.pools())
    assert s[("p1", "aa")] == (False, 1, False) and s[("p1", "ab")] == (True, 7, False), s
    assert {request(m.port).header("X-Origin") for _ in range(6)} == {"ab"}

    gen = admin.pools()["generation"]
    m.reload(m.cfg)
    wait_until(lambda: admin.pools()["generation"] > gen, 5, what="the reload to apply")
    s = _settings(admin.pools())
    assert s[("p1", "aa")] == (False, 1, False) and s[("p1", "ab")] == (True, 7, False), s
    assert {request(m.port).header("X-Origin") for _ in range(6)} == {"ab"}
    # and they can be undone
    assert admin.patch_origin("p1", "aa", {"enabled": True}).status == 200
    assert "aa" in {request(m.port).header("X-Origin") for _ in range(6)}


def test_events_show_health_transition(procs, tmp_path):
    """GET /v1/events lists a health transition of an origin whose /health fails, with its
    reason (the probe's status); /v1/pools shows the reason and the last probes too."""
    _, admin, a, _ = _setup(procs, tmp_path, monitor=True)
    wait_until(lambda: a.stats["health_checks"] >= 2, 3, what="probes")
    a.set_health(503)
    wait_until(lambda: not admin.origin_healthy("p1", "aa"), HC_DOWN * HC_INTERVAL + 2, what="aa unhealthy")

    def ev():
        for e in admin.get_json("/v1/events")["events"]:
            text = json.dumps(e)
            if "aa" in text and "health" in e.get("kind", "") and "503" in text:
                return e
        return None
    e = wait_until(ev, 3, what="a health event for aa mentioning 503")
    assert isinstance(e.get("ts"), (int, float)) and isinstance(e.get("seq"), int), e
    o = find_origin(admin.pools(), "p1", "aa")
    assert "503" in json.dumps(o.get("reason", "")) + json.dumps(o.get("last_probes", [])), o
    assert any(p.get("status") == 503 and p.get("ok") is False for p in o.get("last_probes", [])), o
    a.set_health(200)
    wait_until(lambda: admin.origin_healthy("p1", "aa"), 3, what="aa healthy again")


# ---------------------------------------------------------------------------
# A strict parser of the Prometheus text exposition format (version 0.0.4)

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*"
_SAMPLE = re.compile(r"^(%s)(\{(.*)\})? (\S+)( -?\d+)?$" % _NAME)
_TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


class PromError(AssertionError):
    pass


def _labels(text, lineno):
    out = {}
    i = 0
    n = len(text)
    while i < n:
        m = re.match(r"(%s)=\"" % _LABEL, text[i:])
        if not m:
            raise PromError("line %d: bad label at %r" % (lineno, text[i:]))
        name = m.group(1)
        i += m.end()
        val = []
        while True:
            if i >= n:
                raise PromError("line %d: unterminated label value" % lineno)
            c = text[i]
            if c == "\\":
                if i + 1 >= n or text[i + 1] not in "\\\"n":
                    raise PromError("line %d: bad escape in label value" % lineno)
                val.append({"\\": "\\", "\"": "\"", "n": "\n"}[text[i + 1]])
                i += 2
            elif c == "\"":
                i += 1
                break
            elif c == "\n":
                raise PromError("line %d: newline in label value" % lineno)
            else:
                val.append(c)
                i += 1
        if name in out:
            raise PromError("line %d: duplicate label %s" % (lineno, name))
        out[name] = "".join(val)
        if i < n:
            if text[i] != ",":
                raise PromError("line %d: expected ',' between labels at %r" % (lineno, text[i:]))
            i += 1
    return out


def _value(s, lineno):
    if s in ("+Inf", "Inf"):
        return math.inf
    if s == "-Inf":
        return -math.inf
    if s == "NaN":
        return math.nan
    if not re.match(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$", s):
        raise PromError("line %d: bad value %r" % (lineno, s))
    return float(s)


def parse_prometheus(text):
    """-> {family: {"type", "help", "samples": [(name, labels, value)]}}; raises PromError."""
    if text and not text.endswith("\n"):
        raise PromError("exposition does not end with a newline")
    fams = {}
    order = []
    current = None

    def family_of(sample):
        for suf in ("_bucket", "_sum", "_count"):
            base = sample[:-len(suf)]
            if sample.endswith(suf) and base in fams and fams[base]["type"] in ("histogram", "summary"):
                return base
        return sample

    for lineno, ln in enumerate(text.split("\n")[:-1], 1):
        if ln == "":
            continue
        if ln.startswith("#"):
            m = re.match(r"^# (HELP|TYPE) (%s)(?: (.*))?$" % _NAME, ln)
            if not m:
                if re.match(r"^# (HELP|TYPE)\b", ln):
                    raise PromError("line %d: malformed %r" % (lineno, ln))
                continue  # a plain comment
            kind, name, rest = m.group(1), m.group(2), m.group(3) or ""
            f = fams.setdefault(name, {"type": None, "help": None, "samples": []})
            if f["samples"]:
                raise PromError("line %d: %s for %s after its samples" % (lineno, kind, name))
            if kind == "TYPE":
                if f["type"] is not None or rest not in _TYPES:
                    raise PromError("line %d: bad or repeated TYPE %r" % (lineno, ln))
                f["type"] = rest
            else:
                if f["help"] is not None:
                    raise PromError("line %d: repeated HELP for %s" % (lineno, name))
                if not re.fullmatch(r"(?:[^\\]|\\[\\n])*", rest):
                    raise PromError("line %d: bad escape in HELP" % lineno)
                f["help"] = rest
            if name not in order:
                order.append(name)
            current = name
            continue
        m = _SAMPLE.match(ln)
        if not m:
            raise PromError("line %d: bad sample line %r" % (lineno, ln))
        sname = m.group(1)
        labels = _labels(m.group(3), lineno) if m.group(2) else {}
        value = _value(m.group(4), lineno)
        fam = family_of(sname)
        if fam not in fams:
            fams[fam] = {"type": "untyped", "help": None, "samples": []}
            order.append(fam)
        elif fam != current and fams[fam]["samples"]:
            raise PromError("line %d: samples of %s are not contiguous" % (lineno, fam))
        current = fam
        fams[fam]["samples"].append((sname, labels, value))
    for name, f in fams.items():
        _check_family(name, f)
    return fams


def _check_family(name, f):
    seen = set()
    for s, labels, v in f["samples"]:
        key = (s, tuple(sorted(labels.items())))
        if key in seen:
            raise PromError("%s: duplicate sample %r" % (name, key))
        seen.add(key)
        if f["type"] == "counter" and not (v >= 0 or math.isnan(v)):
            raise PromError("%s: negative counter %r" % (name, v))
    if f["type"] != "histogram":
        return
    series = {}
    for s, labels, v in f["samples"]:
        rest = tuple(sorted((k, x) for k, x in labels.items() if k != "le"))
        d = series.setdefault(rest, {"buckets": [], "sum": None, "count": None})
        if s == name + "_bucket":
            if "le" not in labels:
                raise PromError("%s: bucket without le" % name)
            d["buckets"].append((_value(labels["le"], 0), v))
        elif s == name + "_sum":
            d["sum"] = v
        elif s == name + "_count":
            d["count"] = v
        else:
            raise PromError("%s: unexpected sample %s in a histogram" % (name, s))
    for rest, d in series.items():
        b = d["buckets"]
        if not b or b[-1][0] != math.inf:
            raise PromError("%s%r: buckets do not end with le=\"+Inf\"" % (name, rest))
        if [x for x, _ in b] != sorted(x for x, _ in b):
            raise PromError("%s%r: buckets not in increasing le order" % (name, rest))
        if any(b[i][1] > b[i + 1][1] for i in range(len(b) - 1)):
            raise PromError("%s%r: buckets not cumulative" % (name, rest))
        if d["count"] is None or d["sum"] is None:
            raise PromError("%s%r: histogram without _sum or _count" % (name, rest))
        if d["count"] != b[-1][1]:
            raise PromError("%s%r: _count %r != +Inf bucket %r" % (name, rest, d["count"], b[-1][1]))


def test_prometheus_parser_self_check():
    """The strict parser accepts good text and rejects each kind of malformed text (so the
    /metrics test below can fail)."""
    good = ('# HELP x_total Things, with \\\\ and \\n.\n# TYPE x_total counter\n'
            'x_total{a="1",b="q\\"\\\\\\n"} 3\nx_total 4 1700000000000\n'
            '# TYPE h histogram\nh_bucket{le="0.1"} 1\nh_bucket{le="+Inf"} 2\nh_sum 0.3\nh_count 2\n'
            '# TYPE g gauge\ng NaN\ng{x="y"} -1.5e3\n')
    f = parse_prometheus(good)
    assert f["x_total"]["samples"][0][1] == {"a": "1", "b": "q\"\\\n"}
    bad = [
        "x 1",                                           # no final newline
        "x{a=\"1\"} one\n",                              # bad value
        "9x 1\n",                                        # bad name
        "x{a=1} 1\n",                                    # unquoted label value
        "x{a=\"\\t\"} 1\n",                              # bad escape
        "x{a=\"1\",a=\"2\"} 1\n",                        # duplicate label
        "# TYPE x counter\n# TYPE x gauge\nx 1\n",       # repeated TYPE
        "# TYPE x countr\nx 1\n",                        # unknown type
        "# TYPE x counter\nx -1\n",                      # negative counter
        "x 1\ny 1\nx 2\n",                               # not contiguous
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
        "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n",
        "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n",
        "x 1\n# TYPE x counter\n",                       # TYPE after samples
    ]
    for t in bad:
        with pytest.raises(PromError):
            parse_prometheus(t)


LB_FAMILIES = {
    "meridian_requests_total": "counter",
    "meridian_request_duration_seconds": "histogram",
    "meridian_upstream_errors_total": "counter",
    "meridian_origin_healthy": "gauge",
    "meridian_pool_healthy": "gauge",
    "meridian_health_probe_duration_seconds": None,  # histogram or summary or gauge
    "meridian_connections": "gauge",
    "meridian_config_generation": "gauge",
}


def test_metrics_parse_and_families(procs, tmp_path):
    """GET /metrics is valid Prometheus text (strictly parsed) with the load-balancing families,
    and the numbers follow the traffic and health."""
    m, admin, a, _ = _setup(procs, tmp_path, monitor=True)
    wait_until(lambda: a.stats["health_checks"] >= 2, 3, what="probes")
    for _ in range(20):
        assert request(m.port, target="/").status == 200
    time.sleep(0.3)
    r = admin.call("GET", "/metrics")
    assert r.status == 200, r
    assert (r.header("Content-Type") or "").startswith("text/plain"), r.headers
    fams = parse_prometheus(r.text)
    for name, typ in LB_FAMILIES.items():
        assert name in fams, "missing family %s (have %s)" % (name, sorted(fams))
        if typ:
            assert fams[name]["type"] == typ, (name, fams[name]["type"])
        assert fams[name]["help"], "%s has no HELP" % name
    reqs = sum(v for s, lab, v in fams["meridian_requests_total"]["samples"]
               if lab.get("pool") == "p1" and lab.get("code", "").startswith("2"))
    assert reqs >= 20, fams["meridian_requests_total"]["samples"]
    for s, lab, _ in fams["meridian_requests_total"]["samples"]:
        assert {"pool", "origin", "code"} <= set(lab), lab
    healthy = {lab.get("origin"): v for s, lab, v in fams["meridian_origin_healthy"]["samples"]
               if lab.get("pool") == "p1"}
    assert healthy == {"aa": 1, "ab": 1}, healthy
    a.set_health(503)
    wait_until(lambda: not admin.origin_healthy("p1", "aa"), HC_DOWN * HC_INTERVAL + 2, what="aa unhealthy")
    fams = parse_prometheus(admin.call("GET", "/metrics").text)
    healthy = {lab.get("origin"): v for s, lab, v in fams["meridian_origin_healthy"]["samples"]
               if lab.get("pool") == "p1"}
    assert healthy == {"aa": 0, "ab": 1}, healthy


def test_metrics_requests_total_has_lb_label(procs, tmp_path):
    """INTERFACES.md: meridian_requests_total{lb,pool,origin,version,code}: the lb label is there
    and names the load balancer that took the requests."""
    m, admin, _, _ = _setup(procs, tmp_path)
    for _ in range(5):
        assert request(m.port, target="/").status == 200
    fams = parse_prometheus(admin.call("GET", "/metrics").text)
    samples = fams["meridian_requests_total"]["samples"]
    assert samples and all("lb" in lab for _, lab, _ in samples), samples[:3]
    assert sum(v for _, lab, v in samples if lab.get("lb") == "lb1") >= 5, samples
