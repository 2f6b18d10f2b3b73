#!/usr/bin/env python3
"""Latency of POST /v1/chat (extractive) on the demo corpus: starts `kefu serve` (release build,
repo config, port 0), plays short scripted conversations of demo customers — a first turn that
takes a decision, then a follow-up resolved against the session — one turn at a time (after a
warm-up), and prints p50/p99 per turn as the client sees it, for first turns and follow-ups.
The answer cache is off (`KEFU__ANSWER__CACHE=0`): every round asks the same questions.

Usage: cargo build --release && python3 benches/chat.py [--rounds 10]
"""

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONVERSATIONS = [
    ("C0001", ["我刚买的手机屏幕碎了怎么办", "那电池呢"]),
    ("C0002", ["I dropped my phone and cracked the screen, is it covered?", "and the battery?"]),
    ("C0005", ["my laptop won't turn on, is it still under warranty?", "can I still return it?"]),
    ("C0010", ["洗衣机才用几天就不排水了，想换新的", "它的滤网怎么清洗"]),
    ("C0004", ["耳机还没拆封，想退货", "退货运费谁出？"]),
    (None, ["How long is the X9 Pro warranty?", "and the charger?"]),
]


def quantile(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, round((len(v) - 1) * q))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=10)
    args = ap.parse_args()
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

        def turn(body):
            req = urllib.request.Request(
                f"{base}/v1/chat", method="POST",
                data=json.dumps(dict(body, composer="extractive")).encode(),
                headers={"Content-Type": "application/json", "Authorization": "Bearer demo-bot-key"})
            t = time.perf_counter()
            with urllib.request.urlopen(req, timeout=30) as r:
                reply = json.loads(r.read())
            return (time.perf_counter() - t) * 1000, reply

        def play(customer, messages, first, later, decided):
            session = None
            for i, m in enumerate(messages):
                body = {"message": m, "as_of": "2026-12-07"}
                if customer:
                    body["customer_id"] = customer
                if session:
                    body["session_id"] = session
                ms, reply = turn(body)
                session = reply["session_id"]
                (first if i == 0 else later).append(ms)
                decided.append(bool(reply.get("decision")))

        for c, ms in CONVERSATIONS:
            play(c, ms, [], [], [])
        first, later, decided = [], [], []
        for _ in range(args.rounds):
            for c, ms in CONVERSATIONS:
                play(c, ms, first, later, decided)
        both = first + later
        print(f"turns {len(both)}  p50 {quantile(both, 0.5):.1f} ms  p99 {quantile(both, 0.99):.1f} ms"
              f"  (first turns p50 {quantile(first, 0.5):.1f} ms, follow-ups p50 {quantile(later, 0.5):.1f} ms;"
              f" {sum(decided)} turns took a decision)")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
