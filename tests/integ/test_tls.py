"""TLS termination and HTTPS origins, with real clients (python ssl, curl, sslscan) and
certificates made at test time with the openssl CLI: SNI certificate selection, protocol and
cipher policy (the Mozilla "intermediate" profile), session resumption for TLS 1.2 and 1.3,
certificate reload on SIGHUP, X-Forwarded-Proto, garbage instead of a ClientHello, origins
over HTTPS (verification failure, allow_insecure) and wss."""
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import threading

import pytest

from integ_util import (HOST, HttpConn, free_port, lb_config, lb_pool, origin_entry, request_bytes,
                        wait_until)
from ws_client import OP_BIN, OP_PING, OP_PONG, OP_TEXT, WsClient, big_payload, build_frame
from ws_origin import WsOrigin

MOZ_TLS13 = {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}
MOZ_ECDSA12 = {"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
               "ECDHE-ECDSA-CHACHA20-POLY1305"}
MOZ_RSA12 = {"ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-RSA-CHACHA20-POLY1305"}


# ---------------------------------------------------------------------------
# certificates (openssl CLI)

def _run(args, cwd):
    r = subprocess.run(args, cwd=cwd, capture_output=True, timeout=30)
    assert r.returncode == 0, "%s failed: %s" % (" ".join(args), r.stderr.decode(errors="replace"))
    return r


def make_ca(d, name="ca", cn="Meridian Test CA"):
    _run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key", "-out",
          name + ".crt", "-days", "2", "-subj", "/CN=" + cn, "-addext", "basicConstraints=critical,CA:TRUE",
          "-addext", "keyUsage=critical,keyCertSign,cRLSign"], d)
    return os.path.join(d, name + ".crt"), os.path.join(d, name + ".key")


