"""Helpers shared by the perf scripts that start servers and drive them with runwire-bench
(perf/compare, perf/redis-vs-embedded, perf/seq-floor): the release build, readiness, one bench run, stopping
the servers, a private redis-server, a benchmarked server's environment, the marked section of a results file, nchan's config, source addresses.
"""
import json, os, signal, subprocess, sys, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def build():
    """Builds the package in release mode; returns its bin directory."""
    subprocess.run(["swift", "build", "-c", "release"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=ROOT, capture_output=True, text=True).stdout.strip()


def server(bindir):
    """The runwire binary to benchmark: RUNWIRE_BIN when set (another build, for before/after
    runs against the same peers, driven by this tree's runwire-bench), else the one in bindir."""
    return os.environ.get("RUNWIRE_BIN") or os.path.join(bindir, "runwire")


def wait_http(url, up_codes=None):
    """Polls url (up to 200 tries, 50 ms apart) until it answers 2xx or an HTTP error whose code is
    in up_codes (None: any HTTP answer means up; {404}: a 503 "not ready" still waits); else exits."""
    for _ in range(200):
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except Exception as e:  # noqa: BLE001 - refused, timed out or an HTTP error: retry unless it means up
            code = getattr(e, "code", None)
            if code and (up_codes is None or code in up_codes):
                return
            time.sleep(0.05)
    raise SystemExit(f"server at {url} did not come up")


def bench(binpath, args, timeout, runs=None):
    """`runwire-bench ARGS --json` pinned to core 1: its result (the last line of output), also
    printed to stderr with the command, and appended to runs when given."""
    cmd = ["taskset", "-c", "1", os.path.join(binpath, "runwire-bench"), *args, "--json"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout).stdout.strip().splitlines()
    data = json.loads(out[-1])
    record = {"cmd": " ".join(args), **data}
    print(json.dumps(record), file=sys.stderr)
    if runs is not None:
        runs.append(record)
    return data


def start_redis(spawn, port, work):
    """Starts a private redis-server on 127.0.0.1:port (no persistence, files in work) through
    spawn(args), then waits (up to 5 s) until it answers PING."""
    spawn(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", work])
    for _ in range(100):
        if subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).returncode == 0:
            return
        time.sleep(0.05)
    raise SystemExit(f"redis-server on port {port} did not come up")


def runwire_env(work, port, redis_port=None):
    """The environment of a benchmarked Runwire server: its own store under work, warnings
    only, 16 MiB of queue per WebSocket, 1,000 events of history; through Redis when redis_port."""
    env = dict(os.environ, STORAGE_DIR=os.path.join(work, f"data{port}"), LOG_LEVEL="warning",
               WS_MAX_QUEUED_BYTES=str(16 << 20), HISTORY_MAX_EVENTS="1000")
    if redis_port:
        env["REDIS_URL"] = f"redis://127.0.0.1:{redis_port}"
    return env


def stop(procs):
    """SIGTERM to every process still running (None entries are skipped), then up to 10 s each
    before SIGKILL."""
    live = [p for p in procs if p and p.poll() is None]
    for p in live:
        p.send_signal(signal.SIGTERM)
    for p in live:
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()


def write_section(path, begin, end, body, heading=""):
    """Puts body (no trailing newline) between the begin and end marker lines of path; a file
    without them gets heading, the markers and body appended."""
    old = open(path).read() if os.path.exists(path) else ""
    if begin in old and end in old:
        new = old[:old.index(begin) + len(begin)] + "\n" + body + "\n" + old[old.index(end):]
    else:
        new = old + "\n" + heading + f"{begin}\n{body}\n{end}\n"
    open(path, "w").write(new)


def nchan_conf(port):
    """perf/nginx/nchan.conf listening on port."""
    return open(os.path.join(ROOT, "perf/nginx/nchan.conf")).read().replace("PORT", str(port))


def cpu_model():
    """The CPU's model name from /proc/cpuinfo, for the results' machine line."""
    return next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")


def sources():
    """Loopback source addresses 127.0.1.2, 127.0.1.3, …: a fresh one for each run, so a run's
    connections never share local ports with those of the runs before it."""
    return (f"127.0.{i}.{j}" for i in range(1, 200) for j in range(2, 250))
