#!/usr/bin/env python3
"""Load test of `kefu serve` over loopback with wrk (Debian package `wrk`).

Starts the release binary on the demo corpus (its normal config, index and demo keys) on a free
port, waits until it is ready, then runs wrk against POST /v1/search — BM25 and hybrid, at
concurrency 1, 8 and 32 — and then an overload run at 4x the saturating concurrency, followed by a
normal run to show the server serves on. Every run is bounded in time (--seconds each) and wrk's
per-request timeout. Prints requests/s, p50, p99, errors, and the server's RSS at the end; stops
the server.

    sudo apt-get install wrk      # once
    cargo build --release
    python3 benches/load.py [--seconds 10] [--json]
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LUA = ROOT / "benches" / "load.lua"


def rss_mib(pid: int) -> tuple:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        k, _, v = line.partition(":")
        fields[k] = v.strip()
    kib = lambda k: int(fields.get(k, "0 kB").split()[0]) / 1024
    return kib("VmRSS"), kib("VmHWM")


def wrk(base: str, mode: str, conns: int, seconds: int) -> dict:
    threads = min(conns, 2)
    env = dict(os.environ, KEFU_MODE=mode, KEFU_KEY="demo-bot-key")
    out = subprocess.run(
        ["wrk", "-t", str(threads), "-c", str(conns), "-d", f"{seconds}s", "--timeout", "5s",
         "-s", str(LUA), f"{base}/v1/search"],
        env=env, capture_output=True, text=True, check=True)
    line = next(l for l in out.stdout.splitlines() if l.startswith("{"))
    r = json.loads(line)
    secs = r["duration_us"] / 1e6
    return {
        "mode": mode, "conns": conns, "requests": r["requests"],
        "rps": r["requests"] / secs if secs else 0.0,
        "p50_ms": r["p50_us"] / 1e3, "p99_ms": r["p99_us"] / 1e3,
        "non2xx": r["non2xx"],
        "socket_errors": r["connect_errors"] + r["read_errors"] + r["write_errors"] + r["timeouts"],
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kefu", default=str(ROOT / "target" / "release" / "kefu"))
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        print("wrk is missing: install the Debian package `wrk`", file=sys.stderr)
        return 2
    if not Path(args.kefu).is_file():
        print(f"{args.kefu} is missing: run `cargo build --release`", file=sys.stderr)
        return 2
    server = subprocess.Popen([args.kefu, "serve", "--bind", "127.0.0.1:0"], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                              # capacity, not the per-key rate limit, is what this measures
                              env=dict(os.environ, RUST_LOG="warn",
                                       KEFU__HTTP__RATE_LIMIT_PER_S="0"))
    rows = []
    try:
        line = server.stdout.readline().strip()
        if not line.startswith("kefu: listening on "):
            print(f"unexpected server output: {line!r}", file=sys.stderr)
            return 1
        base = line.removeprefix("kefu: listening on ")
        deadline = time.time() + 600
        while True:
            try:
                with urllib.request.urlopen(f"{base}/readyz", timeout=2) as r:
                    ready = json.load(r)
                    break
            except Exception:
                if time.time() > deadline or server.poll() is not None:
                    print("the server never became ready", file=sys.stderr)
                    return 1
                time.sleep(0.5)
        if not ready.get("vectors"):
            print("warning: no vector index; hybrid runs answer from BM25", file=sys.stderr)
        for mode in ("bm25", "hybrid"):
            for conns in (1, 8, 32):
                rows.append(wrk(base, mode, conns, args.seconds))
                print(f"  {mode} c={conns} done", file=sys.stderr)
        # overload: 4x the saturating concurrency (32), hybrid (the CPU-heavy mode), then normal
        rows.append(dict(wrk(base, "hybrid", 128, args.seconds), mode="hybrid 4x overload"))
        time.sleep(2)  # the requests admitted before the overload ended finish
        rows.append(dict(wrk(base, "bm25", 8, args.seconds), mode="bm25 after overload"))
        rss, peak = rss_mib(server.pid)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=40)
        except subprocess.TimeoutExpired:
            server.kill()
    if args.json:
        print(json.dumps({"runs": rows, "rss_mib": rss, "peak_rss_mib": peak}))
        return 0
    print(f"{'run':22} {'conns':>5} {'requests':>9} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'non-2xx':>8} {'sock err':>8}")
    for r in rows:
        print(f"{r['mode']:22} {r['conns']:5d} {r['requests']:9d} {r['rps']:9.0f} "
              f"{r['p50_ms']:8.2f} {r['p99_ms']:8.2f} {r['non2xx']:8d} {r['socket_errors']:8d}")
    print(f"server RSS after the runs: {rss:.0f} MiB (peak {peak:.0f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
