#!/usr/bin/env python3
"""Latency of POST /v1/chat (extractive) on the demo corpus: starts `kefu serve` (release build,
repo config, port 0), plays short scripted conversations of demo customers — a first turn that
takes a decision, then a follow-up resolved against the session — one turn at a time (after a
warm-up), and prints p50/p99 per turn as the client sees it, for first turns and follow-ups.
The answer cache is off (`KEFU__ANSWER__CACHE=0`): every round asks the same questions.

Usage: cargo build --release && python3 benches/chat.py [--rounds 10]
"""

import argparse

from kefu_server import post, quantile, serving

CONVERSATIONS = [
    ("C0001", ["我刚买的手机屏幕碎了怎么办", "那电池呢"]),
    ("C0002", ["I dropped my phone and cracked the screen, is it covered?", "and the battery?"]),
    ("C0005", ["my laptop won't turn on, is it still under warranty?", "can I still return it?"]),
    ("C0010", ["洗衣机才用几天就不排水了，想换新的", "它的滤网怎么清洗"]),
    ("C0004", ["耳机还没拆封，想退货", "退货运费谁出？"]),
    (None, ["How long is the X9 Pro warranty?", "and the charger?"]),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=10)
    args = ap.parse_args()
    with serving() as base:
        def turn(body):
            return post(base, "/v1/chat", dict(body, composer="extractive"))

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


if __name__ == "__main__":
    main()
