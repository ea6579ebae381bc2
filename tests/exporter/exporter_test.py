#!/usr/bin/python3
"""beanpole exporter end to end: two real beanstalkd servers on free loopback ports, the exporter
on a kernel-chosen loopback port, its /metrics parsed by a real Prometheus parser
(prometheus_client, Debian's python3-prometheus-client) and checked against the servers' own
stats. Then one server is stopped: beanstalkd_up drops to 0 and the endpoint still answers 200.

    exporter_test.py BEANPOLE BEANSTALKD
"""
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

BEANPOLE, BEANSTALKD = sys.argv[1], sys.argv[2]
procs = []


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_server():
    for _ in range(5):
        port = free_port()
        p = subprocess.Popen([BEANSTALKD, "-l", "127.0.0.1", "-p", str(port)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                procs.append(p)
                return p, "127.0.0.1:%d" % port
            except OSError:
                if p.poll() is not None:
                    break
                time.sleep(0.05)
        p.kill()
        p.wait()
    sys.exit("cannot start beanstalkd")


def command(addr, line):
    """One command over a raw socket; returns the body of an OK reply."""
    host, port = addr.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(line.encode() + b"\r\n")
        data = b""
        while b"\r\n" not in data:
            data += s.recv(65536)
        head, rest = data.split(b"\r\n", 1)
        if not head.startswith(b"OK "):
            return head.decode()
        size = int(head.split()[1])
        while len(rest) < size + 2:
            rest += s.recv(65536)
        return rest[:size].decode()


def stats(addr, line):
    out = {}
    for l in command(addr, line).splitlines()[1:]:
        k, v = l.split(": ", 1)
        out[k] = v.strip('"')
    return out


def bp(addr, *args, **kw):
    return subprocess.run([BEANPOLE, "-a", addr] + list(args), check=True, capture_output=True,
                          timeout=30, **kw)


def fail(msg):
    raise AssertionError(msg)


def scrape(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        assert r.status == 200, r.status
        ctype = r.headers["Content-Type"]
        assert ctype.startswith("text/plain; version=0.0.4"), ctype
        return r.read().decode()


def samples(text):
    """{(name, frozenset(labels)): value} and {family name: type}, from the real parser."""
    values, types = {}, {}
    for fam in text_string_to_metric_families(text):
        types[fam.name] = fam.type
        for s in fam.samples:
            values[(s.name, frozenset(s.labels.items()))] = s.value
    return values, types


def value(values, name, labels):
    """A sample's value; the parser names a counter's samples NAME_total."""
    got = values.get((name, labels))
    return got if got is not None else values.get((name + "_total", labels))


def main():
    s1, a1 = start_server()
    s2, a2 = start_server()
    bp(a1, "put", "-t", "emails", "one")
    bp(a1, "put", "-t", "emails", "-p", "5", "two")
    bp(a1, "put", "-t", "emails", "-d", "100", "later")
    bp(a1, "put", "-t", "odd(tube)$", "x")
    bp(a2, "put", "-t", "other", "y")

    # Refused before anything is served: a non-loopback address without --allow-remote.
    r = subprocess.run([BEANPOLE, "-a", a1, "exporter", "--listen", "0.0.0.0:0"],
                       capture_output=True, timeout=30)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert b"--allow-remote" in r.stderr, r.stderr

    exporter = subprocess.Popen([BEANPOLE, "-a", a1 + "," + a2, "exporter", "--listen",
                                 "127.0.0.1:0"], stderr=subprocess.PIPE, text=True)
    procs.append(exporter)
    line = exporter.stderr.readline()
    m = re.search(r"listening on (http://127\.0\.0\.1:\d+/)", line)
    assert m, line
    url = m.group(1) + "metrics"

    text = scrape(url)
    values, types = samples(text)
    for addr in (a1, a2):
        assert values[("beanstalkd_up", frozenset({("server", addr)}))] == 1, text
        st = stats(addr, "stats")  # read after the scrape: only cmd-* counters grew since
        for key, v in st.items():
            if not re.fullmatch(r"\d+", v) or key in ("id", "version", "pid"):
                continue
            name = "beanstalkd_" + key.replace("-", "_")
            got = value(values, name, frozenset({("server", addr)}))
            assert got is not None, "%s missing for %s" % (name, addr)
            if key.startswith("cmd-") or key in ("total-connections", "current-connections",
                                                 "uptime", "current-producers",
                                                 "current-workers"):
                assert got <= int(v), (name, got, v)
            else:
                assert got == int(v), (name, got, v)
    assert values[("beanstalkd_pid", frozenset({("server", a1)}))] == s1.pid

    # Types: counters for total-* and cmd-*, gauges otherwise (the parser drops a counter's
    # _total suffix from the family name).
    assert types["beanstalkd_cmd_put"] == "counter", types.get("beanstalkd_cmd_put")
    assert types["beanstalkd_total_jobs"] == "counter"
    assert types["beanstalkd_current_jobs_ready"] == "gauge"
    assert types["beanstalkd_tube_current_jobs_ready"] == "gauge"
    assert types["beanstalkd_tube_total_jobs"] == "counter"
    assert "# HELP beanstalkd_current_jobs_ready " in text

    # Tubes, with the server label too, against stats-tube.
    for addr, tube in ((a1, "emails"), (a1, "odd(tube)$"), (a1, "default"), (a2, "other")):
        st = stats(addr, "stats-tube " + tube)
        for key in ("current-jobs-ready", "current-jobs-delayed", "current-jobs-urgent",
                    "total-jobs", "current-watching"):
            name = "beanstalkd_tube_" + key.replace("-", "_")
            lab = frozenset({("server", addr), ("tube", tube)})
            assert value(values, name, lab) == int(st[key]), (name, addr, tube,
                                                              value(values, name, lab), st[key])
    lab = frozenset({("server", a1), ("tube", "emails")})
    assert values[("beanstalkd_tube_current_jobs_ready", lab)] == 2
    assert values[("beanstalkd_tube_current_jobs_urgent", lab)] == 1
    assert values[("beanstalkd_tube_current_jobs_delayed", lab)] == 1

    # Read afresh at each scrape.
    bp(a1, "put", "-t", "emails", "three")
    values, _ = samples(scrape(url))
    assert values[("beanstalkd_tube_current_jobs_ready", lab)] == 3

    # One server down: up 0 for it, still 200, the other still reported.
    s2.terminate()
    s2.wait()
    text = scrape(url)
    values, _ = samples(text)
    assert values[("beanstalkd_up", frozenset({("server", a2)}))] == 0, text
    assert values[("beanstalkd_up", frozenset({("server", a1)}))] == 1
    assert ("beanstalkd_current_jobs_ready", frozenset({("server", a2)})) not in values

    # SIGTERM stops it cleanly.
    exporter.send_signal(signal.SIGTERM)
    assert exporter.wait(timeout=10) == 0
    print("exporter test passed")


try:
    main()
finally:
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()
