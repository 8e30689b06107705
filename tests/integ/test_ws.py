"""WebSocket tunnels through Meridian, with real clients (tests/integ/ws_client.py) and a real
WebSocket origin (tools/ws_origin.py): the upgrade, every frame length class, fragmentation,
ping/pong, close codes both ways, the idle timeout, refused and malformed upgrades, thousands
of tunnels, tunnel counts in the admin API and /metrics, gateway auto-responses, paced 1012
closes when an origin goes down, 1001 on SIGTERM, and malformed frames."""
import os
import resource
import signal
import socket
import time

import pytest

from integ_util import Admin, HttpConn, lb_config, lb_pool, origin_entry, wait_until
from ws_client import (OP_BIN, OP_PING, OP_PONG, OP_TEXT, ManyTunnels, WsClient, WsClosed, build_frame,
                       WsOriginProcess, big_payload, upgrade_request)
from ws_origin import WsOrigin

# a rule's websocket settings go with its pools: (as in meridian.reference.yaml)
AUTO_RULE = {"match": {"path": "/socket/*"}, "pools": ["p1"],
             "websocket": {"auto_response": {"request": "ping", "response": "pong"}}}


def ws_origin(procs, name="ws1"):
    o = WsOrigin(name=name).start()
    procs.items.append(o)
    return o


def ws_config(origins, admin=None, lb=None, limits=None, workers=1):
    """One pool p1 of the given WebSocket origins behind one '*' LB; admin is the admin section."""
    lim = {"max_connections_per_ip": 0}
    lim.update(limits or {})
    return lb_config({"p1": lb_pool([origin_entry(o.name, o.port) for o in origins])}, lb=lb, admin=admin,
                     limits=lim, workers=workers)


def ws_setup(procs, tmp_path, n=1, lb=None, limits=None, workers=1, admin=False):
    origins = [ws_origin(procs, "ws%d" % (i + 1)) for i in range(n)]
    adm_cfg, adm = Admin.make(tmp_path) if admin else (None, None)
    m = procs.meridian(ws_config(origins, adm_cfg, lb, limits, workers))
    if adm:
        adm.wait_up()
    return m, origins, adm


def origin_tunnels(adm, origin="ws1"):
    return adm.origin("p1", origin)["tunnels"]


def metric_tunnels(adm):
    """{origin: value} of meridian_websocket_tunnels in /metrics."""
    r = adm.call("GET", "/metrics")
    assert r.status == 200, r
    out = {}
    for ln in r.text.split("\n"):
        if ln.startswith("meridian_websocket_tunnels{"):
            labels, _, val = ln.rpartition(" ")
            name = labels.split('origin="', 1)[1].split('"', 1)[0]
            out[name] = float(val)
    return out


# ---------------------------------------------------------------------------
# the tunnel itself

def test_upgrade_relayed_and_every_length_class_echoes(procs, tmp_path):
    """An upgrade (version 13 + key) is forwarded and the origin's 101 comes back with the right
    Sec-WebSocket-Accept; then frames of every length class (0, 125, 126, 65535, 65536, > 1 MiB)
    cross the tunnel both ways unchanged, text and binary, and the origin sends > 1 MiB itself."""
    m, (o,), _ = ws_setup(procs, tmp_path)
    c = WsClient.connect(m.port, "/chat?room=1")
    assert c.response.header("X-Origin") == "ws1", c.response
    assert o.stats["paths"][-1] == "/chat?room=1"
    for n in (0, 1, 125, 126, 127, 65535, 65536, (1 << 20) + 3, 3 << 20):
        payload = os.urandom(n)
        assert c.echo(OP_BIN, payload, timeout=20) == (OP_BIN, payload), "binary length %d" % n
    for n in (0, 125, 126, 65536):
        text = ("\u00e9x" * n)[:n].encode("utf-8")
        assert c.echo(OP_TEXT, text) == (OP_TEXT, text), "text length %d" % n
    c.send_text("big:%d" % ((2 << 20) + 1))
    op, data = c.recv_message(timeout=20)
    assert op == OP_BIN and data == big_payload((2 << 20) + 1)
    # many small frames pipelined in one write
    c.send_raw(b"".join(build_frame(OP_TEXT, b"m%d" % i) for i in range(200)))
    for i in range(200):
        assert c.recv_message() == (OP_TEXT, b"m%d" % i)
    c.close(1000)
    assert c.recv_close()[0] == 1000


