"""Global load balancing, safe retries: a request is replayed on another origin only when that
is safe (never sent, or idempotent with no response yet), and the access log says so."""
import os

from integ_util import access_log_file, closed_port, lb_config, lb_pool, request, wait_until

BODY = b"payload-" * 128  # 1 KiB


def _meridian(procs, tmp_path, entries):
    log = os.path.join(str(tmp_path), "access.log")
    m = procs.meridian(lb_config({"p1": lb_pool(entries, "round_robin")}, log={"access": log},
                                 lb={"retries": {"attempts": 2, "budget_percent": 100}}))
    return m, log


def _entry(log, path_part, count=1):
    def got():
        es = [e for e in access_log_file(log) if path_part in (e.get("path") or "")]
        return es if len(es) >= count else None
    return wait_until(got, 5, what="access log entries for %s" % path_part)


def _reason(e):
    return e.get("error") or e.get("retry_reason") or e.get("reason")


def _seen(o, tag):
    return sum(1 for p in o.stats["paths"] if tag in p)


def test_post_dying_after_body_is_not_replayed(procs, tmp_path):
    """A POST whose origin reads the whole body and then dies without answering is not replayed
    (the origin may have acted on it): the client gets 502 and exactly one origin saw it."""
    a, b = procs.origin("ra"), procs.origin("rb")
    m, log = _meridian(procs, tmp_path, [("ra", a.port), ("rb", b.port)])
    hit = None
    for n in range(6):  # round robin: one of the first tries starts at ra
        tag = "post%d" % n
        r = request(m.port, "POST", "/readbody_then_die?only=ra&t=" + tag, body=BODY)
        if _seen(a, tag):
            hit = (tag, r)
            break
        assert r.status == 200 and r.header("X-Origin") == "rb", r
    assert hit, "no POST reached origin ra"
    tag, r = hit
    assert r.status == 502, "a POST that died after its body was sent got %r" % r
    assert _seen(a, tag) == 1 and _seen(b, tag) == 0, "the POST was replayed"
    (e,) = _entry(log, "t=" + tag)
    assert e["status"] == 502 and e.get("retries") == 0, e


def test_get_dying_after_request_is_retried(procs, tmp_path):
    """A GET whose origin dies after reading it, before any response byte, is retried on another
    origin: the client gets 200, and the access log line has "retries": 1 and a reason."""
    a, b = procs.origin("ga"), procs.origin("gb")
    m, log = _meridian(procs, tmp_path, [("ga", a.port), ("gb", b.port)])
    retried = []
    for n in range(6):
        tag = "get%d" % n
        r = request(m.port, "GET", "/readbody_then_die?only=ga&t=" + tag)
        assert r.status == 200 and r.header("X-Origin") == "gb", r
        if _seen(a, tag):
            assert _seen(b, tag) == 1
            retried.append(tag)
    assert retried, "no GET reached origin ga first"
    for tag in retried:
        (e,) = _entry(log, "t=" + tag)
        assert e["status"] == 200 and e.get("retries") == 1, e
        assert _reason(e), "retried request has no error/reason in the access log: %r" % e
        # docs/load-balancing.md: retry_reason is "pool/origin: why (state)"
        assert "p1/ga" in e.get("retry_reason", "") and "sent_no_response" in e["retry_reason"], e


def test_connect_refused_is_retried_even_for_post(procs, tmp_path):
    """Connect refused means the request was never sent, so even a POST (with its body) is
    replayed on another origin: every client gets 200 with the whole body delivered, and the
    retried ones are logged with "retries": 1 and an error/reason."""
    b = procs.origin("cb")
    m, log = _meridian(procs, tmp_path, [("dead", closed_port()), ("cb", b.port)])
    for n in range(8):
        r = request(m.port, "POST", "/echo?t=cr%d" % n, body=BODY)
        assert r.status == 200, r
        j = r.json()
        assert j["name"] == "cb" and j["body_len"] == len(BODY)
    es = _entry(log, "t=cr", 8)
    retried = [e for e in es if e.get("retries") == 1]
    assert retried, "no request was logged as retried: %r" % es
    for e in retried:
        assert e["status"] == 200 and _reason(e), e
        assert "p1/dead" in e.get("retry_reason", "") and "not_sent" in e["retry_reason"], e
