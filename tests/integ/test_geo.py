"""Global load balancing, where the client is: geo steering from `geo.networks` (by source
address) and from a MaxMind-format .mmdb, proximity steering, and the geo headers origins see."""
import os
import shutil
import subprocess

import pytest

from integ_util import TOOLS, lb_config, lb_pool, request_from

SG = {"cidr": "127.0.0.2/32", "region": "SEAS", "country": "SG", "latitude": 1.35, "longitude": 103.82}
FR = {"cidr": "127.0.0.3/32", "region": "WEU", "country": "FR", "latitude": 48.86, "longitude": 2.35}


def _echo(port, source, host="test.example", headers=()):
    r = request_from(port, source, target="/echo", host=host, headers=headers)
    assert r.status == 200, r
    return r.json()


def _hdrs(info, name):
    return [v for k, v in info["headers"] if k.lower() == name.lower()]


def test_geo_steering_by_source_address(procs):
    """steering_policy geo with region_pools: a client at 127.0.0.2 (networks: SEAS/SG) lands on
    the asia pool, one at 127.0.0.3 (WEU/FR) on the eu pool, an unknown one on default_pools;
    origins get Meridian-Client-Country / -Region, and a client cannot forge them."""
    asia, eu, other = procs.origin("asia-1"), procs.origin("eu-1"), procs.origin("other-1")
    pools = {"other": lb_pool([("other-1", other.port)]), "asia": lb_pool([("asia-1", asia.port)]),
             "eu": lb_pool([("eu-1", eu.port)])}
    m = procs.meridian(lb_config(pools, geo={"networks": [SG, FR]},
                                 lb={"default_pools": ["other"], "steering_policy": "geo",
                                     "region_pools": {"SEAS": ["asia"], "WEU": ["eu"]}}))
    for _ in range(5):
        i = _echo(m.port, "127.0.0.2")
        assert i["name"] == "asia-1"
        assert _hdrs(i, "Meridian-Client-Country") == ["SG"]
        assert _hdrs(i, "Meridian-Client-Region") == ["SEAS"]
        i = _echo(m.port, "127.0.0.3")
        assert i["name"] == "eu-1"
        assert _hdrs(i, "Meridian-Client-Country") == ["FR"]
        assert _hdrs(i, "Meridian-Client-Region") == ["WEU"]
        i = _echo(m.port, "127.0.0.1")
        assert i["name"] == "other-1"
        assert _hdrs(i, "Meridian-Client-Country") == [] and _hdrs(i, "Meridian-Client-Region") == []
    # client-sent geo headers are not passed on as if geo had said so
    i = _echo(m.port, "127.0.0.2", headers=[("Meridian-Client-Country", "XX"), ("Meridian-Client-Region", "OC")])
    assert _hdrs(i, "Meridian-Client-Country") == ["SG"] and _hdrs(i, "Meridian-Client-Region") == ["SEAS"]
    i = _echo(m.port, "127.0.0.1", headers=[("Meridian-Client-Country", "XX")])
    assert _hdrs(i, "Meridian-Client-Country") == []


def _mkmmdb(tmp_path, *entries):
    script = os.path.join(TOOLS, "mkmmdb.pl")
    if not os.path.isfile(script):
        pytest.skip("tools/mkmmdb.pl is missing (it builds the test .mmdb)")
    if not shutil.which("perl"):
        pytest.skip("perl is not installed (tools/mkmmdb.pl needs it)")
    out = str(tmp_path / "test.mmdb")
    r = subprocess.run(["perl", script, out] + list(entries), capture_output=True, timeout=60)
    if r.returncode != 0 and b"Can't locate MaxMind" in r.stderr:
        pytest.skip("perl module MaxMind::DB::Writer is missing (Debian: libmaxmind-db-writer-perl)")
    assert r.returncode == 0 and os.path.getsize(out) > 0, r.stderr.decode()
    return out


def test_geo_from_mmdb_country_and_region(procs, tmp_path):
    """With no networks entry for them, 127.0.0.5 (JP in the mmdb) and 127.0.0.6 (AU) are placed
    by the .mmdb: country_pools JP wins over region_pools; on a load balancer with only
    region_pools JP maps to NEAS and AU to OC (the built-in country -> region table)."""
    mmdb = _mkmmdb(tmp_path, "127.0.0.5/32=JP,35.68,139.69", "127.0.0.6/32=AU,-33.87,151.21")
    names = ["dflt", "jp", "neas", "oc"]
    os_ = {n: procs.origin(n + "-1") for n in names}
    pools = {n: lb_pool([(n + "-1", os_[n].port)]) for n in names}
    cfg = lb_config(pools, geo={"mmdb": mmdb, "networks": [SG]},
                    lb={"hostnames": ["countries.example"], "default_pools": ["dflt"],
                        "steering_policy": "geo", "country_pools": {"JP": ["jp"]},
                        "region_pools": {"NEAS": ["neas"], "OC": ["oc"]}})
    cfg["load_balancers"]["lb2"] = {"hostnames": ["regions.example"], "default_pools": ["dflt"],
                                    "steering_policy": "geo",
                                    "region_pools": {"NEAS": ["neas"], "OC": ["oc"]}}
    m = procs.meridian(cfg)
    i = _echo(m.port, "127.0.0.5", host="countries.example")
    assert i["name"] == "jp-1"
    assert _hdrs(i, "Meridian-Client-Country") == ["JP"] and _hdrs(i, "Meridian-Client-Region") == ["NEAS"]
    i = _echo(m.port, "127.0.0.6", host="countries.example")
    assert i["name"] == "oc-1"
    assert _hdrs(i, "Meridian-Client-Country") == ["AU"] and _hdrs(i, "Meridian-Client-Region") == ["OC"]
    assert _echo(m.port, "127.0.0.5", host="regions.example")["name"] == "neas-1"
    assert _echo(m.port, "127.0.0.6", host="regions.example")["name"] == "oc-1"
    # not in the mmdb: default pools, no geo headers
    i = _echo(m.port, "127.0.0.7", host="countries.example")
    assert i["name"] == "dflt-1" and _hdrs(i, "Meridian-Client-Country") == []


def test_proximity_steering(procs):
    """steering_policy proximity: a client located in Paris (networks entry with coordinates)
    lands on the Paris pool and one in Singapore on the Singapore pool, although another pool
    comes first in default_pools."""
    names = {"virginia": (38.9, -77.04), "paris": (48.86, 2.35), "singapore": (1.35, 103.82)}
    os_ = {n: procs.origin(n + "-1") for n in names}
    pools = {n: lb_pool([(n + "-1", os_[n].port)], latitude=lat, longitude=lon)
             for n, (lat, lon) in names.items()}
    # positions only (no region/country): proximity must use the coordinates
    near_sg = {"cidr": "127.0.0.2/32", "latitude": 1.29, "longitude": 103.85}
    near_paris = {"cidr": "127.0.0.3/32", "latitude": 48.85, "longitude": 2.29}
    m = procs.meridian(lb_config(pools, geo={"networks": [near_sg, near_paris]},
                                 lb={"default_pools": ["virginia", "paris", "singapore"],
                                     "steering_policy": "proximity"}))
    for _ in range(5):
        assert _echo(m.port, "127.0.0.3")["name"] == "paris-1"
        assert _echo(m.port, "127.0.0.2")["name"] == "singapore-1"