def test_fragmented_messages_both_ways(procs, tmp_path):
    """A message fragmented by the client (with a ping between fragments) reaches the origin
    whole; a message the origin fragments reaches the client as a valid fragment sequence."""
    m, (o,), _ = ws_setup(procs, tmp_path)
    c = WsClient.connect(m.port, "/frag")
    data = os.urandom(200000)
    assert c.echo(OP_BIN, data, fragments=7) == (OP_BIN, data)
    assert c.echo(OP_TEXT, "x" * 10, fragments=10) == (OP_TEXT, b"x" * 10)
    # a control frame between fragments is legal (RFC 6455 5.4)
    c.send_raw(build_frame(OP_TEXT, b"part1-", fin=False))
    c.ping(b"mid")
    c.send_raw(build_frame(0, b"part2", fin=True))
    got = [c.recv_message(), c.recv_message()]
    assert (OP_PONG, b"mid") in got and (OP_TEXT, b"part1-part2") in got, got
    c.send_text("frag:5:" + "abcdefghij" * 50)
    assert c.recv_message() == (OP_TEXT, b"abcdefghij" * 50)


def test_ping_pong_through_tunnel(procs, tmp_path):
    """On a plain route a client ping reaches the origin, whose pong comes back with the payload."""
    m, (o,), _ = ws_setup(procs, tmp_path)
    c = WsClient.connect(m.port, "/p")
    for payload in (b"", b"a", b"x" * 125):
        c.ping(payload)
        assert c.recv_message() == (OP_PONG, payload)
    assert o.stats["pings"] == 3


def test_close_codes_pass_both_ways(procs, tmp_path):
    """A client close 1000 reaches the origin, whose echoed close reaches the client, then the
    connection ends; an origin-initiated close 4001 (with its reason) reaches the client."""
    m, (o,), _ = ws_setup(procs, tmp_path)
    c = WsClient.connect(m.port, "/a")
    c.close(1000, b"bye")
    assert c.recv_close() == (1000, b"")
    assert c.wait_eof(5), "the tunnel did not end after the close handshake"
    wait_until(lambda: 1000 in o.stats["close_codes"], 3, what="the origin to see close 1000")

    c = WsClient.connect(m.port, "/b")
    c.send_text("close:4001")
    assert c.recv_close() == (4001, b"origin close")
    c.close(4001)
    assert c.wait_eof(5)
    wait_until(lambda: o.stats["close_codes"][-1:] == [4001], 3, what="the origin to see the answer 4001")


def test_idle_timeout_closes_idle_tunnel_only(procs, tmp_path):
    """With websocket_idle_timeout 1s an idle tunnel is closed with 1001 both ways within a few
    seconds, while a tunnel with a message every 300 ms stays open well past the timeout."""
    m, (o,), _ = ws_setup(procs, tmp_path, limits={"websocket_idle_timeout": "1s"})
    idle = WsClient.connect(m.port, "/idle")
    active = WsClient.connect(m.port, "/active")
    t0 = time.monotonic()
    while time.monotonic() - t0 < 3.0:
        assert active.echo(OP_TEXT, "tick") == (OP_TEXT, b"tick"), "the active tunnel broke"
        time.sleep(0.3)
    # the idle one got 1001 (going away) by now, and the connection ends without an answer
    try:
        code, _ = idle.recv_close(timeout=1.0)
    except socket.timeout:
        pytest.fail("the idle tunnel is still open after 3 s with websocket_idle_timeout 1s")
    assert code == 1001
    assert idle.wait_eof(3), "the gateway did not end the idle tunnel after its close frame"
    wait_until(lambda: 1001 in o.stats["close_codes"], 3, what="the origin to get 1001 too")
    assert active.echo(OP_TEXT, "still") == (OP_TEXT, b"still")


