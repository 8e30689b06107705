"""Helpers for Meridian's integration tests: process control, config, raw HTTP.

Everything here uses bounded timeouts and cleans up processes by PID.
"""
import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
TOOLS = os.path.join(ROOT, "tools")
if TOOLS not in sys.path:
    sys.path.insert(0, TOOLS)

from origin import Origin, pattern, pattern_pieces, pattern_sha256  # noqa: E402,F401

PYTHON = "/usr/bin/python3"
MERIDIAN_BIN = os.environ.get("MERIDIAN_BIN", os.path.join(ROOT, "build", "meridian"))
HOST = "127.0.0.1"


# ---------------------------------------------------------------------------
# small utilities

def free_port():
    s = socket.socket()
    s.bind((HOST, 0))
    p = s.getsockname()[1]
    s.close()
    return p


def closed_port():
    """A loopback port with nothing listening on it (best effort)."""
    return free_port()


def wait_until(fn, timeout=5.0, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError("timed out after %.1fs waiting for %s (last value: %r)" % (timeout, what, last))


def sha256(b):
    return hashlib.sha256(b).hexdigest()


# ---------------------------------------------------------------------------
# YAML (a tiny block-style emitter; strings are JSON-quoted, which YAML accepts)

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def _scalar(v):
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, (int, float)):
        return str(v)
    return json.dumps(str(v))


def _key(k):
    return k if _PLAIN_KEY.match(k) else json.dumps(k)


def to_yaml(obj, indent=0):
    pad = "  " * indent
    out = []
    if isinstance(obj, dict):
        if not obj:
            return pad + "{}\n"
        for k, v in obj.items():
            if isinstance(v, dict) and v:
                out.append("%s%s:\n%s" % (pad, _key(k), to_yaml(v, indent + 1)))
            elif isinstance(v, list) and v:
                out.append("%s%s:\n%s" % (pad, _key(k), to_yaml(v, indent + 1)))
            elif isinstance(v, (dict, list)):
                out.append("%s%s: %s\n" % (pad, _key(k), "{}" if isinstance(v, dict) else "[]"))
            else:
                out.append("%s%s: %s\n" % (pad, _key(k), _scalar(v)))
    elif isinstance(obj, list):
        if not obj:
            return pad + "[]\n"
        for v in obj:
            if isinstance(v, (dict, list)) and v:
                inner = to_yaml(v, indent + 1)
                # put the first line right after "- "
                first, _, rest = inner.partition("\n")
                out.append("%s- %s\n%s" % (pad, first.lstrip(), rest))
            else:
                out.append("%s- %s\n" % (pad, _scalar(v) if not isinstance(v, (dict, list)) else
                                         ("{}" if isinstance(v, dict) else "[]")))
    else:
        out.append(pad + _scalar(obj) + "\n")
    return "".join(out)


DEFAULT_LIMITS = {
    "header_timeout": "10s", "body_timeout": "60s", "idle_timeout": "75s",
    "connect_timeout": "5s", "upstream_timeout": "60s",
    "max_header_bytes": "16KiB", "max_headers": 100, "max_body_bytes": "100MiB",
}


def origin_entry(name, port, weight=1, enabled=True):
    return {"name": name, "address": "%s:%d" % (HOST, port), "weight": weight, "enabled": enabled}


def pool(origins, steering="round_robin", max_idle=64):
    """origins: list of (name, port) or (name, port, weight) or dict entries."""
    outs = []
    for o in origins:
        if isinstance(o, dict):
            outs.append(o)
        else:
            outs.append(origin_entry(*o))
    return {"origin_steering": steering, "keepalive": {"max_idle": max_idle, "idle_timeout": "60s"},
            "origins": outs}


def config(pools, lbs=None, limits=None, log=None, workers=1, trusted=None):
    """A whole config dict. server.listen is filled in by Meridian at start."""
    lim = dict(DEFAULT_LIMITS)
    lim.update(limits or {})
    lg = {"access": "stdout", "error": "stderr", "level": "info"}
    lg.update(log or {})
    if lbs is None:
        lbs = {"lb1": {"hostnames": ["*"], "default_pools": [next(iter(pools))]}}
    return {
        "server": {"workers": workers, "listen": None, "trusted_proxies": trusted or [], "limits": lim},
        "log": lg,
        "pools": pools,
        "load_balancers": lbs,
    }


