"""Strict request framing: every ambiguous or malformed request gets 400 (or 505 for a bad
version), the connection is closed, and nothing reaches the origin."""
import time

import pytest

from integ_util import HttpConn, request, simple_config


@pytest.fixture(scope="module")
def env(mprocs):
    o = mprocs.origin("o1")
    m = mprocs.meridian(simple_config(("o1", o.port), limits={"header_timeout": "3s"}))
    return m, o


H = b"Host: a.example\r\n"

BAD = {
    # Content-Length and Transfer-Encoding together
    "cl_te": b"POST /echo HTTP/1.1\r\n" + H + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "te_cl": b"POST /echo HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
    # duplicate Content-Length
    "dup_cl_diff": b"POST /echo HTTP/1.1\r\n" + H + b"Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    "dup_cl_same": b"POST /echo HTTP/1.1\r\n" + H + b"Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
    # invalid Content-Length
    "cl_abc": b"POST /echo HTTP/1.1\r\n" + H + b"Content-Length: abc\r\n\r\n",
    "cl_neg": b"POST /echo HTTP/1.1\r\n" + H + b"Content-Length: -1\r\n\r\n",
    "cl_two_numbers": b"POST /echo HTTP/1.1\r\n" + H + b"Content-Length: 1 2\r\n\r\nx",
    "cl_plus": b"POST /echo HTTP/1.1\r\n" + H + b"Content-Length: +5\r\n\r\nhello",
    # transfer codings whose final coding is not chunked
    "te_gzip": b"POST /echo HTTP/1.1\r\n" + H + b"Transfer-Encoding: gzip\r\n\r\nhello",
    "te_chunked_gzip": b"POST /echo HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n",
    "te_chunked_then_gzip_lines": b"POST /echo HTTP/1.1\r\n" + H
                                  + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n0\r\n\r\n",
    "te_identity": b"POST /echo HTTP/1.1\r\n" + H + b"Transfer-Encoding: identity\r\n\r\nhello",
    "te_xchunked": b"POST /echo HTTP/1.1\r\n" + H + b"Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
    # obs-fold
    "obs_fold_space": b"GET /echo HTTP/1.1\r\n" + H + b"X-Foo: a\r\n b\r\n\r\n",
    "obs_fold_tab": b"GET /echo HTTP/1.1\r\n" + H + b"X-Foo: a\r\n\tb\r\n\r\n",
    # bare CR, NUL and other CTLs
    "bare_cr_value": b"GET /echo HTTP/1.1\r\n" + H + b"X-Foo: a\rb\r\n\r\n",
    "bare_cr_line_end": b"GET /echo HTTP/1.1\r\n" + H + b"X-Foo: a\r\rX-Bar: b\r\n\r\n",
    "nul_value": b"GET /echo HTTP/1.1\r\n" + H + b"X-Foo: a\x00b\r\n\r\n",
    "ctl_01_value": b"GET /echo HTTP/1.1\r\n" + H + b"X-Foo: a\x01b\r\n\r\n",
    "ctl_1f_value": b"GET /echo HTTP/1.1\r\n" + H + b"X-Foo: a\x1fb\r\n\r\n",
    "ctl_7f_value": b"GET /echo HTTP/1.1\r\n" + H + b"X-Foo: a\x7fb\r\n\r\n",
    "nul_name": b"GET /echo HTTP/1.1\r\n" + H + b"X-F\x00oo: a\r\n\r\n",
    # whitespace between field name and colon
    "space_before_colon": b"GET /echo HTTP/1.1\r\n" + H + b"X-Foo : a\r\n\r\n",
    "tab_before_colon": b"GET /echo HTTP/1.1\r\n" + H + b"X-Foo\t: a\r\n\r\n",
    "space_before_colon_cl": b"POST /echo HTTP/1.1\r\n" + H + b"Content-Length : 5\r\n\r\nhello",
    # Host
    "missing_host": b"GET /echo HTTP/1.1\r\nX-Foo: a\r\n\r\n",
    "two_hosts": b"GET /echo HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n",
    # request-target
    "target_relative": b"GET foo HTTP/1.1\r\n" + H + b"\r\n",
    "target_with_space": b"GET /a b HTTP/1.1\r\n" + H + b"\r\n",
    "target_asterisk_get": b"GET * HTTP/1.1\r\n" + H + b"\r\n",
    "options_relative": b"OPTIONS foo HTTP/1.1\r\n" + H + b"\r\n",
    # Connection naming framing headers
    "connection_content_length": b"POST /echo HTTP/1.1\r\n" + H + b"Connection: Content-Length\r\nContent-Length: 5\r\n\r\nhello",
    "connection_host": b"GET /echo HTTP/1.1\r\n" + H + b"Connection: host\r\n\r\n",
    "connection_transfer_encoding": b"POST /echo HTTP/1.1\r\n" + H
                                    + b"Connection: transfer-encoding\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    # malformed chunk sizes / endings
    "chunk_size_zz": b"POST /echo HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
    "chunk_size_overflow": b"POST /echo HTTP/1.1\r\n" + H
                           + b"Transfer-Encoding: chunked\r\n\r\n1000000000000000000000005\r\nhello\r\n0\r\n\r\n",
    "chunk_size_overflow_64": b"POST /echo HTTP/1.1\r\n" + H
                              + b"Transfer-Encoding: chunked\r\n\r\n10000000000000005\r\nhello\r\n0\r\n\r\n",
    "chunk_size_leading_space": b"POST /echo HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n 5\r\nhello\r\n0\r\n\r\n",
    "chunk_size_plus": b"POST /echo HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n+5\r\nhello\r\n0\r\n\r\n",
    "chunk_data_no_crlf": b"POST /echo HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n",
    "chunk_data_too_long": b"POST /echo HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n",
    # garbage
    "garbage_text": b"hello there, this is not http\r\n\r\n",
    "garbage_binary": b"\x00\x01\x02\x03\xff\xfe\xfd\r\n\r\n",
    "tls_client_hello": bytes.fromhex("16030100a5010000a10303") + b"\x00" * 32 + b"\r\n\r\n",
    "lf_only_request_line_junk": b"GET /echo HTTP/1.1 extra\r\n" + H + b"\r\n",
    "method_with_space_prefix": b" GET /echo HTTP/1.1\r\n" + H + b"\r\n",
    "header_without_colon": b"GET /echo HTTP/1.1\r\n" + H + b"NoColonHere\r\n\r\n",
    "empty_header_name": b"GET /echo HTTP/1.1\r\n" + H + b": value\r\n\r\n",
}

