"""Reading a running `urbanstream serve`: its Prometheus metrics and its process (for the
benchmark scripts' minute and window lines)."""
import os
import re
import urllib.request


def scrape(host):
    """Every sample of /metrics as {"name{labels}": value}."""
    text = urllib.request.urlopen(f"http://{host}/metrics", timeout=10).read().decode()
    m = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            k, _, v = line.rpartition(" ")
            try:
                m[k] = float(v)
            except ValueError:
                pass
    return m


def total(m, name):
    """A counter summed over its labels."""
    return sum(v for k, v in m.items() if k == name or k.startswith(name + "{"))


def buckets(m, name):
    out = []
    for k, v in m.items():
        g = re.match(name + r'_bucket\{.*le="([^"]+)"', k)
        if g:
            out.append((float("inf") if g.group(1) == "+Inf" else float(g.group(1)), v))
    return sorted(out)


def p99_between(a, b, name):
    """The upper bound (ms) of the histogram bucket holding the p99 of what was observed
    between two scrapes; None when nothing was."""
    ba, bb = dict(buckets(a, name)), buckets(b, name)
    diff = [(le, v - ba.get(le, 0.0)) for le, v in bb]
    n = diff[-1][1] if diff else 0
    if n <= 0:
        return None
    for le, c in diff:
        if c >= 0.99 * n:
            return le * 1000
    return None


def quantile(m, name, q):
    """A summary's quantile in ms, the largest over its labels."""
    vals = [v for k, v in m.items() if k.startswith(name + "{") and f'quantile="{q}"' in k]
    return max(vals) * 1000 if vals else None


def cpu_s(pid):
    """User + system CPU seconds of a process."""
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
