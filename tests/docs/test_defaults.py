"""docs/configuration.md states the same defaults as src/proxy/defaults.h.

The header is the one list the config loader and the proxies use; this
keeps the user guide from drifting away from it."""
import os
import re
import sys
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# macro -> (section heading in configuration.md, key in its table, unit)
DOCUMENTED = {
    "SL_DEFAULT_CONNECT_TIMEOUT_MS": ("services", "timeouts.connect", "ms"),
    "SL_DEFAULT_RESPONSE_TIMEOUT_MS": ("services", "timeouts.response", "ms"),
    "SL_DEFAULT_IDLE_TIMEOUT_MS": ("services", "timeouts.idle", "ms"),
    "SL_DEFAULT_RETRIES": ("services", "retries", "int"),
    "SL_DEFAULT_QUEUE_TIMEOUT_MS": ("services", "queue_timeout", "ms"),
    "SL_DEFAULT_HEADER_TIMEOUT_MS": ("listeners", "timeouts.header", "ms"),
    "SL_DEFAULT_CLIENT_IDLE_TIMEOUT_MS": ("listeners", "timeouts.idle", "ms"),
    "SL_DEFAULT_MAX_HEADER_SIZE": ("listeners", "max_header_size", "size"),
    "SL_DEFAULT_BODY_TIMEOUT_MS": ("listeners", "timeouts.body", "ms"),
    "SL_DEFAULT_MIN_BODY_RATE": ("listeners", "min_body_rate", "int"),
    "SL_DEFAULT_BUFFER_REQUEST_BODY": ("services", "buffer_request_body", "int"),
    "SL_DEFAULT_HEALTH_INTERVAL_MS": ("health", "interval", "ms"),
    "SL_DEFAULT_HEALTH_TIMEOUT_MS": ("health", "timeout", "ms"),
    "SL_DEFAULT_HEALTH_PATH": ("health", "path", "str"),
    "SL_DEFAULT_HEALTH_METHOD": ("health", "method", "str"),
    "SL_DEFAULT_PANIC_THRESHOLD": ("services", "panic_threshold", "int"),
    "SL_DEFAULT_SLOW_START_MS": ("services", "slow_start", "ms"),
    "SL_DEFAULT_EJECT_MS": ("passive", "eject", "ms"),
    "SL_DEFAULT_EJECT_MAX_MS": ("passive", "eject_max", "ms"),
    "SL_DEFAULT_DRAIN_TIMEOUT_MS": ("top level", "drain_timeout", "ms"),
    "SL_DEFAULT_AGENT_LEASE_MS": ("agents", "lease", "ms"),
    "SL_DEFAULT_AGENT_EXPIRE_MS": ("agents", "expire", "ms"),
}


def macros():
    text = open(os.path.join(ROOT, "src/proxy/defaults.h")).read()
    out = {}
    for name, value in re.findall(r"#define\s+(SL_DEFAULT_\w+)\s+(\"[^\"]*\"|\d+)u?", text):
        out[name] = value.strip('"') if value.startswith('"') else int(value)
    return out


def doc_tables():
    """{section: {key: default}} from the guide's `| key | default | ...` tables."""
    tables, section = {}, None
    for line in open(os.path.join(ROOT, "docs/configuration.md")):
        m = re.match(r"#+\s+(.*)", line)
        if m:
            section = m.group(1).strip().strip("`").lower()
            continue
        m = re.match(r"\|\s*`([^`]+)`\s*\|\s*([^|]*)\|", line)
        if m and section:
            tables.setdefault(section, {})[m.group(1)] = m.group(2).strip().strip("`")
    return tables


def parsed(text, unit):
    """The guide's spelling (`60s`, `5m`, `16k`) as the header's number."""
    if unit in ("str", "int"):
        return text if unit == "str" else int(text)
    m = re.fullmatch(r"(\d+)(ms|s|m|h|k|m)?", text)
    if not m:
        raise AssertionError("cannot read %r as a %s" % (text, unit))
    n, suffix = int(m.group(1)), m.group(2) or ""
    scale = {"ms": {"": 1, "ms": 1, "s": 1000, "m": 60000, "h": 3600000},
             "size": {"": 1, "k": 1024, "m": 1 << 20}}[unit]
    return n * scale[suffix]


class DefaultsDocumented(unittest.TestCase):
    def test_every_default_is_in_the_guide(self):
        have, tables = macros(), doc_tables()
        for name, (section, key, unit) in DOCUMENTED.items():
            with self.subTest(macro=name):
                self.assertIn(name, have, "defaults.h lost %s" % name)
                self.assertIn(section, tables, "no section %r in configuration.md" % section)
                self.assertIn(key, tables[section], "no row %r under %r" % (key, section))
                self.assertEqual(parsed(tables[section][key], unit), have[name])


if __name__ == "__main__":
    sys.exit(unittest.main())