def make_leaf(d, name, sans, kind="ec", ca="ca", self_signed=False):
    """A leaf cert <name>.crt/.key for DNS names <sans> (the first is the CN), signed by <ca> or
    self-signed. kind: "ec" (P-256) or "rsa" (2048)."""
    if kind == "ec":
        key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
    else:
        key = ["-newkey", "rsa:2048"]
    san = "subjectAltName=" + ",".join("DNS:" + s for s in sans)
    if self_signed:
        _run(["openssl", "req", "-x509"] + key + ["-nodes", "-keyout", name + ".key", "-out", name + ".crt",
              "-days", "2", "-subj", "/CN=" + sans[0], "-addext", san], d)
    else:
        _run(["openssl", "req", "-new"] + key + ["-nodes", "-keyout", name + ".key", "-out", name + ".csr",
              "-subj", "/CN=" + sans[0]], d)
        with open(os.path.join(d, name + ".ext"), "w") as f:
            f.write(san + "\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
        _run(["openssl", "x509", "-req", "-in", name + ".csr", "-CA", ca + ".crt", "-CAkey", ca + ".key",
              "-CAcreateserial", "-out", name + ".crt", "-days", "2", "-extfile", name + ".ext"], d)
    return os.path.join(d, name + ".crt"), os.path.join(d, name + ".key")


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    """A CA, an ECDSA leaf for a.test (the default: first) and an RSA leaf for *.b.test."""
    d = str(tmp_path_factory.mktemp("certs"))
    ca, _ = make_ca(d)
    a = make_leaf(d, "a", ["a.test"], "ec")
    b = make_leaf(d, "b", ["*.b.test", "b.test"], "rsa")
    return {"dir": d, "ca": ca, "a": a, "b": b}


# ---------------------------------------------------------------------------
# meridian with a TLS listener

class Tls:
    """A started meridian with a plain listener (m.port) and a TLS listener (self.port)."""

    def __init__(self, m, port, ca):
        self.m, self.port, self.ca = m, port, ca

    def ctx(self, verify=True, min_v=None, max_v=None, ciphers=None):
        c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if verify:
            c.load_verify_locations(self.ca)
        else:
            c.check_hostname = False
            c.verify_mode = ssl.CERT_NONE
        if min_v:
            c.minimum_version = min_v
        if max_v:
            c.maximum_version = max_v
        if ciphers:
            c.set_ciphers(ciphers)
        return c

    def conn(self, sni="a.test", ctx=None, session=None, timeout=10.0):
        """An HttpConn over TLS (the handshake done)."""
        c = HttpConn.__new__(HttpConn)
        raw = socket.create_connection((HOST, self.port), timeout=timeout)
        ctx = ctx or self.ctx(verify=False)
        c.sock = ctx.wrap_socket(raw, server_hostname=sni, session=session)
        c.timeout, c.buf, c.eof = timeout, bytearray(), False
        return c

    def get(self, c, target="/echo", host="a.test"):
        c.send(request_bytes("GET", target, host))
        return c.read_response()


def tls_listener(certlist, min_version="1.2"):
    return {"certificates": [{"cert": c, "key": k} for c, k in certlist], "min_version": min_version}


def start_tls(procs, pools, certs_list, ca, lb=None, **kw):
    plain, tport = free_port(), free_port()
    cfg = lb_config(pools, lb=lb, **kw)
    cfg["server"]["listen"] = [{"address": "%s:%d" % (HOST, plain)},
                               {"address": "%s:%d" % (HOST, tport), "tls": tls_listener(certs_list)}]
    m = procs.meridian(cfg, start=False)
    m.start(port=plain)
    wait_until(lambda: _listening(tport), 5, what="the TLS listener")
    return Tls(m, tport, ca)


def _listening(port):
    try:
        socket.create_connection((HOST, port), timeout=0.5).close()
        return True
    except OSError:
        return False


@pytest.fixture
def tls(procs, certs):
    o = procs.origin("o1")
    return start_tls(procs, {"p1": lb_pool([("o1", o.port)])}, [certs["a"], certs["b"]], certs["ca"])


def san_of(c):
    """The DNS names of the peer certificate (needs a verifying context)."""
    return sorted(v for k, v in c.sock.getpeercert().get("subjectAltName", ()) if k == "DNS")


def handshake_fails(t, ctx, sni="a.test"):
    try:
        c = t.conn(sni, ctx)
    except (ssl.SSLError, ConnectionError, OSError) as e:
        return repr(e)
    c.close()
    return None


# ---------------------------------------------------------------------------
# certificates by SNI

def test_sni_selects_certificate(tls, certs):
    """The certificate is chosen by SNI: a.test -> the ECDSA a.test cert, x.b.test -> the RSA
    *.b.test cert (wildcard); an unknown name or no SNI -> the first (default) cert."""
    ctx = tls.ctx()
    ctx.check_hostname = False  # the default cert does not match an unknown name; the SAN is checked below
    for sni, want in (("a.test", ["a.test"]), ("x.b.test", ["*.b.test", "b.test"]),
                      ("b.test", ["*.b.test", "b.test"]), ("unknown.test", ["a.test"]), (None, ["a.test"])):
        c = tls.conn(sni, ctx)
        try:
            assert san_of(c) == sorted(want), "SNI %r got %r" % (sni, san_of(c))
            assert tls.get(c).status == 200
        finally:
            c.close()
    # and with full verification (hostname included) as a browser would
    for name in ("a.test", "x.b.test"):
        c = tls.conn(name, tls.ctx())
        assert tls.get(c, host=name).status == 200
        c.close()


def test_curl_with_ca_and_insecure(tls, certs):
    """curl verifies both certificates against the test CA (so SAN and chain are right), and
    curl -k works for an unknown name."""
    if not shutil.which("curl"):
        pytest.skip("curl is not installed")
    for name in ("a.test", "api.b.test"):
        r = subprocess.run(["curl", "-sS", "--max-time", "10", "--cacert", certs["ca"], "--resolve",
                            "%s:%d:%s" % (name, tls.port, HOST), "https://%s:%d/echo" % (name, tls.port)],
                           capture_output=True, timeout=20)
        assert r.returncode == 0, (name, r.stderr)
        j = json.loads(r.stdout)
        assert j["target"] == "/echo"
    r = subprocess.run(["curl", "-sSk", "--max-time", "10", "--resolve", "nope.test:%d:%s" % (tls.port, HOST),
                        "https://nope.test:%d/" % tls.port], capture_output=True, timeout=20)
    assert r.returncode == 0 and r.stdout.startswith(b"hello from o1"), r


# ---------------------------------------------------------------------------
# protocol and cipher policy

@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # ssl warns about asking for TLS 1.0/1.1
def test_old_protocols_and_weak_ciphers_refused(tls):
    """TLS 1.0 and 1.1 are refused, as are non-ECDHE and CBC suites over TLS 1.2."""
    for v in (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1):
        ctx = tls.ctx(verify=False, min_v=v, max_v=v, ciphers="ALL:@SECLEVEL=0")
        why = handshake_fails(tls, ctx)
        assert why, "%s was accepted" % v
    for cipher in ("AES128-SHA", "AES128-GCM-SHA256", "ECDHE-RSA-AES128-SHA", "ECDHE-ECDSA-AES128-SHA",
                   "DHE-RSA-AES128-GCM-SHA256"):
        for sni in ("a.test", "x.b.test"):
            ctx = tls.ctx(verify=False, max_v=ssl.TLSVersion.TLSv1_2, ciphers=cipher + ":@SECLEVEL=0")
            assert handshake_fails(tls, ctx, sni), "weak suite %s accepted for %s" % (cipher, sni)


def test_tls12_ecdhe_gcm_and_tls13_work(tls):
    """TLS 1.2 with ECDHE-(EC)DSA/RSA-AES-GCM and TLS 1.3 complete and carry requests."""
    for sni, cipher in (("a.test", "ECDHE-ECDSA-AES128-GCM-SHA256"),
                        ("x.b.test", "ECDHE-RSA-AES256-GCM-SHA384"),
                        ("x.b.test", "ECDHE-RSA-CHACHA20-POLY1305")):
        ctx = tls.ctx(verify=False, max_v=ssl.TLSVersion.TLSv1_2, ciphers=cipher)
        c = tls.conn(sni, ctx)
        assert c.sock.version() == "TLSv1.2" and c.sock.cipher()[0] == cipher, c.sock.cipher()
        assert tls.get(c).status == 200
        c.close()
    c = tls.conn("a.test", tls.ctx(verify=False, min_v=ssl.TLSVersion.TLSv1_3))
    assert c.sock.version() == "TLSv1.3"
    assert tls.get(c).status == 200
    c.close()


@pytest.mark.parametrize("version", ["TLSv1.2", "TLSv1.3"])
def test_session_resumption(tls, version):
    """A second connection offering the first one's session (session id or ticket for 1.2, a
    ticket for 1.3, read after a response so it has arrived) is resumed."""
    v = ssl.TLSVersion.TLSv1_2 if version == "TLSv1.2" else ssl.TLSVersion.TLSv1_3
    ctx = tls.ctx(verify=False, min_v=v, max_v=v)
    c1 = tls.conn("a.test", ctx)
    assert c1.sock.version() == version
    assert tls.get(c1).status == 200  # in 1.3 the ticket comes after the handshake
    sess = c1.sock.session
    c1.close()
    assert sess is not None
    c2 = tls.conn("a.test", ctx, session=sess)
    try:
        assert c2.sock.session_reused, "%s session not resumed" % version
        assert tls.get(c2).status == 200
    finally:
        c2.close()


def test_tls13_one_ticket_per_handshake_and_a_fresh_one_on_resumption(tls):
    """A TLS 1.3 full handshake gets exactly one NewSessionTicket; a connection resumed with
    it gets a fresh one, so a client always holds an unused ticket (three resumptions in a
    row, each with the ticket of the one before)."""
    ctx = tls.ctx(verify=False, min_v=ssl.TLSVersion.TLSv1_3, max_v=ssl.TLSVersion.TLSv1_3)
    tickets = []
    ctx._msg_callback = lambda conn, direction, v, ct, mt, data: (
        tickets.append(1) if direction == "read" and mt == ssl._TLSMessageType.NEWSESSION_TICKET
        else None)
    c = tls.conn("a.test", ctx)
    assert tls.get(c).status == 200
    sess = c.sock.session
    c.close()
    assert len(tickets) == 1, "full handshake: %d tickets" % len(tickets)
    for i in range(3):
        del tickets[:]
        c = tls.conn("a.test", ctx, session=sess)
        try:
            assert c.sock.session_reused, "resumption %d failed" % i
            assert tls.get(c).status == 200
            assert len(tickets) == 1, "resumption %d: %d tickets" % (i, len(tickets))
            sess = c.sock.session
        finally:
            c.close()


def test_sslscan_shows_intermediate_profile_only(tls):
    """sslscan sees only TLS 1.2 / 1.3, and exactly the Mozilla intermediate suites: the three
    TLS 1.3 ones and the ECDHE AEAD ones for the certificate's key type."""
    if not shutil.which("sslscan"):
        pytest.skip("sslscan is not installed (apt-get install sslscan)")
    for sni, want12 in (("a.test", MOZ_ECDSA12), ("x.b.test", MOZ_RSA12)):
        r = subprocess.run(["sslscan", "--no-colour", "--no-heartbleed", "--no-fallback",
                            "--no-renegotiation", "--no-compression", "--no-groups", "--no-check-certificate",
                            "--sni-name=" + sni, "%s:%d" % (HOST, tls.port)], capture_output=True, timeout=60)
        out = r.stdout.decode(errors="replace")
        accepted = re.findall(r"^(?:Preferred|Accepted)\s+(\S+)\s+\d+\s+bits\s+(\S+)", out, re.M)
        assert accepted, out
        protos = {p for p, _ in accepted}
        assert protos <= {"TLSv1.2", "TLSv1.3"}, (protos, out)
        enabled = set(re.findall(r"^(\S+)\s+enabled", out, re.M))
        assert enabled <= {"TLSv1.2", "TLSv1.3"}, (enabled, out)
        s13 = {c for p, c in accepted if p == "TLSv1.3"}
        s12 = {c for p, c in accepted if p == "TLSv1.2"}
        assert s13 == MOZ_TLS13, (sni, s13)
        assert s12 == want12, (sni, s12)


# ---------------------------------------------------------------------------
# reload, headers, robustness

def test_certificate_reload_on_sighup(procs, certs, tmp_path):
    """Replacing the certificate files and sending SIGHUP makes new connections see the new
    certificate, while an established keep-alive connection keeps working."""
    d = str(tmp_path)
    for f in ("ca.crt", "ca.key"):
        shutil.copy(os.path.join(certs["dir"], f), d)
    crt, key = make_leaf(d, "live", ["a.test"], "ec")
    o = procs.origin("o1")
    t = start_tls(procs, {"p1": lb_pool([("o1", o.port)])}, [(crt, key)], os.path.join(d, "ca.crt"))
    old = t.conn("a.test")
    old_der = old.sock.getpeercert(binary_form=True)
    assert t.get(old).status == 200
    ncrt, nkey = make_leaf(d, "new", ["a.test"], "rsa")
    shutil.copy(nkey, key + ".tmp")
    shutil.copy(ncrt, crt + ".tmp")
    os.replace(key + ".tmp", key)
    os.replace(crt + ".tmp", crt)
    t.m.reload(t.m.cfg)

    def new_cert():
        c = t.conn("a.test", t.ctx())
        der = c.sock.getpeercert(binary_form=True)
        c.close()
        return der != old_der and der
    wait_until(new_cert, 5, what="new connections to get the new certificate")
    assert t.get(old).status == 200, "the established connection broke on reload"
    assert old.sock.getpeercert(binary_form=True) == old_der
    old.close()


def test_x_forwarded_proto_https(tls):
    """A request over TLS reaches the origin with X-Forwarded-Proto: https (plain: http)."""
    c = tls.conn("a.test")
    r = tls.get(c)
    c.close()
    hs = {k.lower(): v for k, v in r.json()["headers"]}
    assert hs.get("x-forwarded-proto") == "https", hs
    with HttpConn(tls.m.port) as p:
        p.send(request_bytes("GET", "/echo"))
        hs = {k.lower(): v for k, v in p.read_response().json()["headers"]}
    assert hs.get("x-forwarded-proto") == "http", hs


@pytest.mark.parametrize("garbage", [b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n", b"\x16\x03\x01\x00\x05hello",
                                     os.urandom(600)], ids=["http", "short-record", "random"])
def test_garbage_instead_of_client_hello(tls, garbage):
    """Bytes that are not a ClientHello get only that connection closed (others keep working)
    and the error log mentions the handshake failure."""
    good = tls.conn("a.test")
    assert tls.get(good).status == 200
    with HttpConn(tls.port, timeout=5) as bad:
        bad.send(garbage)
        data, closed = bad.read_until_eof(5)
    assert closed, "the gateway kept a connection that sent garbage"
    assert not data.startswith(b"HTTP/"), data[:100]
    assert tls.get(good).status == 200
    c = tls.conn("x.b.test")
    assert tls.get(c).status == 200
    c.close()
    wait_until(lambda: "handshake" in tls.m.stderr_text().lower(), 3,
               what="a handshake failure in the error log")


# ---------------------------------------------------------------------------
# HTTPS origins

class TlsOrigin:
    """A tiny HTTPS origin: keep-alive, answers every request 200 with a JSON body listing the
    request headers and the SNI it saw."""

    def __init__(self, crt, key):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(crt, key)
        self.snis = []
        self.ctx.sni_callback = lambda s, name, c: self.snis.append(name)
        self.ls = socket.socket()
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind((HOST, 0))
        self.ls.listen(64)
        self.port = self.ls.getsockname()[1]
        self.handshake_errors = []
        self.requests = 0
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self._stop:
            try:
                s, _ = self.ls.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(s,), daemon=True).start()

    def _serve(self, raw):
        raw.settimeout(10)
        try:
            s = self.ctx.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError) as e:
            self.handshake_errors.append(repr(e))
            raw.close()
            return
        buf = b""
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    d = s.recv(65536)
                    if not d:
                        return
                    buf += d
                head, _, buf = buf.partition(b"\r\n\r\n")
                self.requests += 1
                lines = head.decode("latin-1").split("\r\n")
                hdrs = [ln.split(":", 1) for ln in lines[1:]]
                body = json.dumps({"target": lines[0].split(" ")[1],
                                   "headers": [[k.strip(), v.strip()] for k, v in hdrs]}).encode()
                s.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                          b"X-Origin: tls-origin\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        except (OSError, ssl.SSLError):
            pass
        finally:
            s.close()

    def stop(self):
        self._stop = True
        self.ls.close()

    kill = stop


