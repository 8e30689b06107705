"""`meridian -t` on the global load-balancing keys: a good file passes; each bad value exits 1
with FILE:LINE:COL pointing at it and a message that names the problem."""
import re

import pytest

from integ_util import run_meridian

GOOD = """\
server:
  workers: 1
  listen:
    - address: "127.0.0.1:18080"
log: { access: stdout, error: stderr, level: info }
admin: { address: "127.0.0.1:19901", token_file: "TOKEN_FILE" }
geo:
  networks:
    - { cidr: "127.0.0.2/32", region: SEAS, country: SG, latitude: 1.35, longitude: 103.82 }
    - { cidr: "127.0.0.3/32", region: WEU, country: FR }
monitors:
  hc: { type: http, path: /health, interval: 300ms, timeout: 200ms, consecutive_up: 2, consecutive_down: 2, expected_codes: "2xx" }
pools:
  asia:
    region: SEAS
    latitude: 1.35
    longitude: 103.82
    monitor: hc
    minimum_origins: 1
    keepalive: { min_idle: 2, max_idle: 8, idle_timeout: 700ms }
    origin_steering: least_outstanding_requests
    origins:
      - { name: a1, address: "127.0.0.1:18081", weight: 1, max_in_flight: 10 }
  eu:
    region: WEU
    origin_steering: round_robin
    origins:
      - { name: e1, address: "127.0.0.1:18082" }
load_balancers:
  lb1:
    hostnames: ["*"]
    default_pools: [eu, asia]
    fallback_pool: eu
    steering_policy: geo
    region_pools: { SEAS: [asia], WEU: [eu] }
    country_pools: { JP: [asia] }
    session_affinity: cookie
    session_affinity_ttl: 1h
    session_affinity_attributes: { zero_downtime_failover: temporary }
"""

ERR_RE = r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): (?P<msg>.+)$"


def _errors(stderr, path):
    out = []
    for ln in stderr.decode("utf-8", "replace").splitlines():
        m = re.match(ERR_RE, ln)
        if m and m.group("file") == path:
            out.append((int(m.group("line")), int(m.group("col")), m.group("msg")))
    return out


def _check(tmp_path, text, name="c.yaml"):
    tf = tmp_path / "admin.token"
    tf.write_text("t0ken\n")
    p = tmp_path / name
    p.write_text(text.replace("TOKEN_FILE", str(tf)))
    r = run_meridian(["-t", "-c", str(p)])
    return str(p), r


def test_good_lb_config_passes(tmp_path):
    """Every load-balancing key of the contract, used correctly, is accepted."""
    _, r = _check(tmp_path, GOOD)
    assert r.returncode == 0, r.stderr.decode()


def _line_of(text, needle):
    return [i for i, ln in enumerate(text.splitlines(), 1) if needle in ln][0]


CASES = [
    # (what, old, new, marker on the bad line, words the message must contain (any))
    ("unknown steering_policy", "steering_policy: geo", "steering_policy: nearest-ish",
     "steering_policy", ["steering_policy", "nearest-ish"]),
    ("unknown origin_steering", "origin_steering: round_robin", "origin_steering: fastest",
     "origin_steering: fastest", ["origin_steering", "fastest"]),
    ("pool with no origins", "    origins:\n      - { name: e1, address: \"127.0.0.1:18082\" }\n",
     "    origins: []\n", "origins: []", ["origin"]),
    ("unknown region code in region_pools", "region_pools: { SEAS: [asia], WEU: [eu] }",
     "region_pools: { SEAS: [asia], MARS: [eu] }", "region_pools", ["MARS", "region"]),
    ("unknown region code on a pool", "    region: WEU\n", "    region: XYZ\n", "region: XYZ", ["XYZ", "region"]),
    ("unknown region code in geo.networks", "region: SEAS, country: SG", "region: SEA, country: SG",
     "region: SEA,", ["SEA", "region"]),
    ("unknown monitor", "    monitor: hc", "    monitor: nope", "monitor: nope", ["nope"]),
    ("unknown fallback_pool", "fallback_pool: eu", "fallback_pool: nope", "fallback_pool", ["nope"]),
    ("bad session_affinity", "session_affinity: cookie", "session_affinity: biscuit", "session_affinity: biscuit",
     ["biscuit", "session_affinity"]),
    ("min_idle above max_idle", "min_idle: 2, max_idle: 8", "min_idle: 9, max_idle: 8", "min_idle: 9",
     ["min_idle"]),
    ("minimum_origins above the pool size", "minimum_origins: 1", "minimum_origins: 2", "minimum_origins",
     ["minimum_origins"]),
    ("latitude out of range", "    latitude: 1.35", "    latitude: 123.0", "latitude: 123", ["latitude"]),
    ("monitor timeout not below interval", "interval: 300ms, timeout: 200ms", "interval: 300ms, timeout: 300ms",
     "monitors:\n  hc", ["timeout"]),
]


@pytest.mark.parametrize("what,old,new,marker,words", CASES, ids=[c[0] for c in CASES])
def test_bad_lb_value_rejected_with_location(tmp_path, what, old, new, marker, words):
    """One bad load-balancing value -> exit 1 and one FILE:LINE:COL error on its line that names it."""
    assert old in GOOD, old
    text = GOOD.replace(old, new, 1)
    if "\n" in marker:  # the line after the first part of the marker
        first, second = marker.split("\n")
        lines = text.splitlines()
        want = [i for i in range(1, len(lines)) if first in lines[i - 1] and lines[i].startswith(second)][0]
        want_lines = {want, want + 1}
    else:
        want_lines = {_line_of(text, marker)}
    p, r = _check(tmp_path, text)
    assert r.returncode == 1, (what, r.returncode, r.stderr.decode())
    errs = _errors(r.stderr, p)
    assert errs, "no FILE:LINE:COL error for %s:\n%s" % (what, r.stderr.decode())
    hits = [e for e in errs if e[0] in want_lines]
    assert hits, "%s: errors on lines %r, want one on %r:\n%s" % (what, [e[0] for e in errs], sorted(want_lines),
                                                                  r.stderr.decode())
    msg = " ".join(e[2] for e in hits).lower()
    assert any(w.lower() in msg for w in words), "%s: message does not name it: %r" % (what, hits)
    assert all(e[1] >= 1 for e in errs)


def test_unreadable_mmdb_rejected(tmp_path):
    """geo.mmdb that is missing, or not an mmdb, -> exit 1 with FILE:LINE:COL on the mmdb line."""
    junk = tmp_path / "junk.mmdb"
    junk.write_bytes(b"this is not a maxmind database\n" * 10)
    for path in (str(tmp_path / "missing.mmdb"), str(junk)):
        text = GOOD.replace("geo:\n", "geo:\n  mmdb: \"%s\"\n" % path, 1)
        p, r = _check(tmp_path, text, "mmdb.yaml")
        assert r.returncode == 1, (path, r.stderr.decode())
        errs = _errors(r.stderr, p)
        want = _line_of(text, "mmdb:")
        hits = [e for e in errs if e[0] == want]
        assert hits, "no error on line %d for mmdb %s:\n%s" % (want, path, r.stderr.decode())
        assert any(w in hits[0][2].lower() for w in ("mmdb", "geo", "database", path.lower())), hits
