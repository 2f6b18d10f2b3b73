#!/usr/bin/env python3
"""ANN search speed: kefu's HNSW (hnsw_rs) against hnswlib and faiss, on the same vectors.

    python3 benches/peer_ann.py --dataset ../shared/eval/emanual-en-large \
        [--kefu target/release/kefu] [--dump DIR] [--k 101] [--repeat 3] [--json]

`kefu eval --mode vector --dump-vectors DIR` writes the corpus and query embeddings (corpus.f32,
queries.f32: float32 LE, row-major, unit rows) and meta.json (HNSW parameters, and hnsw_rs's
figures measured inside kefu on one thread). Unless --dump names such a folder, kefu is run into
a temporary one. The peers index the same vectors with the same M / ef_construction and answer
the same queries one at a time on one thread, asked for the k that kefu eval asks of hnsw_rs
(101, with ef = max(ef_search, k)). recall@10 is counted as kefu counts it: a hit is right when
its similarity is >= the exact 10th's - 1e-5 (passages repeat word for word, so ids alone are
ambiguous; id recall is shown too). The machines are noisy: read the q/s ratio.

The peers live in peer_bm25.py's virtualenv outside the repository (default
${XDG_CACHE_HOME:-~/.cache}/kefu/peers-venv, or $KEFU_PEERS_VENV), installed with pip on first
use; the script re-executes itself inside it. faiss-cpu is optional: skipped if unavailable.
"""
import os