def _https_origin_gateway(procs, certs, tmp_path, insecure):
    d = str(tmp_path)
    crt, key = make_leaf(d, "origin", ["origin.test"], "ec", self_signed=True)
    o = TlsOrigin(crt, key)
    procs.items.append(o)
    entry = origin_entry("s1", o.port)
    entry.update({"tls": True, "sni": "origin.test"})
    if insecure:
        entry["allow_insecure"] = True
    m = procs.meridian(lb_config({"p1": lb_pool([entry])}))
    return m, o


def test_https_origin_self_signed_is_refused(procs, certs, tmp_path):
    """An HTTPS origin with a self-signed certificate (not trusted by the system CAs) and no
    allow_insecure: the request fails with 502 and the error log names the verification failure."""
    m, o = _https_origin_gateway(procs, certs, tmp_path, insecure=False)
    with HttpConn(m.port) as c:
        c.send(request_bytes("GET", "/x"))
        r = c.read_response()
    assert r.status == 502, r
    assert o.requests == 0
    pat = re.compile(r"verif.*(self.signed|certificate)|self.signed", re.I)

    def reason():
        for e in m.access_log():
            if e.get("status") == 502 and pat.search(str(e.get("error"))):
                return "access log error: %s" % e["error"]
        ln = [x for x in m.stderr_text().split("\n") if pat.search(x)]
        return ln and "error log: %s" % ln[0]
    print(wait_until(reason, 3, what="a log line naming the verification failure; access log %r, stderr %r"
                     % (m.access_log()[-2:], m.stderr_text()[-1000:])))


