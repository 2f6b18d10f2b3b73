"""What the latency benches share: `kefu serve` (release build, repo config, port 0, the answer
cache off unless the caller's environment sets it) started and stopped around a bench, a timed
JSON POST with the demo bot key, and quantiles."""

import contextlib
import json
import os
import subprocess
import sys
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def quantile(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, round((len(v) - 1) * q))]


@contextlib.contextmanager
def serving():
    """Yields the base URL of a ready `kefu serve`; stops it afterwards."""
    kefu = os.path.join(REPO, "target", "release", "kefu")
    if not os.path.exists(kefu):
        sys.exit("build kefu first: cargo build --release")
    env = dict(os.environ)
    env.setdefault("KEFU__ANSWER__CACHE", "0")
    server = subprocess.Popen([kefu, "serve", "--bind", "127.0.0.1:0"], cwd=REPO, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        base = server.stdout.readline().strip().removeprefix("kefu: listening on ")
        end = time.time() + 600
        while True:
            try:
                with urllib.request.urlopen(f"{base}/readyz", timeout=2) as r:
                    if r.status == 200:
                        break
            except Exception:
                pass
            if time.time() > end:
                sys.exit("kefu did not become ready")
            time.sleep(0.5)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


def post(base, path, body, key="demo-bot-key"):
    """(milliseconds as the client saw them, the JSON reply) of one POST."""
    req = urllib.request.Request(
        f"{base}{path}", method="POST", data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"})
    t = time.perf_counter()
    with urllib.request.urlopen(req, timeout=30) as r:
        reply = json.loads(r.read())
    return (time.perf_counter() - t) * 1000, reply
