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
import statistics

from kefu_server import post, quantile, serving

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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=10)
    args = ap.parse_args()
    with serving() as base:
        def ask(q):
            return post(base, "/v1/answer", {"question": q, "composer": "extractive"})

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


if __name__ == "__main__":
    main()
