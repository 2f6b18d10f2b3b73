#!/usr/bin/env python3
"""Latency of POST /v1/answer (extractive) on the demo corpus: starts `kefu serve` (release
build, repo config, port 0), asks a fixed set of English and Chinese questions one at a time
(after a warm-up), and prints p50/p99 of the whole request as the client sees it and the medians
of kefu's own stage timings (embedding, reranking, retrieval, composing). The answer cache is
off (`KEFU__ANSWER__CACHE=0`): the same questions are asked every round, and this measures the
work of answering, not the cache (`benches/load.py --answers` measures the caches).

Usage: cargo build --release && python3 benches/answer.py [--rounds 10]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QUESTIONS = [
    "How long is the standard warranty on the X9 Pro?",
    "How do I remove the transit bolts from the washing machine?",
    "What does error E21 mean on the WM-8012?",
    "Can I return earbuds after opening them?",
    "How much does a screen repair cost out of warranty?",
    "X9 Pro 的标准保修期是多久？",
    "洗衣机显示E21是什么意思？",
    "屏幕碎了保修吗",
    "空调遥控器没反应怎么办",
    "退货运费谁出？",
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

        def ask(q):
            req = urllib.request.Request(
                f"{base}/v1/answer", method="POST",
                data=json.dumps({"question": q, "composer": "extractive"}).encode(),
                headers={"Content-Type": "application/json", "Authorization": "Bearer demo-bot-key"})
            t = time.perf_counter()
            with urllib.request.urlopen(req, timeout=30) as r:
                body = json.loads(r.read())
            return (time.perf_counter() - t) * 1000, body

        for q in QUESTIONS:
            ask(q)
        wall, stages, abstained = [], {}, 0
        for _ in range(args.rounds):
            for q in QUESTIONS:
                ms, body = ask(q)
                wall.append(ms)
                abstained += bool(body.get("abstained"))
                for k, v in body.get("timings", {}).items():
                    stages.setdefault(k, []).append(v)
        print(f"requests {len(wall)}  p50 {quantile(wall, 0.5):.1f} ms  p99 {quantile(wall, 0.99):.1f} ms"
              f"  (abstained {abstained})")
        print("kefu's stage medians: " + ", ".join(
            f"{k} {statistics.median(v):.2f}" for k, v in sorted(stages.items())))
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