# ---------------------------------------------------------------------------
# bad and refused upgrades

def test_missing_key_is_400_and_origin_never_sees_it(procs, tmp_path):
    """An upgrade without Sec-WebSocket-Key is answered 400 by the gateway; the origin sees nothing."""
    m, (o,), _ = ws_setup(procs, tmp_path)
    with HttpConn(m.port) as c:
        c.send(upgrade_request("/nokey", key=False))
        r = c.read_response()
    assert r.status == 400, r
    time.sleep(0.2)
    assert o.stats["requests"] == 0, o.stats


def test_wrong_version_is_426(procs, tmp_path):
    """An upgrade with Sec-WebSocket-Version 8 is refused with 426 + Sec-WebSocket-Version: 13
    (RFC 6455 4.4); the origin never sees it."""
    m, (o,), _ = ws_setup(procs, tmp_path)
    with HttpConn(m.port) as c:
        c.send(upgrade_request("/v8", version="8"))
        r = c.read_response()
    assert r.status == 426, r
    assert r.header("Sec-WebSocket-Version") == "13", r
    time.sleep(0.2)
    assert o.stats["requests"] == 0, o.stats


def test_refused_upgrade_is_relayed(procs, tmp_path):
    """An origin that answers the upgrade with 403 has that response (status, header, body)
    relayed to the client, and no tunnel is counted."""
    m, (o,), adm = ws_setup(procs, tmp_path, admin=True)
    c = WsClient.connect(m.port, "/refuse/now", check=False)
    r = c.response
    assert r.status == 403, r
    assert r.header("X-Refused") == "ws1", r
    assert r.body == b"upgrade refused by ws1\n", r
    assert o.stats["refused"] == 1
    assert origin_tunnels(adm) == 0


# ---------------------------------------------------------------------------
# counting tunnels

def test_tunnels_in_admin_and_metrics(procs, tmp_path):
    """GET /v1/pools shows `tunnels` per origin while tunnels are open and 0 after they close;
    meridian_websocket_tunnels in /metrics agrees."""
    m, (o1, o2), adm = ws_setup(procs, tmp_path, n=2, admin=True)
    cs = [WsClient.connect(m.port, "/t%d" % i) for i in range(6)]
    by = {}
    for c in cs:
        by[c.response.header("X-Origin")] = by.get(c.response.header("X-Origin"), 0) + 1
    assert sum(by.values()) == 6
    wait_until(lambda: {n: origin_tunnels(adm, n) for n in ("ws1", "ws2")} ==
               {n: by.get(n, 0) for n in ("ws1", "ws2")}, 3, what="tunnels per origin in /v1/pools")
    mt = metric_tunnels(adm)
    assert {k: int(v) for k, v in mt.items()} == {n: by.get(n, 0) for n in ("ws1", "ws2")}, mt
    for c in cs:
        c.close(1000)
        c.recv_close()
        c.close_socket()
    wait_until(lambda: origin_tunnels(adm, "ws1") == 0 and origin_tunnels(adm, "ws2") == 0, 5,
               what="tunnel counts back to 0")
    assert all(v == 0 for v in metric_tunnels(adm).values())