def test_https_origin_allow_insecure(procs, certs, tmp_path):
    """The same origin with allow_insecure: true is reached over TLS (200), with the configured
    SNI, and keeps its connection alive across requests."""
    m, o = _https_origin_gateway(procs, certs, tmp_path, insecure=True)
    with HttpConn(m.port) as c:
        for i in range(3):
            c.send(request_bytes("GET", "/x%d" % i))
            r = c.read_response()
            assert r.status == 200, r
            assert r.header("X-Origin") == "tls-origin"
            assert r.json()["target"] == "/x%d" % i
    assert "origin.test" in o.snis, o.snis
    assert o.requests == 3


def test_allow_insecure_change_applies_on_reload(procs, certs, tmp_path):
    """Turning allow_insecure on and off again for an existing HTTPS origin takes effect on
    SIGHUP: 502 (verify), then 200 (insecure), then 502 again; the idle connection made
    without verification is not reused once verification is back."""
    m, o = _https_origin_gateway(procs, certs, tmp_path, insecure=False)

    def status():
        with HttpConn(m.port) as c:
            c.send(request_bytes("GET", "/x"))
            return c.read_response().status

    assert status() == 502
    m.cfg["pools"]["p1"]["origins"][0]["allow_insecure"] = True
    m.reload(m.cfg)
    wait_until(lambda: status() == 200, 5, what="200 once allow_insecure is on")
    m.cfg["pools"]["p1"]["origins"][0]["allow_insecure"] = False
    m.reload(m.cfg)
    wait_until(lambda: status() == 502, 5, what="502 once allow_insecure is off again")
    for _ in range(3):
        assert status() == 502


