#!/usr/bin/env python3
"""Lexical (BM25) search speed: kefu against two peers, on one data set, in one run.

    python3 benches/peer_bm25.py --dataset ../shared/eval/emanual-en-large \
        [--kefu target/release/kefu] [--k 100] [--repeat 3] [--skip-kefu] [--json]

Peers: bm25s (numba backend) and tantivy-py. Both run single-threaded on the same
corpus and queries as `kefu eval --mode bm25`. The machines are shared and noisy, so
the figure to read is the ratio "kefu qps / peer qps", not the absolute numbers; the
repeats of all engines are interleaved so that load spikes hit them alike.

The peers live in their own virtualenv outside the repository (default
${XDG_CACHE_HOME:-~/.cache}/kefu/peers-venv, or $KEFU_PEERS_VENV): the script creates it
with pip on first use and then re-executes itself inside it.
"""
import os

# Single-threaded everywhere; must be set before numpy / numba are imported.
for _var in ("OMP_NUM_THREADS", "NUMBA_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse
import json
import math
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

PEER_PACKAGES = ["bm25s>=0.2.6", "numba", "PyStemmer", "jieba", "tantivy>=0.22"]
REPO = Path(__file__).resolve().parent.parent
WARMUP = 20
CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
NON_WORD = re.compile(r"[\W_]+")  # tantivy's tokenizers split on these; so may we


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- virtualenv
def ensure_venv():
    """Re-execute this script inside the peers' virtualenv, creating it if needed."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    venv = Path(os.environ.get("KEFU_PEERS_VENV") or cache / "kefu" / "peers-venv")
    python = venv / "bin" / "python"
    if Path(sys.prefix).resolve() == venv.resolve():
        return  # already inside
    marker = venv / ".kefu-peers"  # records what was installed, to re-install on change
    if not (python.exists() and marker.exists() and marker.read_text() == " ".join(PEER_PACKAGES)):
        log(f"setting up peers virtualenv in {venv} (first run: a few minutes)")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        # pip's chatter goes to stderr so that --json output stays clean
        subprocess.run([str(python), "-m", "pip", "install", "-q", *PEER_PACKAGES],
                       check=True, stdout=sys.stderr)
        marker.write_text(" ".join(PEER_PACKAGES))
    os.execv(str(python), [str(python), str(Path(__file__).resolve()), *sys.argv[1:]])


# ---------------------------------------------------------------- data set
def load_dataset(folder):
    def jsonl(name):
        with open(folder / name, encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]
    corpus = jsonl("corpus.jsonl")
    queries = jsonl("queries.jsonl")
    qrels = {}
    with open(folder / "qrels.tsv", encoding="utf-8") as f:
        next(f)  # header
        for line in f:
            qid, did, score = line.rstrip("\n").split("\t")[:3]
            if float(score) > 0:
                qrels.setdefault(qid, set()).add(did)
    ids = [d["_id"] for d in corpus]
    texts = [f'{d.get("title") or ""}\n{d.get("text") or ""}'.strip() for d in corpus]
    return ids, texts, [(q["_id"], q["text"]) for q in queries], qrels


def is_chinese(folder, texts):
    if "-zh" in folder.name:
        return True
    sample = "".join(texts[:500]).replace(" ", "")
    return bool(sample) and len(CJK.findall(sample)) / len(sample) > 0.3


def ndcg10(qid, hits, relevant):
    """BEIR nDCG@10, binary relevance; a hit whose id is the query's own id is skipped."""
    hits = [h for h in hits if h != qid][:10]
    dcg = sum(1 / math.log2(i + 2) for i, h in enumerate(hits) if h in relevant)
    idcg = sum(1 / math.log2(i + 2) for i in range(min(len(relevant), 10)))
    return dcg / idcg if idcg else 0.0


# ---------------------------------------------------------------- peers
# Each peer is built by a function that indexes the corpus and returns
# search(query_text) -> list of corpus ids (top k). Query tokenisation is part of search.

def zh_tokens(text):
    import jieba
    return [t.lower() for t in jieba.lcut(text) if not NON_WORD.fullmatch(t)]


def build_bm25s(ids, texts, chinese, k):
    """bm25s at its defaults (k1=1.5, b=0.75, Lucene IDF), numba kernels, one thread.
    (BEIR's k1=0.9, b=0.4 score higher on emanual-en-large, at the same speed.)"""
    import bm25s
    import Stemmer
    if chinese:
        analyse_corpus = lambda docs: [zh_tokens(d) for d in docs]
        analyse_query = lambda q: [zh_tokens(q)]
    else:
        stemmer = Stemmer.Stemmer("english")
        analyse_corpus = lambda docs: bm25s.tokenize(docs, stopwords="en", stemmer=stemmer,
                                                     show_progress=False)
        analyse_query = lambda q: bm25s.tokenize(q, stopwords="en", stemmer=stemmer,
                                                 return_ids=False, show_progress=False)
    # Compile numba's JIT kernels on a toy index first, so index_s does not include it.
    toy = bm25s.BM25(backend="numba")
    toy.index(analyse_corpus(["warm up the jit", "compile kernels", "once"]), show_progress=False)
    toy.retrieve(analyse_query("jit kernels"), k=2, n_threads=1, show_progress=False)

    t0 = time.perf_counter()
    retriever = bm25s.BM25(backend="numba")
    retriever.index(analyse_corpus(texts), show_progress=False)
    index_s = time.perf_counter() - t0

    def search(query):
        docs, _scores = retriever.retrieve(analyse_query(query), k=k, n_threads=1,
                                           backend_selection="numba", show_progress=False)
        return [ids[i] for i in docs[0]]
    return index_s, search


def build_tantivy(ids, texts, chinese, k):
    """tantivy-py at its defaults (k1=1.2, b=0.75); one field over title + text.
    Note: en_stem has no stopword filter, so English queries also score "how", "to"..."""
    import tantivy
    t0 = time.perf_counter()
    builder = tantivy.SchemaBuilder()
    builder.add_unsigned_field("row", stored=True)
    # Chinese: jieba-segmented text joined by spaces, "default" tokenizer (splits on
    # whitespace/punctuation, lowercases). English: tantivy's en_stem.
    builder.add_text_field("body", tokenizer_name="default" if chinese else "en_stem")
    index = tantivy.Index(builder.build())  # in memory
    writer = index.writer(heap_size=200_000_000, num_threads=1)
    for row, text in enumerate(texts):
        body = " ".join(zh_tokens(text)) if chinese else text
        writer.add_document(tantivy.Document(row=row, body=body))
    writer.commit()
    writer.wait_merging_threads()
    index.reload()
    searcher = index.searcher()
    index_s = time.perf_counter() - t0

    # Map (segment, doc) addresses to corpus ids once, outside the timed region.
    everything = searcher.search(tantivy.Query.all_query(), limit=len(texts)).hits
    address_to_id = {(a.segment_ord, a.doc): ids[searcher.doc(a)["row"][0]]
                     for _score, a in everything}

    def search(query):
        # The query parser rejects some characters (quotes, colons, brackets, ...):
        # reduce the query to plain words separated by spaces, which parse as a
        # disjunction of terms (lowercased so that AND/OR/NOT are not operators).
        words = " ".join(zh_tokens(query)) if chinese else NON_WORD.sub(" ", query).lower()
        q = index.parse_query(words, ["body"]) if words.strip() else tantivy.Query.empty_query()
        hits = searcher.search(q, limit=k, count=False).hits
        return [address_to_id[(a.segment_ord, a.doc)] for _score, a in hits]
    return index_s, search


def timed_pass(search, queries):
    """One pass over all queries, one at a time. Returns (qps, p50_ms, p99_ms, results)."""
    latencies, results = [], []
    start = time.perf_counter()
    for _qid, text in queries:
        t0 = time.perf_counter()
        results.append(search(text))
        latencies.append(time.perf_counter() - t0)
    wall = time.perf_counter() - start
    latencies.sort()
    pct = lambda p: 1000 * latencies[min(len(latencies) - 1, int(p * len(latencies)))]
    return {"qps": len(queries) / wall, "p50_ms": pct(0.50), "p99_ms": pct(0.99)}, results


# ---------------------------------------------------------------- kefu
def kefu_run(binary, dataset):
    """One `kefu eval --mode bm25 --json` run: its JSON line for the bm25 mode."""
    out = subprocess.run([str(binary), "eval", "--dataset", str(dataset), "--mode", "bm25",
                          "--json"], check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue  # not JSON: log text
        if isinstance(record, dict) and "qps" in record:
            return {"index_s": record.get("index_s"), "qps": record["qps"],
                    "p50_ms": record.get("p50_ms"), "p99_ms": record.get("p99_ms"),
                    "ndcg@10": record.get("ndcg@10")}
    raise RuntimeError(f"kefu eval printed no JSON line with 'qps':\n{out}")


# ---------------------------------------------------------------- main
def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", required=True, type=Path, help="BEIR-layout folder")
    ap.add_argument("--kefu", type=Path, default=REPO / "target" / "release" / "kefu")
    ap.add_argument("--k", type=int, default=100, help="hits retrieved per query")
    ap.add_argument("--repeat", type=int, default=3, help="timed passes; the median is kept")
    ap.add_argument("--skip-kefu", action="store_true", help="measure the peers only")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()
    if not args.skip_kefu and not args.kefu.is_file():
        sys.exit(f"kefu binary not found at {args.kefu} (build it, pass --kefu, or --skip-kefu)")
    ensure_venv()

    dataset = args.dataset.resolve()
    ids, texts, queries, qrels = load_dataset(dataset)
    chinese = is_chinese(dataset, texts)
    if chinese:
        import jieba
        jieba.setLogLevel(60)
        jieba.initialize()  # load the dictionary now, not inside some engine's timing
    log(f"{dataset.name}: {len(texts)} passages, {len(queries)} queries, "
        f"{'Chinese (jieba)' if chinese else 'English'}, k={args.k}")

    engines = {}  # name -> {"index_s", "search", "passes"}
    for name, build in (("bm25s (numba)", build_bm25s), ("tantivy-py", build_tantivy)):
        index_s, search = build(ids, texts, chinese, args.k)
        for _qid, text in queries[:WARMUP]:
            search(text)
        engines[name] = {"index_s": index_s, "search": search, "passes": []}
        log(f"  {name}: indexed in {index_s:.2f} s")

    kefu_runs = []
    for r in range(args.repeat):  # interleave the engines' passes
        if not args.skip_kefu:
            kefu_runs.append(kefu_run(args.kefu, dataset))
        for name, e in engines.items():
            stats, results = timed_pass(e["search"], queries)
            stats["ndcg@10"] = statistics.fmean(
                ndcg10(qid, hits, qrels.get(qid, set())) for (qid, _), hits in zip(queries, results))
            e["passes"].append(stats)
        log(f"  pass {r + 1}/{args.repeat} done")

    median = lambda runs: sorted(runs, key=lambda s: s["qps"])[(len(runs) - 1) // 2]
    rows = {}
    if kefu_runs:
        rows["kefu"] = median(kefu_runs)
    for name, e in engines.items():
        rows[name] = {"index_s": e["index_s"], **median(e["passes"])}
    ratios = {f"kefu/{n}": rows["kefu"]["qps"] / rows[n]["qps"] for n in engines if "kefu" in rows}

    if args.json:
        print(json.dumps({"dataset": dataset.name, "chinese": chinese, "passages": len(texts),
                          "queries": len(queries), "k": args.k, "repeat": args.repeat,
                          "engines": rows, "qps_ratios": ratios}, indent=2))
        return
    cols = ("index_s", "qps", "p50_ms", "p99_ms", "ndcg@10")
    digits = {"index_s": 2, "qps": 1, "p50_ms": 3, "p99_ms": 3, "ndcg@10": 4}
    fmt = lambda c, v: "n/a" if v is None else f"{v:.{digits[c]}f}"
    print(f"{dataset.name}: {len(texts)} passages, {len(queries)} queries, top-{args.k}, "
          f"one thread, median of {args.repeat} passes")
    print(f"{'engine':<15}" + "".join(f"{c:>11}" for c in cols))
    for name, row in rows.items():
        print(f"{name:<15}" + "".join(f"{fmt(c, row.get(c)):>11}" for c in cols))
    for name, ratio in ratios.items():
        print(f"{name.replace('/', ' qps ÷ ')} qps: {ratio:.2f}x")


if __name__ == "__main__":
    main()