def simple_config(*origins, steering="round_robin", **kw):
    """One pool p1 with the given origins [(name, port), ...] behind one '*' LB."""
    return config({"p1": pool(list(origins), steering)}, **kw)


# ---------------------------------------------------------------------------
# Raw HTTP/1.1 client

class Response:
    def __init__(self):
        self.version = None
        self.status = None
        self.reason = None
        self.headers = []
        self.body = b""
        self.body_len = 0
        self.body_sha256 = None
        self.interim = []      # 1xx statuses seen before the final response
        self.raw_head = b""

    def header(self, name, default=None):
        n = name.lower()
        for k, v in self.headers:
            if k.lower() == n:
                return v
        return default

    def header_all(self, name):
        n = name.lower()
        return [v for k, v in self.headers if k.lower() == n]

    def json(self):
        return json.loads(self.body)

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def __repr__(self):
        return "<Response %s %s %r body=%r>" % (self.status, self.reason, self.headers, self.body[:200])


class ConnClosed(Exception):
    pass


class HttpConn:
    """A raw client socket with a read buffer and a small, strict response parser."""

    def __init__(self, port, host=HOST, timeout=10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout
        self.buf = bytearray()
        self.eof = False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("latin-1")
        self.sock.sendall(data)

    def _fill(self, timeout=None):
        self.sock.settimeout(timeout if timeout is not None else self.timeout)
        try:
            d = self.sock.recv(262144)
        except ConnectionResetError:
            d = b""
        if not d:
            self.eof = True
            return False
        self.buf += d
        return True

    def _line(self, timeout):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                ln = bytes(self.buf[:i])
                del self.buf[:i + 2]
                return ln
            if len(self.buf) > 1 << 20:
                raise AssertionError("response line too long")
            if not self._fill(timeout):
                raise ConnClosed("connection closed while reading a line (have %r)" % bytes(self.buf[:200]))

    def _exact(self, n, timeout, sink):
        while n > 0:
            if not self.buf and not self._fill(timeout):
                raise ConnClosed("connection closed with %d body bytes missing" % n)
            m = min(n, len(self.buf))
            sink(bytes(self.buf[:m]))
            del self.buf[:m]
            n -= m

    def read_response(self, method="GET", timeout=None, store=True):
        """Reads one final response (skipping 1xx). Raises ConnClosed / socket.timeout."""
        timeout = timeout if timeout is not None else self.timeout
        r = Response()
        while True:
            line = self._line(timeout)
            head = [line]
            m = re.match(rb"^(HTTP/\d\.\d) (\d{3})(?: (.*))?$", line)
            if not m:
                raise AssertionError("bad status line %r" % line)
            r.version = m.group(1).decode()
            r.status = int(m.group(2))
            r.reason = (m.group(3) or b"").decode("latin-1")
            r.headers = []
            while True:
                ln = self._line(timeout)
                head.append(ln)
                if ln == b"":
                    break
                k, sep, v = ln.decode("latin-1").partition(":")
                if not sep or k != k.strip() or not k:
                    raise AssertionError("bad response header line %r" % ln)
                r.headers.append((k, v.strip(" \t")))
            r.raw_head = b"\r\n".join(head)
            if 100 <= r.status < 200 and r.status != 101:
                r.interim.append(r.status)
                continue
            break
        h = hashlib.sha256()
        parts = []

        def sink(b):
            r.body_len += len(b)
            h.update(b)
            if store:
                parts.append(b)

        te = ",".join(r.header_all("Transfer-Encoding")).lower()
        if method == "HEAD" or r.status in (204, 304) or 100 <= r.status < 200:
            pass
        elif te:
            assert te.split(",")[-1].strip() == "chunked", "response TE %r" % te
            while True:
                ln = self._line(timeout)
                size = int(ln.split(b";")[0].strip(), 16)
                if size == 0:
                    while self._line(timeout) != b"":
                        pass
                    break
                self._exact(size, timeout, sink)
                assert self._line(timeout) == b"", "chunk not followed by CRLF"
        elif r.header("Content-Length") is not None:
            cls = r.header_all("Content-Length")
            assert len(cls) == 1, "several Content-Length headers in a response: %r" % cls
            self._exact(int(cls[0]), timeout, sink)
        else:
            while True:
                if self.buf:
                    sink(bytes(self.buf))
                    self.buf.clear()
                if not self._fill(timeout):
                    break
        r.body = b"".join(parts)
        r.body_sha256 = h.hexdigest()
        return r

    def read_until_eof(self, timeout=5.0):
        """Returns (bytes, closed): everything received until EOF, or closed=False on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                out = bytes(self.buf)
                self.buf.clear()
                return out, False
            try:
                if not self._fill(left):
                    out = bytes(self.buf)
                    self.buf.clear()
                    return out, True
            except socket.timeout:
                continue
            except OSError:
                out = bytes(self.buf)
                self.buf.clear()
                return out, True

    def closed_within(self, timeout=3.0):
        """True if the peer closes (EOF/RST) within timeout and sends nothing more."""
        data, closed = self.read_until_eof(timeout)
        return closed and not data


def request_bytes(method="GET", target="/", host="test.example", headers=(), body=b"", version="HTTP/1.1"):
    lines = ["%s %s %s" % (method, target, version)]
    if host is not None:
        lines.append("Host: %s" % host)
    for k, v in headers:
        lines.append("%s: %s" % (k, v))
    if body and not any(k.lower() in ("content-length", "transfer-encoding") for k, _ in headers):
        lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def request(port, method="GET", target="/", host="test.example", headers=(), body=b"", timeout=10.0,
            store=True):
    """One request on a fresh connection; returns the Response."""
    with HttpConn(port, timeout=timeout) as c:
        c.send(request_bytes(method, target, host, headers, body))
        return c.read_response(method, store=store)


def send_raw(port, data, timeout=5.0):
    """Sends raw bytes on a fresh connection and returns (response bytes, closed)."""
    with HttpConn(port, timeout=timeout) as c:
        c.send(data)
        return c.read_until_eof(timeout)


# ---------------------------------------------------------------------------
# Processes

class Meridian:
    """A meridian process on a generated config file, logs captured to files."""

    live = []  # running instances, checked after each test for "no crash"

    def __init__(self, workdir, cfg, name="meridian", args=(), env=None):
        self.workdir = str(workdir)
        os.makedirs(self.workdir, exist_ok=True)
        self.name = name
        self.cfg = cfg
        self.args = list(args)
        self.env = env
        self.proc = None
        self.port = None
        self.path = os.path.join(self.workdir, name + ".yaml")
        self.out_path = os.path.join(self.workdir, name + ".stdout")
        self.err_path = os.path.join(self.workdir, name + ".stderr")
        self.stopped = False
        self.expect_dead = False

    # -- config ------------------------------------------------------------
    def render(self, cfg):
        if isinstance(cfg, str):
            return cfg.replace("$PORT", str(self.port))
        cfg = json.loads(json.dumps(cfg))
        cfg.setdefault("server", {})
        if not cfg["server"].get("listen"):
            cfg["server"]["listen"] = [{"address": "%s:%d" % (HOST, self.port)}]
        return to_yaml(cfg)

    def write_config(self, cfg):
        text = self.render(cfg)
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, self.path)
        return text

    # -- lifecycle -----------------------------------------------------------
    def start(self, port=None, wait=True):
        last_err = ""
        for _attempt in range(4):
            self.port = port or free_port()
            self.write_config(self.cfg)
            self.out = open(self.out_path, "wb")
            self.err = open(self.err_path, "wb")
            self.proc = subprocess.Popen([MERIDIAN_BIN, "-c", self.path] + self.args, stdin=subprocess.DEVNULL,
                                         stdout=self.out, stderr=self.err, cwd=self.workdir,
                                         start_new_session=True, env=self.env)
            Meridian.live.append(self)
            if not wait:
                return self
            ok, last_err = self._wait_listening(10.0)
            if ok:
                return self
            rc = self.proc.poll()
            self.kill()
            if rc == 2 and port is None and "in use" in last_err.lower():
                continue  # lost a port race with a parallel test; try another port
            break
        raise AssertionError("meridian did not start listening on %s:%d: %s" % (HOST, self.port, last_err))

    def _wait_listening(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False, "exited with code %s; stderr:\n%s" % (self.proc.returncode, self.stderr_text()[-4000:])
            try:
                s = socket.create_connection((HOST, self.port), timeout=0.5)
                s.close()
                return True, ""
            except OSError:
                time.sleep(0.02)
        return False, "not listening after %.0fs; stderr:\n%s" % (timeout, self.stderr_text()[-4000:])

    def reload(self, cfg):
        """Writes the new config and sends SIGHUP (returns at once)."""
        self.cfg = cfg
        text = self.write_config(cfg)
        os.kill(self.proc.pid, signal.SIGHUP)
        return text

    def send_signal(self, sig):
        os.kill(self.proc.pid, sig)

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        """Sends sig by PID and waits; returns the exit code (None if it had to be killed)."""
        self.stopped = True
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                return None
        self._drop()
        return self.proc.returncode

    def kill(self):
        self.stopped = True
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        self._drop()

    def _drop(self):
        if self in Meridian.live:
            Meridian.live.remove(self)
        for f in (getattr(self, "out", None), getattr(self, "err", None)):
            if f is not None and not f.closed:
                f.close()

    # -- observation -------------------------------------------------------------
    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stdout_text(self):
        try:
            with open(self.out_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def stderr_text(self):
        try:
            with open(self.err_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def access_log(self):
        """Parses stdout as JSON lines (a trailing partial line is ignored)."""
        text = self.stdout_text()
        out = []
        lines = text.split("\n")
        for ln in lines[:-1]:
            if ln.strip():
                out.append(json.loads(ln))
        return out

    def wait_access_log(self, pred=lambda e: True, count=1, timeout=5.0):
        def got():
            es = [e for e in self.access_log() if pred(e)]
            return es if len(es) >= count else None
        return wait_until(got, timeout, what="%d access log entries" % count)

    def check_alive(self, timeout=5.0):
        """Asserts the process runs and answers a plain request with some HTTP response."""
        if not self.alive():
            raise AssertionError("meridian died (exit code %s); stderr tail:\n%s"
                                 % (self.proc.returncode, self.stderr_text()[-3000:]))
        try:
            with HttpConn(self.port, timeout=timeout) as c:
                c.send(b"GET /__meridian_liveness HTTP/1.1\r\nHost: liveness.invalid\r\nConnection: close\r\n\r\n")
                r = c.read_response()
        except Exception as e:  # noqa: BLE001
            raise AssertionError("meridian no longer answers a normal request: %r; alive=%s; stderr tail:\n%s"
                                 % (e, self.alive(), self.stderr_text()[-3000:]))
        assert 100 <= r.status <= 599
        return r


class ToolProcess:
    """A test server from tools/ run as a subprocess (its own process and GIL; tests may SIGKILL
    it). It reports its bound port through --port-file. After kill(), start() again comes back
    on the same port."""
    SCRIPT = None   # file name in tools/
    LABEL = None    # for file names and errors

    def __init__(self, workdir, name, port=0, extra=()):
        self.workdir = str(workdir)
        self.name = name
        self.req_port = port
        self.port = None
        self.proc = None
        self.extra = list(extra)

    def start(self):
        pf = os.path.join(self.workdir, "%s-%s-%d.port" % (self.LABEL, self.name, id(self)))
        if os.path.exists(pf):
            os.unlink(pf)
        if self.port:  # a restart binds the same port again
            self.req_port = self.port
        self.errf = open(os.path.join(self.workdir, "%s-%s.stderr" % (self.LABEL, self.name)), "ab")
        self.proc = subprocess.Popen([PYTHON, os.path.join(TOOLS, self.SCRIPT), "--port", str(self.req_port),
                                      "--name", self.name, "--port-file", pf] + self.extra,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.errf,
                                     start_new_session=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if os.path.exists(pf):
                self.port = int(open(pf).read().strip())
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        self.kill()
        raise AssertionError("%s did not start" % self.SCRIPT)

    @property
    def stats(self):
        return request(self.port, target="/__stats", host="origin").json()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        if getattr(self, "errf", None):
            self.errf.close()


class OriginProcess(ToolProcess):
    """tools/origin.py as a subprocess (for tests that SIGKILL the origin).
    extra: keepalive_timeout (s), health_status, delay_ms -> the matching command-line flags."""
    SCRIPT, LABEL = "origin.py", "origin"

    def __init__(self, workdir, name="origin", port=0, keepalive_timeout=None, health_status=None,
                 delay_ms=None):
        extra = []
        if keepalive_timeout is not None:
            extra += ["--keepalive-timeout", str(keepalive_timeout)]
        if health_status is not None:
            extra += ["--health-status", str(health_status)]
        if delay_ms is not None:
            extra += ["--delay-ms", str(delay_ms)]
        super().__init__(workdir, name, port, extra)

    def control(self, target):
        """Sends a control request (/__health?status=503, /__delay?ms=50) straight to the origin."""
        r = request(self.port, "POST", target, host="origin")
        assert r.status == 200, r
        return r

    def set_health(self, status):
        self.control("/__health?status=%d" % status)

    def set_delay(self, ms, serial=False):
        self.control("/__delay?ms=%d%s" % (ms, "&serial=1" if serial else ""))


def run_meridian(args, timeout=10.0, cwd=None):
    """Runs meridian to completion (for -t, --version); returns CompletedProcess."""
    return subprocess.run([MERIDIAN_BIN] + list(args), stdin=subprocess.DEVNULL, capture_output=True,
                          timeout=timeout, cwd=cwd, start_new_session=True)


# ---------------------------------------------------------------------------
# Global load balancing: monitors, admin API, load generation

# The standard fast monitor of the load-balancing tests.
HC = {"type": "http", "path": "/health", "interval": "300ms", "timeout": "200ms",
      "consecutive_up": 2, "consecutive_down": 2, "expected_codes": "2xx"}
HC_INTERVAL, HC_TIMEOUT, HC_UP, HC_DOWN = 0.3, 0.2, 2, 2

ADMIN_TOKEN = "test-admin-token-0123456789abcdef"


def lb_pool(origins, steering="round_robin", monitor=None, **extra):
    """pool() plus the load-balancing keys (monitor, minimum_origins, region, keepalive ...)."""
    p = pool(origins, steering)
    if monitor:
        p["monitor"] = monitor
    p.update(extra)
    return p


def lb_config(pools, lb=None, monitors=None, admin=None, geo=None, **kw):
    """config() plus monitors / admin / geo sections and one '*' load balancer whose extra
    keys come from <lb> (default_pools defaults to the first pool)."""
    lbd = {"hostnames": ["*"], "default_pools": [next(iter(pools))]}
    lbd.update(lb or {})
    cfg = config(pools, lbs={"lb1": lbd}, **kw)
    if monitors:
        cfg["monitors"] = monitors
    if admin:
        cfg["admin"] = admin
    if geo:
        cfg["geo"] = geo
    return cfg


class Admin:
    """Client of the admin API (bearer token) on a loopback port."""

    def __init__(self, port, token=ADMIN_TOKEN):
        self.port = port
        self.token = token

    @classmethod
    def make(cls, tmpdir, token=ADMIN_TOKEN):
        """-> (admin config section, client); writes the token file into <tmpdir>."""
        tf = os.path.join(str(tmpdir), "admin-%d.token" % os.getpid())
        with open(tf, "w") as f:
            f.write(token + "\n")
        port = free_port()
        return {"address": "%s:%d" % (HOST, port), "token_file": tf}, cls(port, token)

    def call(self, method, target, body=None, token=True, headers=(), timeout=5.0):
        hs = list(headers)
        if token is True:
            hs.append(("Authorization", "Bearer %s" % self.token))
        elif token:
            hs.append(("Authorization", token))
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        if body is not None:
            hs.append(("Content-Type", "application/json"))
            if not body:
                hs.append(("Content-Length", "0"))
        return request(self.port, method, target, host="admin", headers=hs, body=body or b"",
                       timeout=timeout)

    def get_json(self, target):
        r = self.call("GET", target)
        assert r.status == 200, "GET %s -> %r" % (target, r)
        return r.json()

    def pools(self):
        return self.get_json("/v1/pools")

    def patch_origin(self, pool_name, origin_name, body):
        return self.call("PATCH", "/v1/pools/%s/origins/%s" % (pool_name, origin_name), body)

    def wait_up(self, timeout=10.0):
        def up():
            try:
                return request(self.port, target="/healthz", host="admin", timeout=1.0).status == 200
            except OSError:
                return False
        wait_until(up, timeout, what="admin API on port %d" % self.port)

    def origin(self, pool_name, origin_name):
        return find_origin(self.pools(), pool_name, origin_name)

    def origin_healthy(self, pool_name, origin_name):
        return is_healthy(self.origin(pool_name, origin_name))

    def pool(self, pool_name):
        return find_pool(self.pools(), pool_name)


def _named(coll, name):
    """A member of a list of {"name": ..} objects, or of a {name: {..}} map."""
    if isinstance(coll, dict):
        if name in coll and isinstance(coll[name], dict):
            return coll[name]
        return None
    if isinstance(coll, list):
        for it in coll:
            if isinstance(it, dict) and it.get("name") == name:
                return it
    return None


def find_pool(doc, pool_name):
    """The pool object of GET /v1/pools ({"pools": [{name, origins: [..]}]} or a map)."""
    pools = doc.get("pools", doc) if isinstance(doc, dict) else doc
    p = _named(pools, pool_name)
    assert p is not None, "pool %r not in /v1/pools: %s" % (pool_name, json.dumps(doc)[:2000])
    return p


def find_origin(doc, pool_name, origin_name):
    p = find_pool(doc, pool_name)
    o = _named(p.get("origins"), origin_name)
    assert o is not None, "origin %r not in pool %r: %s" % (origin_name, pool_name, json.dumps(p)[:2000])
    return o


def is_healthy(obj):
    """The health of an origin or pool object: "healthy": bool, or "health": "healthy"/"up"."""
    if "healthy" in obj:
        return bool(obj["healthy"])
    h = obj.get("health")
    if isinstance(h, dict):
        return is_healthy(h)
    assert h is not None, "no health field in %r" % obj
    return str(h).lower() in ("healthy", "up", "ok")


def access_log_file(path):
    """The JSON lines of an access log file (a trailing partial line is ignored)."""
    try:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return []
    return [json.loads(ln) for ln in text.split("\n")[:-1] if ln.strip()]


class LoadResult:
    def __init__(self):
        self.ok = 0
        self.failures = []   # (time, what)
        self.latencies = []  # seconds, successful requests
        self.by_origin = {}  # X-Origin -> count
        self.timeline = []   # (time, origin) of successful requests


def run_load(port, threads=8, duration=5.0, target="/", host="test.example", headers=(),
             source=None, count=None, on_tick=None):
    """Keep-alive GET load: <threads> persistent connections for <duration> seconds (or <count>
    requests per thread). Any status other than 200, or any error, is a failure; after an error
    the thread reconnects. <on_tick>(elapsed) runs in the caller's thread about every 50 ms."""
    import threading
    res = LoadResult()
    lock = threading.Lock()
    stop = threading.Event()
    t0 = time.monotonic()

    def connect():
        return HttpConn(port, timeout=10.0) if source is None else conn_from(port, source)

    def worker():
        c = None
        n = 0
        req = request_bytes(target=target, host=host, headers=headers)
        while not stop.is_set() and (count is None or n < count):
            n += 1
            try:
                if c is None:
                    c = connect()
                t = time.monotonic()
                c.send(req)
                r = c.read_response()
                dt = time.monotonic() - t
                with lock:
                    if r.status == 200:
                        res.ok += 1
                        res.latencies.append(dt)
                        o = r.header("X-Origin")
                        res.by_origin[o] = res.by_origin.get(o, 0) + 1
                        res.timeline.append((t - t0, o))
                    else:
                        res.failures.append((t - t0, "status %d: %r" % (r.status, r.body[:200])))
                if (r.header("Connection") or "").lower() == "close":
                    c.close()
                    c = None
            except Exception as e:  # noqa: BLE001
                with lock:
                    res.failures.append((time.monotonic() - t0, repr(e)))
                if c is not None:
                    c.close()
                c = None
        if c is not None:
            c.close()

    ths = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    for th in ths:
        th.start()
    end = t0 + duration if count is None else None
    while any(th.is_alive() for th in ths):
        now = time.monotonic()
        if end is not None and now >= end:
            stop.set()
        if on_tick is not None and not stop.is_set():
            on_tick(now - t0)
        time.sleep(0.05)
        if now - t0 > duration + 120:
            stop.set()
            raise AssertionError("load threads did not finish")
    for th in ths:
        th.join(15)
    return res


def percentile(values, pct):
    v = sorted(values)
    if not v:
        return float("nan")
    k = min(len(v) - 1, max(0, int(round(pct / 100.0 * len(v) + 0.5)) - 1))
    return v[k]


def conn_from(port, source, timeout=10.0):
    """An HttpConn to 127.0.0.1:<port> whose source address is <source> (e.g. "127.0.0.2")."""
    c = HttpConn.__new__(HttpConn)
    s = socket.socket()
    s.bind((source, 0))
    s.settimeout(timeout)
    s.connect((HOST, port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    c.sock, c.timeout, c.buf, c.eof = s, timeout, bytearray(), False
    return c


def request_from(port, source, method="GET", target="/", host="test.example", headers=(), body=b"",
                 timeout=10.0):
    """One request on a fresh connection bound to source address <source>."""
    with conn_from(port, source, timeout) as c:
        c.send(request_bytes(method, target, host, headers, body))
        return c.read_response(method)
