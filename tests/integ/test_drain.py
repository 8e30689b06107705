"""SIGTERM drains: in-flight requests finish, new connections are refused, exit 0."""
import signal
import socket
import threading
import time

from integ_util import HttpConn, request, request_bytes, simple_config


def _slow_clients(port, n, ms):
    res = [None] * n

    def run(i):
        try:
            res[i] = request(port, target="/slow?ms=%d&i=%d" % (ms, i), timeout=15)
        except Exception as e:  # noqa: BLE001
            res[i] = e

    ts = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    return ts, res


def _refused(port):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=0.5)
    except OSError:
        return True
    # accepted by the kernel: a draining proxy may still have the socket open but must not serve
    try:
        s.sendall(b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n")
        s.settimeout(1.0)
        d = s.recv(100)
        return d == b""
    except socket.timeout:
        return False  # accepted by the kernel but never served: not "refused"
    except OSError:
        return True
    finally:
        s.close()


def _drain(procs, sig):
    o = procs.origin("o")
    m = procs.meridian(simple_config(("o", o.port)))
    ts, res = _slow_clients(m.port, 4, 2000)
    # make sure they are all in flight at the origin
    t0 = time.monotonic()
    while sum(1 for p in o.stats["paths"] if p.startswith("/slow")) < 4 and time.monotonic() - t0 < 3:
        time.sleep(0.02)
    assert sum(1 for p in o.stats["paths"] if p.startswith("/slow")) == 4
    m.send_signal(sig)
    t_sig = time.monotonic()
    # new connections are refused soon after (well before the slow requests finish)
    refused_at = None
    while time.monotonic() - t_sig < 1.5:
        if _refused(m.port):
            refused_at = time.monotonic() - t_sig
            break
        time.sleep(0.05)
    for t in ts:
        t.join(15)
    try:
        rc = m.proc.wait(8)
    except Exception:  # noqa: BLE001
        rc = None
    m.stopped = True
    el = time.monotonic() - t_sig
    for i, r in enumerate(res):
        assert not isinstance(r, Exception), "in-flight request %d failed during drain: %r" % (i, r)
        assert r.status == 200, r
        assert r.json()["target"].startswith("/slow")
    assert refused_at is not None, "still accepting new connections 1.5s after the signal"
    assert rc == 0, "exit code %r after drain; stderr: %s" % (rc, m.stderr_text()[-2000:])
    assert el < 6.0, "took %.1fs to exit" % el


def test_sigterm_drains_in_flight(procs):
    _drain(procs, signal.SIGTERM)


def test_sigterm_idle_keepalive_connection_closed(procs):
    o = procs.origin("o")
    m = procs.meridian(simple_config(("o", o.port)))
    c = HttpConn(m.port, timeout=10)
    try:
        c.send(request_bytes(target="/echo"))
        assert c.read_response().status == 200
        m.send_signal(signal.SIGTERM)
        # an idle keep-alive client does not hold the process open
        rc = m.proc.wait(8)
        m.stopped = True
        assert rc == 0
        data, closed = c.read_until_eof(3)
        assert closed
    finally:
        c.close()


def test_sigint_exits_0_with_request_in_flight(procs):
    o = procs.origin("o")
    m = procs.meridian(simple_config(("o", o.port)))
    ts, res = _slow_clients(m.port, 1, 500)
    time.sleep(0.2)
    m.send_signal(signal.SIGINT)
    rc = m.proc.wait(8)
    m.stopped = True
    for t in ts:
        t.join(10)
    assert rc == 0