def test_5000_concurrent_tunnels(procs, tmp_path):
    """5,000 tunnels open at once, each echoing its own message exactly; /v1/pools and /metrics
    count them all while open and 0 after the clients go away."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 12000:
        pytest.skip("RLIMIT_NOFILE hard limit %d < 12000: not enough sockets for 5,000 tunnels" % hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # inherited by meridian and the origin
    n = 5000
    o = WsOriginProcess(tmp_path, "ws1").start()
    procs.items.append(o)
    adm_cfg, adm = Admin.make(tmp_path)
    m = procs.meridian(ws_config([o], adm_cfg, workers=2))
    adm.wait_up()
    many = ManyTunnels(m.port, n, "/many")
    try:
        took = many.open_and_echo(timeout=30)
        print("opened and echoed %d tunnels in %.1fs" % (many.count("open"), took))
        assert many.count("open") == n, "only %d of %d tunnels open; failures: %r" % (
            many.count("open"), n, many.failures())
        assert origin_tunnels(adm) == n
        assert int(metric_tunnels(adm)["ws1"]) == n
        assert o.stats["open_ws"] == n
    finally:
        many.close_all()
    wait_until(lambda: origin_tunnels(adm) == 0, 15, what="tunnels back to 0 after 5,000 clients left")
    assert int(metric_tunnels(adm)["ws1"]) == 0
    wait_until(lambda: o.stats["open_ws"] == 0, 15, what="the origin's side of the tunnels to close")


# ---------------------------------------------------------------------------
# the gateway speaking WebSocket itself

def test_auto_response(procs, tmp_path):
    """On a route with websocket.auto_response, a text frame "ping" gets "pong" from the gateway
    and never reaches the origin; other messages are relayed; a client ping frame is answered
    with a pong by the gateway. Routes without the rule relay "ping" to the origin."""
    origins = [ws_origin(procs, "ws1")]
    m = procs.meridian(ws_config(origins, lb={"rules": [AUTO_RULE]}))
    o = origins[0]
    c = WsClient.connect(m.port, "/socket/x")
    for _ in range(3):
        assert c.echo(OP_TEXT, "ping") == (OP_TEXT, b"pong")
    assert c.echo(OP_TEXT, "hello") == (OP_TEXT, b"hello")
    assert c.echo(OP_TEXT, "pingpong") == (OP_TEXT, b"pingpong")
    assert c.echo(OP_BIN, b"ping") == (OP_BIN, b"ping"), "a binary 'ping' is not the text trigger"
    c.ping(b"hb")
    assert c.recv_message() == (OP_PONG, b"hb")
    # a fragmented message on this route is relayed whole
    assert c.echo(OP_TEXT, "abcdef" * 1000, fragments=4) == (OP_TEXT, b"abcdef" * 1000)
    time.sleep(0.2)
    st = o.stats
    assert "ping" not in st["texts"], st["texts"]
    assert "hello" in st["texts"] and "pingpong" in st["texts"]
    assert st["pings"] == 0, "the client's ping frame reached the origin"

    other = WsClient.connect(m.port, "/plain")
    assert other.echo(OP_TEXT, "ping") == (OP_TEXT, b"ping")
    wait_until(lambda: "ping" in o.stats["texts"], 2, what="'ping' relayed on a route without the rule")


def test_malformed_frames_close_only_that_connection(procs, tmp_path):
    """On an auto_response route (where the gateway parses frames) an unmasked client frame, or
    one with reserved bits set, is answered by the gateway itself (the origin never parses it)
    with close 1002 and that connection ends; another tunnel keeps working."""
    origins = [ws_origin(procs, "ws1")]
    m = procs.meridian(ws_config(origins, lb={"rules": [AUTO_RULE]}))
    good = WsClient.connect(m.port, "/socket/good")
    assert good.echo(OP_TEXT, "before") == (OP_TEXT, b"before")
    for bad in ({"mask": False}, {"rsv": 4}, {"rsv": 1}):
        c = WsClient.connect(m.port, "/socket/bad")
        c.send_frame(OP_TEXT, b"hello", **bad)
        try:
            code, _ = c.recv_close(timeout=5)
        except WsClosed:
            pytest.fail("%r: connection ended without a close frame (expected 1002)" % bad)
        assert code == 1002, "%r -> close code %s" % (bad, code)
        assert c.wait_eof(5), "%r: connection not closed after 1002" % bad
        assert origins[0].stats["protocol_errors"] == 0, "%r: the origin, not the gateway, sent 1002" % bad
        assert good.echo(OP_TEXT, "after %r" % bad) == (OP_TEXT, b"after %r" % bad)
    assert good.echo(OP_TEXT, "ping") == (OP_TEXT, b"pong")


def test_auto_response_split_batched_and_early_frames(procs, tmp_path):
    """The gateway's frame filter across read boundaries: a "ping" text frame and a ping frame
    sent one byte at a time are answered; frames sent in the same packet as the upgrade are
    answered after the 101; 3,000 text "ping"s and 3,000 ping frames in one 60 KiB burst get
    6,000 answers in order (the reply buffer fills and the client's frames wait), and the text
    after them reaches the origin and is echoed. The origin sees none of the answered frames."""
    origins = [ws_origin(procs, "ws1")]
    m = procs.meridian(ws_config(origins, lb={"rules": [AUTO_RULE]}))
    o = origins[0]
    c = WsClient.connect(m.port, "/socket/slow")
    for f in (build_frame(OP_TEXT, b"ping"), build_frame(OP_PING, b"beat")):
        for i in range(len(f)):
            c.send_raw(f[i:i + 1])
            time.sleep(0.01)
    assert c.recv_message() == (OP_TEXT, b"pong")
    assert c.recv_message() == (OP_PONG, b"beat")
    # a 5-byte text ("pings") is not the 4-byte request, a 4-byte one that differs is relayed
    assert c.echo(OP_TEXT, "pings") == (OP_TEXT, b"pings")
    assert c.echo(OP_TEXT, "pong") == (OP_TEXT, b"pong")

    conn = WsClient.open_conn(m.port)
    conn.send(upgrade_request("/socket/early") + build_frame(OP_TEXT, b"ping") +
              build_frame(OP_PING, b"early") + build_frame(OP_TEXT, b"hi origin"))
    r = conn.read_response()
    assert r.status == 101, r
    early = WsClient(conn, r)
    assert early.recv_message() == (OP_TEXT, b"pong")
    assert early.recv_message() == (OP_PONG, b"early")
    assert early.recv_message() == (OP_TEXT, b"hi origin")

    burst = bytearray()
    for i in range(3000):
        burst += build_frame(OP_TEXT, b"ping")
        burst += build_frame(OP_PING, b"%d" % i)
    burst += build_frame(OP_TEXT, b"after the burst")
    c.send_raw(bytes(burst))
    for i in range(3000):
        assert c.recv_message() == (OP_TEXT, b"pong"), i
        assert c.recv_message() == (OP_PONG, b"%d" % i), i
    assert c.recv_message() == (OP_TEXT, b"after the burst")
    time.sleep(0.2)
    st = o.stats
    assert "ping" not in st["texts"] and st["pings"] == 0, (st["pings"], st["texts"][-5:])
    assert "after the burst" in st["texts"] and "hi origin" in st["texts"]


def test_auto_response_only_between_origin_frames(procs, tmp_path):
    """While the origin sends an 8 MiB frame, the gateway's answers to the client's pings wait
    for the frame's end: the client gets the big frame intact and every answer whole."""
    origins = [ws_origin(procs, "ws1")]
    m = procs.meridian(ws_config(origins, lb={"rules": [AUTO_RULE]}))
    c = WsClient.connect(m.port, "/socket/big")
    c.conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    n = 8 * 1024 * 1024  # more than the kernel buffers between the gateway and the client
    c.send_text("big:%d" % n)
    time.sleep(0.3)  # the client does not read: the frame stalls half way, the gateway blocked
    for _ in range(20):
        c.send_frame(OP_TEXT, b"ping")
        c.send_frame(OP_PING, b"hb")
    got = [c.recv_message(timeout=20) for _ in range(41)]
    big = [g for g in got if g[0] == OP_BIN]
    assert len(big) == 1 and big[0][1] == big_payload(n), [(op, len(d)) for op, d in got]
    assert sum(1 for g in got if g == (OP_TEXT, b"pong")) == 20
    assert sum(1 for g in got if g == (OP_PONG, b"hb")) == 20


def test_auto_response_liveness_in_admin_and_metrics(procs, tmp_path):
    """Each answer counts in /v1/pools (ws_answered, ws_last_answer_ms: when the gateway last
    answered, a liveness signal while the origin sees nothing) and in /metrics."""
    origins = [ws_origin(procs, "ws1")]
    adm_cfg, adm = Admin.make(tmp_path)
    m = procs.meridian(ws_config(origins, adm_cfg, lb={"rules": [AUTO_RULE]}))
    adm.wait_up()
    org = adm.origin("p1", "ws1")
    assert org["ws_answered"] == 0 and org["ws_last_answer_ms"] is None, org
    c = WsClient.connect(m.port, "/socket/live")
    t0 = time.time()
    for _ in range(3):
        assert c.echo(OP_TEXT, "ping") == (OP_TEXT, b"pong")
    c.ping(b"x")
    assert c.recv_message() == (OP_PONG, b"x")
    assert c.echo(OP_TEXT, "relayed") == (OP_TEXT, b"relayed")
    org = adm.origin("p1", "ws1")
    assert org["ws_answered"] == 4, org
    assert abs(org["ws_last_answer_ms"] / 1000.0 - t0) < 5, (org["ws_last_answer_ms"], t0)
    text = adm.call("GET", "/metrics").text
    line = [ln for ln in text.split("\n") if ln.startswith("meridian_websocket_answered_total{")]
    assert len(line) == 1 and line[0].endswith(" 4"), line
    ts = [ln for ln in text.split("\n")
          if ln.startswith("meridian_websocket_last_answer_timestamp_seconds{")]
    assert len(ts) == 1 and abs(float(ts[0].rsplit(" ", 1)[1]) - t0) < 5, ts


@pytest.mark.parametrize("path,why", [
    ("/x/bad101-noaccept", "lacks a well-formed Sec-WebSocket-Accept"),
    ("/x/bad101-noconn", "lacks Connection: upgrade"),
])
def test_malformed_101_is_502(procs, tmp_path, path, why):
    """An origin whose 101 lacks Sec-WebSocket-Accept or Connection: upgrade is not trusted
    with a tunnel: the client gets 502 naming the reason, and no tunnel is counted."""
    m, (o,), adm = ws_setup(procs, tmp_path, admin=True)
    c = WsClient.connect(m.port, path, check=False)
    assert c.response.status == 502, c.response
    assert why in c.response.body.decode(), c.response.body
    assert origin_tunnels(adm) == 0


def test_extension_rsv_bits_follow_the_101(procs, tmp_path):
    """On an auto_response route the frame checks allow RSV1 only when the origin's 101
    accepted permessage-deflate: then a compressed frame passes (and a compressed "ping" is
    not answered by the gateway); without the extension the same frame gets 1002."""
    origins = [ws_origin(procs, "ws1")]
    m = procs.meridian(ws_config(origins, lb={"rules": [AUTO_RULE]}))
    c = WsClient.connect(m.port, "/socket/deflate")
    assert c.response.header("Sec-WebSocket-Extensions") == "permessage-deflate"
    c.send_frame(OP_TEXT, b"ping", rsv=4)
    c.send_frame(OP_TEXT, b"after")
    assert c.recv_message() == (OP_TEXT, b"ping"), "the compressed frame went to the origin"
    assert c.recv_message() == (OP_TEXT, b"after")
    assert origins[0].stats["protocol_errors"] == 0
    plain = WsClient.connect(m.port, "/socket/plain")
    plain.send_frame(OP_TEXT, b"ping", rsv=4)
    assert plain.recv_close(timeout=5)[0] == 1002


@pytest.mark.parametrize("bad", [
    pytest.param(build_frame(OP_PING, b"x" * 126), id="control-over-125"),
    pytest.param(build_frame(OP_PING, b"x", fin=False), id="fragmented-control"),
    pytest.param(build_frame(0x3, b"x"), id="reserved-opcode"),
    pytest.param(build_frame(0x0, b"x"), id="continuation-without-message"),
    pytest.param(b"\x81\xff\x80\x00\x00\x00\x00\x00\x00\x00", id="length-top-bit"),
])
def test_malformed_frame_after_good_ones(procs, tmp_path, bad):
    """On an auto_response route, frames before a malformed one still reach the origin; the
    malformed one does not, and the client gets 1002 from the gateway, then the end."""
    origins = [ws_origin(procs, "ws1")]
    m = procs.meridian(ws_config(origins, lb={"rules": [AUTO_RULE]}))
    c = WsClient.connect(m.port, "/socket/mixed")
    c.send_raw(build_frame(OP_TEXT, b"before the bad frame") + bad)
    code, _ = c.recv_close(timeout=5)
    assert code == 1002
    assert c.wait_eof(5)
    wait_until(lambda: "before the bad frame" in origins[0].stats["texts"], 3,
               what="the good frame to reach the origin")
    assert origins[0].stats["protocol_errors"] == 0
    assert origins[0].stats["messages"] == 1


# ---------------------------------------------------------------------------
# closing tunnels from the gateway

@pytest.mark.parametrize("patch", [{"enabled": False}, {"drain": True}], ids=["disable", "drain"])
def test_origin_down_closes_its_tunnels_paced_with_1012(procs, tmp_path, patch):
    """websocket.on_origin_down close, close_rate 50: disabling (or draining) an origin through
    the admin API closes each of its 200 tunnels with 1012, paced over ~3-4 s rather than all at
    once; the other origin's tunnels stay open and working, and /v1/pools counts 0 for it after."""
    m, (o1, o2), adm = ws_setup(procs, tmp_path, n=2, admin=True,
                             lb={"websocket": {"on_origin_down": "close", "close_rate": 50}})
    many = ManyTunnels(m.port, 400, "/down")
    try:
        many.open_and_echo(timeout=20)
        assert many.count("open") == 400, many.failures()
        on1 = [t for t in many.tuns if t.origin == "ws1"]
        on2 = [t for t in many.tuns if t.origin == "ws2"]
        assert len(on1) == 200 and len(on2) == 200, (len(on1), len(on2))
        t0 = time.monotonic()
        r = adm.patch_origin("p1", "ws1", patch)
        assert r.status == 200, r
        many._run(lambda: all(t.state != "open" for t in on1), t0 + 12)
        still = [t for t in on1 if t.state == "open"]
        assert not still, "%d tunnels of the origin still open 12 s after %r" % (len(still), patch)
        codes = {t.close_code for t in on1}
        assert codes == {1012}, "close codes seen: %r (states %r)" % (codes, {t.state for t in on1})
        times = sorted(t.t_close - t0 for t in on1)
        spread = times[-1] - times[0]
        first_second = sum(1 for x in times if x - times[0] < 1.0)
        print("1012 closes: first %.2fs, last %.2fs, spread %.2fs, %d in the first second"
              % (times[0], times[-1], spread, first_second))
        assert 2.0 <= spread <= 8.0, "200 closes at 50/s spread over %.2fs" % spread
        assert first_second <= 110, "%d closes in the first second at close_rate 50" % first_second
        assert all(t.state == "open" for t in on2), "tunnels of the healthy origin were closed"
        wait_until(lambda: origin_tunnels(adm, "ws1") == 0, 5, what="ws1's tunnel count to reach 0")
        assert origin_tunnels(adm, "ws2") == 200
    finally:
        many.close_all()
    c = WsClient.connect(m.port, "/after")
    assert c.response.header("X-Origin") == "ws2"


def test_sigterm_sends_1001(procs, tmp_path):
    """SIGTERM closes every open tunnel with code 1001 and meridian exits 0."""
    m, (o,), _ = ws_setup(procs, tmp_path)
    cs = [WsClient.connect(m.port, "/bye%d" % i) for i in range(5)]
    for c in cs:
        assert c.echo(OP_TEXT, "x") == (OP_TEXT, b"x")
    m.send_signal(signal.SIGTERM)
    for c in cs:
        code, _ = c.recv_close(timeout=10)
        assert code == 1001, code
        c.close(1001)
    assert m.stop(timeout=15) == 0
