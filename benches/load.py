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

With --answers it measures the caches instead: POST /v1/answer (hybrid, extractive, bot key) at
32 connections on a Zipf-distributed mix (exponent --zipf-s) of the questions of
exams/customer.jsonl, against a server with neither cache (`KEFU__VECTOR__QUERY_CACHE=0`,
`KEFU__ANSWER__CACHE=0`), one with the question-embedding cache only, and one with the answer
cache too, each after a warm-up, and prints the three and the ratios to the first.

    python3 benches/load.py --answers [--seconds 20] [--questions 300] [--json]
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


def zipf_sequence(path: Path, questions: int, s: float, length: int, seed: int = 7) -> int:
    """Writes `length` answer bodies drawn from the first `questions` exam questions (shuffled
    once) with Zipf weights 1/rank^s; returns the number of distinct questions drawn."""
    import random
    rows = [json.loads(l) for l in (ROOT / "exams" / "customer.jsonl").read_text().splitlines()
            if l.strip()]
    rng = random.Random(seed)
    rng.shuffle(rows)
    pool = [r["question"] for r in rows[:questions]]
    weights = [1.0 / (rank + 1) ** s for rank in range(len(pool))]
    drawn = rng.choices(pool, weights=weights, k=length)
    with path.open("w") as f:
        for q in drawn:
            f.write(json.dumps({"question": q, "composer": "extractive"}, ensure_ascii=False) + "\n")
    return len(set(drawn))


def start(kefu: str, extra_env: dict) -> tuple:
    """Starts `kefu serve` on a free port and waits until it is ready: (process, base URL)."""
    server = subprocess.Popen([kefu, "serve", "--bind", "127.0.0.1:0"], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                              env=dict(os.environ, RUST_LOG="warn",
                                       KEFU__HTTP__RATE_LIMIT_PER_S="0", **extra_env))
    line = server.stdout.readline().strip()
    if not line.startswith("kefu: listening on "):
        server.kill()
        raise RuntimeError(f"unexpected server output: {line!r}")
    base = line.removeprefix("kefu: listening on ")
    deadline = time.time() + 600
    while True:
        try:
            with urllib.request.urlopen(f"{base}/readyz", timeout=2):
                return server, base
        except Exception:
            if time.time() > deadline or server.poll() is not None:
                server.kill()
                raise RuntimeError("the server never became ready")
            time.sleep(0.5)


def stop(server) -> None:
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=40)
    except subprocess.TimeoutExpired:
        server.kill()


def answers(args) -> int:
    """The question-embedding and answer caches on a Zipf mix of customer questions."""
    import tempfile
    seq = Path(tempfile.mkdtemp()) / "sequence.jsonl"
    distinct = zipf_sequence(seq, args.questions, args.zipf_s, 20000)
    out = {"questions": args.questions, "zipf_s": args.zipf_s, "distinct_drawn": distinct,
           "conns": 32, "runs": {}}
    # 32 connections keep 32 answers in flight; admission's own limit is 32 too, and a place
    # is freed a moment after its answer is sent, so it is raised here: this measures capacity
    admit = {"KEFU__HTTP__MAX_INFLIGHT_HEAVY": "64"}
    for name, env in (("uncached", {"KEFU__VECTOR__QUERY_CACHE": "0", "KEFU__ANSWER__CACHE": "0",
                                    **admit}),
                      ("question", {"KEFU__ANSWER__CACHE": "0", **admit}),
                      ("answers", admit)):
        server, base = start(args.kefu, env)
        try:
            common = ["wrk", "-t", "2", "-c", "32", "--timeout", "10s", "-s", str(LUA),
                      f"{base}/v1/answer"]
            wenv = dict(os.environ, KEFU_KEY="demo-bot-key", KEFU_SEQUENCE=str(seq))
            # warm-up (the cache fills, pages load), then the measured run
            subprocess.run(common[:1] + ["-d", "5s"] + common[1:], env=wenv, capture_output=True,
                           text=True, check=True)
            res = subprocess.run(common[:1] + ["-d", f"{args.seconds}s"] + common[1:], env=wenv,
                                 capture_output=True, text=True, check=True)
            line = next(l for l in res.stdout.splitlines() if l.startswith("{"))
            r = json.loads(line)
            secs = r["duration_us"] / 1e6
            out["runs"][name] = {
                "requests": r["requests"], "rps": r["requests"] / secs if secs else 0.0,
                "p50_ms": r["p50_us"] / 1e3, "p99_ms": r["p99_us"] / 1e3, "non2xx": r["non2xx"],
            }
        finally:
            stop(server)
    u = out["runs"]["uncached"]["rps"]
    q, c = out["runs"]["question"]["rps"], out["runs"]["answers"]["rps"]
    out["ratio_question_cache"] = q / u if u else 0.0
    out["ratio"] = c / u if u else 0.0
    if args.json:
        print(json.dumps(out))
    else:
        for name, r in out["runs"].items():
            print(f"{name:9} {r['requests']:7d} requests {r['rps']:8.1f} req/s  p50 {r['p50_ms']:7.1f} ms"
                  f"  p99 {r['p99_ms']:7.1f} ms  non-2xx {r['non2xx']}")
        print(f"question-embedding cache / uncached: {out['ratio_question_cache']:.2f}x; "
              f"with the answer cache too: {out['ratio']:.2f}x ({distinct} distinct questions drawn)")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kefu", default=str(ROOT / "target" / "release" / "kefu"))
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--answers", action="store_true",
                    help="measure the question-embedding cache on a Zipf mix of answers")
    ap.add_argument("--questions", type=int, default=300)
    ap.add_argument("--zipf-s", type=float, default=1.0)
    args = ap.parse_args()
    if not shutil.which("wrk"):
        print("wrk is missing: install the Debian package `wrk`", file=sys.stderr)
        return 2
    if not Path(args.kefu).is_file():
        print(f"{args.kefu} is missing: run `cargo build --release`", file=sys.stderr)
        return 2
    if args.answers:
        return answers(args)
    # capacity, not the per-key rate limit, is what this measures (start() lifts it)
    server, base = start(args.kefu, {})
    rows = []
    try:
        with urllib.request.urlopen(f"{base}/readyz", timeout=2) as r:
            ready = json.load(r)
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
        stop(server)
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