BAD_VERSION = {
    "http_2_0": b"GET /echo HTTP/2.0\r\n" + H + b"\r\n",
    "http_1_2": b"GET /echo HTTP/1.2\r\n" + H + b"\r\n",
    "http_3_0": b"GET /echo HTTP/3.0\r\n" + H + b"\r\n",
    "h2_preface": b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    "http_lowercase": b"GET /echo http/1.1\r\n" + H + b"\r\n",
}


def _bad_request(env, data, allowed):
    m, o = env
    before = o.stats["requests"]
    with HttpConn(m.port, timeout=5) as c:
        c.send(data)
        try:
            r = c.read_response(timeout=5)
        except Exception as e:  # noqa: BLE001
            raise AssertionError("no valid HTTP error response: %r" % e)
        assert r.status in allowed, "got %d %s, wanted %s; body %r" % (r.status, r.reason, allowed, r.body[:200])
        assert r.version == "HTTP/1.1"
        assert c.closed_within(3), "connection not closed after the error response"
    time.sleep(0.15)
    after = o.stats["requests"]
    assert after == before, "the request reached the origin (%d new requests: %r)" % (
        after - before, o.stats["paths"][-(after - before):])


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_request_400(env, case):
    _bad_request(env, BAD[case], {400})


@pytest.mark.parametrize("case", sorted(BAD_VERSION))
def test_bad_version(env, case):
    _bad_request(env, BAD_VERSION[case], {400, 505})


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_request_after_good_on_same_connection(env, case):
    """A good request first, then the bad one pipelined: good gets 200, bad gets 400 and close."""
    m, o = env
    if case.startswith(("garbage", "tls")) or case == "method_with_space_prefix":
        pytest.skip("not meaningful after a request")
    with HttpConn(m.port, timeout=5) as c:
        c.send(b"GET /echo?first HTTP/1.1\r\n" + H + b"\r\n")
        r = c.read_response()
        assert r.status == 200
        before = o.stats["requests"]
        c.send(BAD[case])
        r = c.read_response()
        assert r.status == 400, r
        assert c.closed_within(3)
    time.sleep(0.15)
    assert o.stats["requests"] == before


def test_good_controls(env):
    """Positive controls for the cases above: the valid forms are accepted."""
    m, _ = env
    r = request(m.port, "POST", "/echo", headers=[("Content-Length", "5")], body=b"hello")
    assert r.status == 200 and r.json()["body_len"] == 5
    r = request(m.port, "POST", "/echo", headers=[("Transfer-Encoding", "chunked")],
                body=b"5\r\nhello\r\n0\r\n\r\n")
    assert r.status == 200 and r.json()["body_len"] == 5
    r = request(m.port, "POST", "/echo", headers=[("Transfer-Encoding", "Chunked")],
                body=b"A\r\n0123456789\r\n0\r\n\r\n")
    assert r.status == 200 and r.json()["body_len"] == 10
    r = request(m.port, "GET", "/echo", headers=[("X-Tab", "a\tb"), ("X-Obs", "caf\xe9")])
    assert r.status == 200
    r = request(m.port, "GET", "/echo", headers=[("Connection", "keep-alive")])
    assert r.status == 200
