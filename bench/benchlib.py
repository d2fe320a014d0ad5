"""What the Python benchmarks share: an admin API call and a process's
CPU time. Standard library only; each bench imports it from beside itself."""
import json
import os
import urllib.error
import urllib.request


def admin_call(base, token, method, path, body=None, timeout=60):
    """<method> <base><path> with a Bearer token and a JSON body: (status, raw body)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Authorization", "Bearer " + token)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def cpu_times(pid):
    """(user, system) seconds of process <pid> so far, from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tck = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tck, int(fields[12]) / tck
