#!/usr/bin/env python3
"""The embedding model's precision and thread settings side by side, in one run.

For each variant it runs `kefu eval --mode all --json` on the given sets with a cache folder of
its own (so every variant embeds the corpus itself; the ONNX Runtime library and the downloaded
model file are shared through links to the normal cache), and prints nDCG@10 (vector, hybrid),
the corpus embedding time (index threads) and the single-query embedding p50 (query threads).

    cargo build --release
    python3 benches/precision.py                     # emanual-en, xquad-zh2en, faq-en
    python3 benches/precision.py --sets emanual-en --variants fp32,int8

Timings move with the machine's load: compare the rows of one run.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# name -> environment overrides
VARIANTS = {
    "fp32": {"KEFU__MODELS__PRECISION": "fp32"},
    "q4": {"KEFU__MODELS__PRECISION": "q4"},
    "int8": {"KEFU__MODELS__PRECISION": "int8"},
    "q4-int8": {"KEFU__MODELS__PRECISION": "q4-int8"},
    "fp32-query2": {"KEFU__MODELS__PRECISION": "fp32", "KEFU__VECTOR__QUERY_THREADS": "2"},
    "fp32-index1": {"KEFU__MODELS__PRECISION": "fp32", "KEFU__VECTOR__INDEX_THREADS": "1"},
}


def user_cache() -> Path:
    x = os.environ.get("XDG_CACHE_HOME")
    return Path(x) / "kefu" if x else Path.home() / ".cache" / "kefu"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--eval-dir", default=str(ROOT.parent / "shared" / "eval"))
    ap.add_argument("--sets", default="emanual-en,xquad-zh2en,faq-en")
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--kefu", default=str(ROOT / "target" / "release" / "kefu"))
    args = ap.parse_args()
    if not Path(args.kefu).is_file():
        print(f"{args.kefu} is missing: run `cargo build --release` first", file=sys.stderr)
        return 2
    # make sure the shared pieces (runtime library, model file) are fetched once
    subprocess.run([args.kefu, "models", "fetch"], check=True, cwd=ROOT)
    shared = user_cache()
    rows = []
    with tempfile.TemporaryDirectory(prefix="kefu-precision-") as tmp:
        for name in args.variants.split(","):
            if name not in VARIANTS:
                print(f"unknown variant {name}; known: {', '.join(VARIANTS)}", file=sys.stderr)
                return 2
            cache = Path(tmp) / name
            cache.mkdir()
            for part in ("runtime", "downloads"):
                if (shared / part).exists():
                    os.symlink(shared / part, cache / part)
            env = dict(os.environ, KEFU__MODELS__CACHE_DIR=str(cache), **VARIANTS[name])
            for s in args.sets.split(","):
                out = subprocess.run(
                    [args.kefu, "eval", "--dataset", str(Path(args.eval_dir) / s),
                     "--mode", "all", "--json"],
                    env=env, cwd=ROOT, capture_output=True, text=True)
                if out.returncode != 0:
                    print(out.stderr, file=sys.stderr)
                    return 1
                by_mode = {}
                for line in out.stdout.splitlines():
                    if line.startswith("{"):
                        r = json.loads(line)
                        by_mode[r["mode"]] = r
                v, h = by_mode["vector"], by_mode["hybrid"]
                rows.append((name, s, v["ndcg@10"], h["ndcg@10"], v.get("embed_s") or 0.0,
                             v.get("embed_p50_ms") or 0.0, h["p50_ms"]))
                print(f"  {name:12} {s:14} done", file=sys.stderr)
            model = next(cache.glob("models/*/model-*.onnx"), None)
            if model:
                print(f"  {name}: model file {model.stat().st_size / 1e6:.0f} MB", file=sys.stderr)
            shutil.rmtree(cache)
    print(f"{'variant':12} {'set':14} {'vector':>7} {'hybrid':>7} {'embed_s':>8} "
          f"{'query_ms':>9} {'hybrid_p50':>10}")
    for r in rows:
        print(f"{r[0]:12} {r[1]:14} {r[2]:7.4f} {r[3]:7.4f} {r[4]:8.2f} {r[5]:9.2f} {r[6]:10.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
