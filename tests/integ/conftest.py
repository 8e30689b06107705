"""Fixtures for Meridian's real-process integration tests.

Run: MERIDIAN_BIN=$PWD/build/meridian /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/integ
"""
import os

import pytest

from integ_util import MERIDIAN_BIN, Meridian, Origin, OriginProcess


def pytest_collection_modifyitems(config, items):
    if os.path.isfile(MERIDIAN_BIN) and os.access(MERIDIAN_BIN, os.X_OK):
        return
    skip = pytest.mark.skip(reason="MERIDIAN_BIN=%s does not exist or is not executable; "
                                   "build it with `make` (or set MERIDIAN_BIN)" % MERIDIAN_BIN)
    for item in items:
        item.add_marker(skip)


class _Factory:
    def __init__(self, tmp_path_factory, label):
        self.tmp = tmp_path_factory
        self.label = label
        self.items = []

    def meridian(self, cfg, start=True, **kw):
        d = self.tmp.mktemp(self.label)
        m = Meridian(d, cfg, **kw)
        self.items.append(m)
        if start:
            m.start()
        return m

    def origin(self, name="origin", **kw):
        """kw: keepalive_timeout, health_status, health_body, delay_ms (see tools/origin.py)."""
        o = Origin(name=name, **kw).start()
        self.items.append(o)
        return o

    def origin_process(self, name="origin", **kw):
        """kw: port, keepalive_timeout, health_status, delay_ms (see integ_util.OriginProcess)."""
        o = OriginProcess(self.tmp.mktemp("origin"), name=name, **kw).start()
        self.items.append(o)
        return o

    def cleanup(self):
        for it in reversed(self.items):
            try:
                if isinstance(it, Meridian):
                    it.kill()
                elif isinstance(it, Origin):
                    it.stop()
                else:
                    it.kill()
            except Exception:  # noqa: BLE001
                pass
        self.items.clear()


@pytest.fixture
def procs(tmp_path_factory):
    """Per-test factory: procs.meridian(cfg), procs.origin(name, **kw), procs.origin_process(name, **kw)."""
    f = _Factory(tmp_path_factory, "m")
    yield f
    try:
        for it in f.items:  # "no crash ever": still alive and answering at the end of the test
            if isinstance(it, Meridian) and not it.stopped and not it.expect_dead:
                it.check_alive()
    finally:
        f.cleanup()


@pytest.fixture(scope="module")
def mprocs(tmp_path_factory):
    """Per-module factory (same API) for processes shared by a module's tests."""
    f = _Factory(tmp_path_factory, "mm")
    yield f
    f.cleanup()


@pytest.fixture
def origin(procs):
    return procs.origin("o1")


@pytest.fixture
def origin2(procs):
    return procs.origin("o2")


@pytest.fixture(autouse=True)
def _no_crash(request):
    """After every test, every meridian still expected to run must be alive and answering."""
    yield
    for m in list(Meridian.live):
        if m.stopped or m.expect_dead:
            continue
        m.check_alive()
