"""`meridian -t`, `--version`, exit codes at start."""
import re
import socket
import time

from integ_util import run_meridian

GOOD = """\
server:
  workers: 1
  listen:
    - address: "127.0.0.1:18080"
  trusted_proxies: []
  limits: { header_timeout: 10s, body_timeout: 60s, idle_timeout: 75s, connect_timeout: 5s, upstream_timeout: 60s,
            max_header_bytes: 16KiB, max_headers: 100, max_body_bytes: 100MiB }
log: { access: stdout, error: stderr, level: info }
pools:
  p1:
    origin_steering: round_robin
    keepalive: { max_idle: 64, idle_timeout: 60s }
    origins:
      - { name: o1, address: "127.0.0.1:18081", weight: 1, enabled: true }
  p2:
    origin_steering: random
    origins:
      - { name: o2, address: "127.0.0.1:18082" }
load_balancers:
  lb1:
    hostnames: ["*"]
    default_pools: [p1]
    rules:
      - match: { path: "/fixed/*", method: [GET, HEAD], host: "a.example" }
        fixed_response: { status: 200, content_type: "text/plain", body: "fixed\\n" }
      - match: { path: "/other/*" }
        pools: [p2]
"""

# Three distinct errors on lines 6, 10 and 17.
BAD3 = """\
server:
  workers: 1
  listen:
    - address: "127.0.0.1:18080"
  limits:
    header_timeout: banana
log: { access: stdout }
pools:
  p1:
    origin_steering: sideways
    origins:
      - { name: o1, address: "127.0.0.1:18081", weight: 1 }
load_balancers:
  lb1:
    hostnames: ["*"]
    default_pools: [p1]
    bogus_key: 1
"""

ERR_RE = r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): (?P<msg>.+)$"


def _errors(stderr, path):
    out = []
    for ln in stderr.decode("utf-8", "replace").splitlines():
        m = re.match(ERR_RE, ln)
        if m and m.group("file") == path:
            out.append((int(m.group("line")), int(m.group("col")), m.group("msg")))
    return out


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def test_check_good_config(tmp_path):
    p = _write(tmp_path, "good.yaml", GOOD)
    r = run_meridian(["-t", "-c", p])
    assert r.returncode == 0, r.stderr.decode()


def test_check_reports_every_error_with_location(tmp_path):
    p = _write(tmp_path, "bad3.yaml", BAD3)
    r = run_meridian(["-t", "-c", p])
    assert r.returncode == 1, (r.returncode, r.stderr.decode())
    errs = _errors(r.stderr, p)
    assert len(errs) == 3, "want 3 FILE:LINE:COL errors, got:\n%s" % r.stderr.decode()
    assert sorted(e[0] for e in errs) == [6, 10, 17], errs
    for line, col, msg in errs:
        assert col >= 1 and msg.strip()


def test_check_unknown_pool_reference(tmp_path):
    text = GOOD.replace("    default_pools: [p1]", "    default_pools: [nope]")
    p = _write(tmp_path, "badref.yaml", text)
    r = run_meridian(["-t", "-c", p])
    assert r.returncode == 1
    errs = _errors(r.stderr, p)
    assert len(errs) == 1, r.stderr.decode()
    want_line = text.splitlines().index("    default_pools: [nope]") + 1
    assert errs[0][0] == want_line, errs
    assert "nope" in errs[0][2]


def test_check_yaml_syntax_error(tmp_path):
    p = _write(tmp_path, "syntax.yaml", "server:\n  workers: 1\n  listen: [\n")
    r = run_meridian(["-t", "-c", p])
    assert r.returncode == 1
    assert _errors(r.stderr, p), r.stderr.decode()


def test_check_missing_required(tmp_path):
    p = _write(tmp_path, "empty.yaml", "log: { level: info }\n")
    r = run_meridian(["-t", "-c", p])
    assert r.returncode == 1
    assert _errors(r.stderr, p), r.stderr.decode()


def test_check_missing_file(tmp_path):
    p = str(tmp_path / "does-not-exist.yaml")
    r = run_meridian(["-t", "-c", p])
    assert r.returncode == 1
    assert r.stderr.strip(), "no message for a missing file"
    r = run_meridian(["-c", p])
    assert r.returncode == 1
    assert r.stderr.strip()


def test_version():
    r = run_meridian(["--version"])
    assert r.returncode == 0
    out = (r.stdout + r.stderr).decode()
    assert re.search(r"\d+\.\d+", out), out


def test_usage_error_exits_1():
    r = run_meridian(["--no-such-option"])
    assert r.returncode == 1


def test_start_with_bad_config_exits_1(tmp_path):
    p = _write(tmp_path, "bad3.yaml", BAD3)
    r = run_meridian(["-c", p])
    assert r.returncode == 1
    assert len(_errors(r.stderr, p)) == 3


def test_port_in_use_exits_2(tmp_path):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    port = s.getsockname()[1]
    try:
        p = _write(tmp_path, "inuse.yaml", GOOD.replace("127.0.0.1:18080", "127.0.0.1:%d" % port))
        r = run_meridian(["-c", p], timeout=10)
        assert r.returncode == 2, (r.returncode, r.stderr.decode())
        err = r.stderr.decode().lower()
        assert str(port) in err or "in use" in err, err
    finally:
        s.close()


def test_sigterm_idle_exits_0(procs):
    m = procs.meridian(GOOD.replace("18080", "$PORT"))
    t0 = time.monotonic()
    assert m.stop() == 0
    assert time.monotonic() - t0 < 5


def test_sigint_exits_0(procs):
    import signal
    m = procs.meridian(GOOD.replace("18080", "$PORT"))
    assert m.stop(signal.SIGINT) == 0