# ---------------------------------------------------------------------------
# wss

def test_wss_auto_response(procs, certs):
    """auto_response over TLS: the gateway answers "ping" and pings on a wss tunnel (also in
    a burst, and byte by byte through TLS records), relays other messages, and its answers
    never break a large origin frame."""
    o = WsOrigin(name="ws1").start()
    procs.items.append(o)
    rule = {"match": {"path": "/socket/*"}, "pools": ["p1"],
            "websocket": {"auto_response": {"request": "ping", "response": "pong"}}}
    t = start_tls(procs, {"p1": lb_pool([("ws1", o.port)])}, [certs["a"], certs["b"]], certs["ca"],
                  lb={"rules": [rule]})
    c = WsClient.connect(t.port, "/socket/tls", host="a.test", tls=t.ctx(), server_hostname="a.test")
    assert c.echo(OP_TEXT, "ping") == (OP_TEXT, b"pong")
    f = build_frame(OP_PING, b"tls-beat")
    for i in range(len(f)):
        c.send_raw(f[i:i + 1])
    assert c.recv_message() == (OP_PONG, b"tls-beat")
    c.send_raw(b"".join(build_frame(OP_TEXT, b"ping") for _ in range(500)))
    for _ in range(500):
        assert c.recv_message() == (OP_TEXT, b"pong")
    c.send_text("big:%d" % (2 * 1024 * 1024))
    for _ in range(10):
        c.send_frame(OP_TEXT, b"ping")
    got = [c.recv_message(timeout=20) for _ in range(11)]
    assert sum(1 for g in got if g == (OP_TEXT, b"pong")) == 10
    assert [g[1] for g in got if g[0] == OP_BIN] == [big_payload(2 * 1024 * 1024)]
    assert c.echo(OP_TEXT, "relayed") == (OP_TEXT, b"relayed")
    assert "ping" not in o.stats["texts"] and o.stats["pings"] == 0


def test_wss_through_gateway(procs, certs):
    """A WebSocket over TLS (wss) through the TLS listener: 101, echoes of small and > 64 KiB
    messages, and the origin sees X-Forwarded-Proto: https on the upgrade."""
    o = WsOrigin(name="ws1").start()
    procs.items.append(o)
    t = start_tls(procs, {"p1": lb_pool([("ws1", o.port)])}, [certs["a"], certs["b"]], certs["ca"])
    c = WsClient.connect(t.port, "/wss", host="a.test", tls=t.ctx(), server_hostname="a.test")
    assert c.echo(OP_TEXT, "hello over tls") == (OP_TEXT, b"hello over tls")
    data = os.urandom(300000)
    assert c.echo(OP_BIN, data, fragments=3) == (OP_BIN, data)
    hs = {k.lower(): v for k, v in o.stats["last_upgrade_headers"]}
    assert hs.get("x-forwarded-proto") == "https", hs
    c.close(1000)
    assert c.recv_close()[0] == 1000
    assert c.wait_eof(5)