# Single-threaded everywhere; must be set before numpy / faiss are imported.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PEER_PACKAGES = ["numpy", "hnswlib"]
OPTIONAL_PACKAGES = ["faiss-cpu"]
REPO = Path(__file__).resolve().parent.parent
KEFU_K = 101  # kefu eval searches DEPTH + 1 = 101 hits per query (src/eval.rs)
TOLERANCE = 1e-5  # as in kefu's recall check
WARMUP = 20


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def ensure_venv():
    """Re-execute this script inside the peers' virtualenv, installing what it lacks."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    venv = Path(os.environ.get("KEFU_PEERS_VENV") or cache / "kefu" / "peers-venv")
    python = venv / "bin" / "python"
    if Path(sys.prefix).resolve() == venv.resolve():
        return  # already inside
    # Own marker (peer_bm25.py keeps .kefu-peers); it records what was tried, so that a
    # faiss-cpu that fails to install is not tried again on every run.
    marker = venv / ".kefu-peers-ann"
    wanted = " ".join(PEER_PACKAGES + OPTIONAL_PACKAGES)
    if not (python.exists() and marker.exists() and marker.read_text() == wanted):
        log(f"installing {wanted} into the peers virtualenv {venv}")
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(python), "-m", "pip", "install", "-q"]
        # pip's chatter goes to stderr so that --json output stays clean
        subprocess.run([*pip, *PEER_PACKAGES], check=True, stdout=sys.stderr)
        for package in OPTIONAL_PACKAGES:
            if subprocess.run([*pip, package], stdout=sys.stderr).returncode != 0:
                log(f"  {package} did not install: skipped")
        marker.write_text(wanted)
    os.execv(str(python), [str(python), str(Path(__file__).resolve()), *sys.argv[1:]])


def load_vectors(args, tmp):
    """(meta, corpus, queries) from --dump, or from a kefu run dumping into `tmp`."""
    import numpy as np
    folder = args.dump
    if folder is None:
        folder = Path(tmp)
        log(f"running kefu eval --mode vector on {args.dataset} to dump its vectors")
        run = subprocess.run([str(args.kefu), "eval", "--dataset", str(args.dataset.resolve()),
                              "--mode", "vector", "--dump-vectors", str(folder)],
                             stdout=subprocess.PIPE, text=True)  # kefu's own table: dropped
        if run.returncode != 0:
            sys.exit(f"kefu eval failed ({run.returncode}):\n{run.stdout}")
    meta = json.loads((folder / "meta.json").read_text())
    read = lambda name: np.fromfile(folder / name, dtype="<f4").reshape(-1, meta["dim"])
    corpus, queries = read("corpus.f32"), read("queries.f32")
    if (len(corpus), len(queries)) != (meta["corpus"], meta["queries"]):
        sys.exit(f"{folder}: the .f32 files do not match meta.json")
    return meta, corpus, queries


# Each peer returns (build_s, search), search((1, dim) query array) -> top-k row ids.
def build_hnswlib(corpus, meta, k):
    import hnswlib
    import numpy as np
    t0 = time.perf_counter()
    index = hnswlib.Index(space="ip", dim=corpus.shape[1])  # distance 1 - a.b, as kefu's
    index.init_index(max_elements=len(corpus), M=meta["m"],
                     ef_construction=meta["ef_construction"], random_seed=100)
    index.set_num_threads(1)
    index.add_items(corpus, np.arange(len(corpus)), num_threads=1)
    build_s = time.perf_counter() - t0
    index.set_ef(max(meta["ef_search"], k))  # as kefu: ef_search.max(k)
    return build_s, lambda q: index.knn_query(q, k=k, num_threads=1)[0][0]


def build_faiss(corpus, meta, k):
    import faiss
    faiss.omp_set_num_threads(1)
    t0 = time.perf_counter()
    index = faiss.IndexHNSWFlat(corpus.shape[1], meta["m"], faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = meta["ef_construction"]
    index.add(corpus)
    build_s = time.perf_counter() - t0
    index.hnsw.efSearch = max(meta["ef_search"], k)
    return build_s, lambda q: index.search(q, k)[1][0]


def timed_pass(search, queries):
    """One pass, one query at a time; q/s = 1 / mean query time, as kefu reports it."""
    latencies, results = [], []
    for q in queries:
        t0 = time.perf_counter()
        results.append(search(q))
        latencies.append(time.perf_counter() - t0)
    return {"qps": len(latencies) / sum(latencies),
            "p50_ms": 1000 * statistics.median(latencies)}, results


def recalls(results, sims, exact_ids, tenth):
    """Mean recall@10 over the queries: by similarity (kefu's definition), and by ids."""
    import numpy as np
    by_sim, by_id = [], []
    for qi, ids in enumerate(results):
        top = np.asarray(ids[:10], dtype=np.int64)
        top = top[top >= 0]  # faiss pads with -1 when it finds fewer than k
        # similarities looked up in the exact matrix: the same float error for every engine
        by_sim.append(np.count_nonzero(sims[qi, top] >= tenth[qi] - TOLERANCE))
        by_id.append(len(set(top.tolist()) & set(exact_ids[qi].tolist())))
    n = exact_ids.shape[1]
    return statistics.fmean(by_sim) / n, statistics.fmean(by_id) / n


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", type=Path, help="BEIR-layout folder (not needed with --dump)")
    ap.add_argument("--kefu", type=Path, default=REPO / "target" / "release" / "kefu")
    ap.add_argument("--dump", type=Path, help="a --dump-vectors folder: do not run kefu")
    ap.add_argument("--k", type=int, default=KEFU_K, help="hits asked per query (as kefu: 101)")
    ap.add_argument("--repeat", type=int, default=3, help="timed passes; the median is kept")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()
    if args.dump is None and args.dataset is None:
        ap.error("give --dataset (kefu is run to dump the vectors) or --dump")
    if args.dump is None and not args.kefu.is_file():
        sys.exit(f"kefu binary not found at {args.kefu} (build it, pass --kefu, or --dump)")
    ensure_venv()
    import numpy as np

    with tempfile.TemporaryDirectory(prefix="kefu-ann-") as tmp:
        meta, corpus, queries = load_vectors(args, tmp)
    k, ef, n = args.k, max(meta["ef_search"], args.k), min(10, len(corpus))
    setting = (f"{meta['dataset']}: {len(corpus)} vectors of {meta['dim']}, {len(queries)} "
               f"queries, M={meta['m']}, ef_construction={meta['ef_construction']}, ef={ef}, k={k}")
    log(setting)

    # Exact top 10 by inner product (= cosine: the rows are unit length).
    sims = queries @ corpus.T
    part = np.argpartition(-sims, n - 1, axis=1)[:, :n]
    exact_ids = np.take_along_axis(
        part, np.argsort(-np.take_along_axis(sims, part, 1), axis=1, kind="stable"), 1)
    tenth = np.take_along_axis(sims, exact_ids[:, -1:], 1)[:, 0]

    engines = {}  # name -> {"build_s", "search", "passes"}
    for name, build in (("hnswlib", build_hnswlib), ("faiss HNSW", build_faiss)):
        try:
            build_s, search = build(corpus, meta, k)
        except ImportError:
            log(f"  {name}: not importable, skipped")
            continue
        engines[name] = {"build_s": build_s, "search": search, "passes": []}
        log(f"  {name}: built in {build_s:.2f} s (one thread)")

    one_by_one = [queries[i:i + 1] for i in range(len(queries))]  # (1, dim) views
    for r in range(args.repeat):  # interleave the engines' passes
        for e in engines.values():
            for q in one_by_one[:WARMUP]:
                e["search"](q)
            stats, results = timed_pass(e["search"], one_by_one)
            stats["recall@10"], stats["recall@10_ids"] = recalls(results, sims, exact_ids, tenth)
            e["passes"].append(stats)
        log(f"  pass {r + 1}/{args.repeat} done")

    median = lambda runs: sorted(runs, key=lambda s: s["qps"])[(len(runs) - 1) // 2]
    h = meta["hnsw_rs"]
    rows = {"hnsw_rs (kefu)": {"build_s": None, "recall@10": h["recall@10"],
                               "recall@10_ids": None, "qps": h["qps"],
                               "p50_ms": h["search_p50_ms"]}}
    rows.update({name: {"build_s": e["build_s"], **median(e["passes"])}
                 for name, e in engines.items()})
    ratios = {f"hnsw_rs/{name}": h["qps"] / rows[name]["qps"] for name in engines}

    if args.json:
        print(json.dumps({key: meta[key] for key in ("dataset", "corpus", "queries", "dim", "m",
                                                     "ef_construction", "ef_search")}
                         | {"k": k, "ef": ef, "repeat": args.repeat, "engines": rows,
                            "qps_ratios": ratios}, indent=2))
        return
    cols = (("build_s", "build_s", 2), ("recall@10", "R@10 sim", 4),
            ("recall@10_ids", "R@10 ids", 4), ("qps", "q/s", 1), ("p50_ms", "p50_ms", 3))
    fmt = lambda v, d: "n/a" if v is None else f"{v:.{d}f}"
    print(f"{setting}; one thread, median of {args.repeat} passes")
    print(f"{'engine':<16}" + "".join(f"{title:>10}" for _, title, _ in cols))
    for name, row in rows.items():
        print(f"{name:<16}" + "".join(f"{fmt(row[c], d):>10}" for c, _, d in cols))
    for name, ratio in ratios.items():
        print(f"{name.replace('/', ' q/s ÷ ')} q/s: {ratio:.2f}x")
    if k != KEFU_K:
        print(f"note: kefu eval measured hnsw_rs at k={KEFU_K}, the peers ran at k={k}")


if __name__ == "__main__":
    main()
