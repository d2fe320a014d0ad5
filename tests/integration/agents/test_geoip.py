"""agents.geoip_db: an agent that reports no location gets one from a
MaxMind DB lookup of its remote address; what it reports wins field by
field; a file libmaxminddb cannot read is refused by `sluice check`. The
DB is written by make_mmdb.pl (Debian: libmaxmind-db-writer-perl) with one
record, for 127.0.0.77: the test's client binds to that address."""
import http.client
import json
import os
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from sluicetest import (SluiceCase, backend_entry, config, endpoint, free_port,  # noqa: E402
                        http_listener, main, route, run_cli, service)

AGENT_IP = "127.0.0.77"  # the DB's one record
OTHER_IP = "127.0.0.1"   # none


def make_mmdb(path, city="Lyon"):
    """None when written; the reason when the perl module cannot load."""
    p = subprocess.run(["perl", os.path.join(HERE, "make_mmdb.pl"), path, city],
                       capture_output=True, timeout=60)
    if p.returncode == 2:
        return p.stderr.decode("utf-8", "replace").strip()
    if p.returncode != 0:
        raise AssertionError("make_mmdb.pl failed: %s" % p.stderr.decode("utf-8", "replace"))
    return None


def call_from(ip, port, token, method, path, body=None):
    """One request over a connection whose source address is <ip>."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(ip, 0))
    try:
        h = {"Authorization": "Bearer " + token}
        if body is not None:
            body = json.dumps(body)
            h["Content-Type"] = "application/json"
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        raw = r.read()
        return r.status, json.loads(raw) if raw else None
    finally:
        c.close()


class TestGeoip(SluiceCase):
    def setUp(self):
        super().setUp()
        self.mmdb = os.path.join(self.tmp, "geo.mmdb")
        why = make_mmdb(self.mmdb)
        if why is not None:
            self.skipTest("cannot build the test MMDB (install libmaxmind-db-writer-perl): " + why)

    def cfg(self, geoip_db):
        self.static = self.backend("static1")
        svc = service([backend_entry("static1", self.static.port)], panic_threshold=0)
        cfg = config([http_listener(free_port())], {"app": svc}, [endpoint("/", [route("app")])],
                     agents={"lease": "5s", "expire": "60s", "geoip_db": geoip_db})
        cfg["admin"] = {"bind": "127.0.0.1:%d" % free_port()}
        return cfg

    def start(self):
        # Relative: taken from the config file's directory, as state is.
        self.d = self.sluice(self.cfg("geo.mmdb"))
        self.admin_port = int(self.d.cfg["admin"]["bind"].rsplit(":", 1)[1])
        with open(os.path.join(self.d.workdir, "admin.token")) as f:
            self.root = f.read().strip()
        st, tok = call_from(OTHER_IP, self.admin_port, self.root, "POST", "/v1/tokens",
                            {"scope": "agent", "name": "geo"})
        self.assertEqual(st, 201, tok)
        self.tok = tok["token"]

    def register(self, ip, name, location=None):
        b = self.backend(name)
        body = {"service": "app", "name": name, "target": "127.0.0.1:%d" % b.port}
        if location is not None:
            body["location"] = location
        st, out = call_from(ip, self.admin_port, self.tok, "POST", "/v1/agents", body)
        self.assertEqual(st, 201, out)

    def locations(self, name):
        st, q = call_from(OTHER_IP, self.admin_port, self.root, "GET", "/v1/query")
        self.assertEqual(st, 200, q)
        row = [b for b in q["backends"] if b["name"] == name]
        self.assertEqual(len(row), 1, q)
        st, hq = call_from(OTHER_IP, self.admin_port, self.root, "GET", "/q")
        self.assertEqual(st, 200, hq)
        qrow = [b for b in hq["Backends"] if b["ID"] == name]
        self.assertEqual(len(qrow), 1, hq)
        return row[0]["location"], qrow[0]["Location"]

    def test_lookup_fills_location(self):
        self.start()
        self.register(AGENT_IP, "geo1")
        loc, q = self.locations("geo1")
        self.assertEqual(loc, {"city": "Lyon", "country": "FR", "country_name": "France",
                               "continent": "EU", "continent_name": "Europe", "region": "ARA",
                               "region_name": "Auvergne-Rhone-Alpes", "lat": 45.75,
                               "lon": 4.85})
        self.assertEqual(q, {"Latitude": 45.75, "Longitude": 4.85, "CityName": "Lyon",
                             "CountryCode": "FR", "CountryName": "France",
                             "ContinentCode": "EU", "ContinentName": "Europe",
                             "RegionCode": "ARA", "RegionName": "Auvergne-Rhone-Alpes"})
        # An address without a record (loopback 127.0.0.1): no location.
        self.register(OTHER_IP, "geo2")
        loc, _ = self.locations("geo2")
        self.assertIsNone(loc)

    def test_reported_fields_win(self):
        self.start()
        self.register(AGENT_IP, "geo3", {"city": "Villeurbanne", "lat": 45.77})
        loc, q = self.locations("geo3")
        self.assertEqual(loc["city"], "Villeurbanne")
        self.assertEqual(loc["lat"], 45.77)
        self.assertEqual(loc["lon"], 4.85)  # from the DB
        self.assertEqual(loc["country"], "FR")
        self.assertEqual(q["CityName"], "Villeurbanne")
        self.assertEqual(q["Latitude"], 45.77)
        self.assertEqual(q["CountryName"], "France")

    def test_reload_swaps_db(self):
        self.start()
        self.register(AGENT_IP, "geo4")
        # Written aside and renamed in: the daemon never reads half a file.
        nxt = os.path.join(self.tmp, "next.mmdb")
        self.assertIsNone(make_mmdb(nxt, city="Grenoble"))
        os.replace(nxt, self.mmdb)
        self.d.reload()
        self.register(AGENT_IP, "geo5")
        self.assertEqual(self.locations("geo5")[0]["city"], "Grenoble")
        self.assertEqual(self.locations("geo4")[0]["city"], "Lyon")  # stored at registration
        # Garbage under a running daemon: the reload keeps the DB read
        # before (a warning), and registrations go on.
        with open(nxt, "wb") as f:
            f.write(b"garbage\n" * 50)
        os.replace(nxt, self.mmdb)
        self.d.reload()
        self.register(AGENT_IP, "geo6")
        self.assertEqual(self.locations("geo6")[0]["city"], "Grenoble")
        self.assertTrue(self.d.alive())
        self.assertIn("the DB read before stays in use", self.d.stderr())

    def test_check_refuses_garbage(self):
        bad = os.path.join(self.tmp, "bad.mmdb")
        with open(bad, "wb") as f:
            f.write(b"this is not a MaxMind DB\n" * 40)
        d = self.sluice(self.cfg(bad), start=False)
        rc, out, err = run_cli(["check", "-c", d.config_path])
        self.assertNotEqual(rc, 0, out + err)
        self.assertIn("agents.geoip_db", err)
        self.assertIn(bad, err)
        self.assertIn("invalid metadata", err.lower())
        self.assertRegex(err, r"%s:\d+:" % d.config_path)
        # A file that is not there: refused too, with the system's reason.
        d.write_config(self.cfg(os.path.join(self.tmp, "missing.mmdb")))
        rc, out, err = run_cli(["check", "-c", d.config_path])
        self.assertNotEqual(rc, 0, out + err)
        self.assertIn("No such file", err)


if __name__ == "__main__":
    main()
