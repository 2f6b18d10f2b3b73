#!/usr/bin/env python3
"""Bounded soak and attack test of `kefu serve` on loopback (Python 3.11 standard library only).

It builds its own workspace in a temporary folder: a config copied from ./config.toml whose
index and managed-document folders live in that folder (the corpus is the repository's, read
only; the model cache is the usual one), bound to 127.0.0.1:0, with the demo keys, and with
`[answer.llm]` pointing at a stand-in OpenAI-compatible server of this script that, in a
configurable share of requests, hangs (never answers, or sends one chunk and stalls).

Soak (--minutes): a few client threads send a mix of bot BM25 and hybrid searches, answers
(extractive, streamed, LLM, streamed LLM), writer PUTs of uploaded documents (Markdown, HTML,
text; each with a unique marker word), DELETEs of some of them, reindexes and job look-ups, while
the server is killed with SIGKILL and restarted every quarter of the soak (new port, same
workspace). Failures while the server is down count as "during restart", not as errors. At the
end it waits for the jobs to drain and checks that every acknowledged PUT not later deleted is
there (GET 200 with its marker; searchable) and every acknowledged DELETE is gone (404).

Attacks (findings 3-7 of the security report of 82967c7), each ~30 s while a probe sends a
trivial bot BM25 search every 100 ms; the probe's p50/p99/max and non-200 count per attack, with
PASS when its p99 is at most 100 ms. A server the attack leaves wedged is killed and restarted
before the next attack.

    python3 benches/soak.py [--kefu target/release/kefu] [--minutes 10] [--seed 1] [--json]
                            [--attacks-only | --soak-only]

It measures and always exits 0 unless the script itself fails (Ctrl-C: 130). The server is
killed and the temporary folder removed at exit.
"""
import argparse
import atexit
import collections
import http.client
import json
import math
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KEYS = {
    "bot": "demo-bot-key",
    "agent": "demo-agent-key",
    "writer": "demo-writer-key",
    "admin": "demo-admin-key",
}
SOCK_TIMEOUT = 15.0          # every socket of this script
STREAM_DEADLINE = 30.0       # whole-response limit when reading a body
PROBE_BODY = {"query": "warranty", "top_k": 3, "mode": "bm25"}
PROBE_TARGET_P99_MS = 100.0
T0 = time.monotonic()

EN_QUERIES = [
    "warranty", "How do I remove the transit bolts?",
    "How long is the standard warranty on the X9 Pro?", "return policy for opened items",
    "how to reset the TV remote", "air conditioner filter cleaning", "earbuds will not pair",
    "shipping time", "error E21 washing machine", "screen cracked is it covered",
]
ZH_QUERIES = [
    "屏幕碎了保修吗", "X9 Pro 的标准保修期是多久？", "洗衣机显示E21是什么意思", "退货政策",
    "空调滤网怎么清洗", "耳机连不上蓝牙怎么办", "电视遥控器怎么重置", "延保多少钱",
]
QUESTIONS = [
    "How long is the standard warranty on the X9 Pro?", "How do I remove the transit bolts?",
    "What does error E21 mean on the washing machine?", "Can I return an opened phone?",
    "X9 Pro 的标准保修期是多久？", "屏幕碎了保修吗", "洗衣机显示E21是什么意思",
]


def log(msg: str) -> None:
    print(f"[soak {time.monotonic() - T0:7.1f}s] {msg}", file=sys.stderr, flush=True)


def pct(values, p: float):
    """Nearest-rank percentile (None for no values)."""
    if not values:
        return None
    s = sorted(values)
    k = max(0, min(len(s) - 1, math.ceil(p / 100.0 * len(s)) - 1))
    return s[k]


def fmt_ms(v) -> str:
    return "-" if v is None else (f"{v:.1f}" if v < 1000 else f"{v:,.0f}")


# --------------------------------------------------------------------------------------------
# TOML writing (tomllib reads; the standard library has no writer)

def _toml_key(k: str) -> str:
    bare = k and all(c.isascii() and (c.isalnum() or c in "-_") for c in k)
    return k if bare else json.dumps(k, ensure_ascii=False)


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if v != v:
            return "nan"
        if v in (float("inf"), float("-inf")):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(f"cannot write {type(v).__name__} as TOML")


def _is_table_array(v) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(x, dict) for x in v)


def dump_toml(data: dict) -> str:
    lines = []

    def emit(table: dict, prefix: str) -> None:
        for k, v in table.items():
            if not isinstance(v, dict) and not _is_table_array(v):
                lines.append(f"{_toml_key(k)} = {_toml_value(v)}")
        for k, v in table.items():
            name = prefix + _toml_key(k)
            if isinstance(v, dict):
                lines.append("")
                lines.append(f"[{name}]")
                emit(v, name + ".")
            elif _is_table_array(v):
                for item in v:
                    lines.append("")
                    lines.append(f"[[{name}]]")
                    emit(item, name + ".")

    emit(data, "")
    return "\n".join(lines).lstrip("\n") + "\n"


def apply_overrides(cfg: dict, sets) -> None:
    """`section.key=value` (a TOML value; a bare word is a string) into the configuration."""
    for item in sets or []:
        dotted, eq, raw = item.partition("=")
        if not eq or not dotted.strip():
            raise SystemExit(f"soak: --set wants section.key=value, not {item!r}")
        try:
            value = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw
        *path, last = [p.strip() for p in dotted.split(".")]
        t = cfg
        for part in path:
            t = t.setdefault(part, {})
        t[last] = value


def workspace_config(src: Path, ws: Path, corpus: Path, llm_base: str, vectors: bool) -> dict:
    """The repository's configuration with this run's folders, port, log level and LLM."""
    src = src.resolve()
    cfg = tomllib.loads(src.read_text()) if src.is_file() else {}
    base = src.parent

    def absolute(p: str) -> str:
        return p if not p or Path(p).is_absolute() else str(base / p)

    cfg.setdefault("corpus", {})
    cfg["corpus"]["dir"] = str(corpus)
    cfg["corpus"]["managed_dir"] = str(ws / "managed")
    cfg.setdefault("index", {})["dir"] = str(ws / "indexes")
    analysis = cfg.setdefault("analysis", {})
    analysis["user_dict"] = absolute(analysis.get("user_dict", "corpus/dict/user.dict"))
    rerank = cfg.setdefault("rerank", {})
    if rerank.get("model"):
        rerank["model"] = absolute(rerank["model"])
    if isinstance(rerank.get("cross_encoder"), dict):
        for k in ("onnx", "tokenizer"):
            if rerank["cross_encoder"].get(k):
                rerank["cross_encoder"][k] = absolute(rerank["cross_encoder"][k])
    models = cfg.setdefault("models", {})
    if models.get("cache_dir"):          # "" (the default cache) stays as it is
        models["cache_dir"] = absolute(models["cache_dir"])
    if not vectors:
        cfg.setdefault("vector", {})["enabled"] = False
    cfg.setdefault("http", {})["bind"] = "127.0.0.1:0"
    cfg.setdefault("log", {})["level"] = "warn"
    cfg.setdefault("answer", {})["llm"] = {
        "base_url": llm_base,
        "model": "soak-stand-in",
        "max_tokens": 200,
        "connect_timeout_ms": 1000,
        "timeout_ms": 2000,
        "total_timeout_ms": 6000,
    }
    return cfg


# --------------------------------------------------------------------------------------------
# The LLM stand-in

class LLMStandIn:
    """POST /v1/chat/completions, streamed (SSE chunks, then `data: [DONE]`) or not. A share
    `hang` of the requests is read and never answered; a share `stall` gets the headers and one
    chunk, then nothing. Other replies quote the first sentence of passages [1] and [2]."""

    HOLD_S = 45.0   # how long a hanging reply holds its connection at most

    def __init__(self, hang: float, stall: float, seed: int):
        self.hang, self.stall = hang, stall
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.counts = collections.Counter()
        self.stop = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            timeout = SOCK_TIMEOUT
            disable_nagle_algorithm = True

            def log_message(self, *a):
                pass

            def do_POST(self):
                try:
                    owner._handle(self)
                except (BrokenPipeError, ConnectionResetError, socket.timeout, OSError):
                    with owner.lock:
                        owner.counts["client_gone"] += 1

            def do_GET(self):
                self._plain(404, {"error": {"message": "not here"}})

            def _plain(self, code, obj):
                data = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.2},
                                       name="llm-stand-in", daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def _choose(self) -> str:
        with self.lock:
            r = self.rng.random()
        return "hang" if r < self.hang else "stall" if r < self.hang + self.stall else "ok"

    @staticmethod
    def reply_text(messages) -> str:
        user = next((m.get("content", "") for m in reversed(messages or [])
                     if isinstance(m, dict) and m.get("role") == "user"), "")
        zh = user.startswith("资料")
        out = []
        for n in (1, 2):
            head = user.find(f"[{n}] ")
            if head < 0:
                continue
            start = user.find("\n", head)
            if start < 0:
                continue
            end = user.find("\n\n", start + 1)
            text = user[start + 1: end if end > 0 else len(user)].strip()
            cut = [i for i in (text.find(". "), text.find("。"), text.find("! "), text.find("? "))
                   if i > 0]
            sent = (text[:min(cut)] if cut else text).rstrip(" .。!?！？")
            if sent:
                out.append(f"{sent}[{n}]。" if zh else f"{sent} [{n}].")
        if not out:
            return "我不知道。" if zh else "I don't know."
        return ("" if zh else " ").join(out)

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        if not h.path.rstrip("/").endswith("/chat/completions"):
            h._plain(404, {"error": {"message": f"no route {h.path}"}})
            return
        n = int(h.headers.get("Content-Length") or 0)
        try:
            req = json.loads(h.rfile.read(min(n, 8 << 20)) or b"{}")
        except ValueError:
            h._plain(400, {"error": {"message": "bad json"}})
            return
        mode = self._choose()
        with self.lock:
            self.counts[mode] += 1
        if mode == "hang":
            self._hold(h)
            return                       # the connection closes without a reply
        text = self.reply_text(req.get("messages"))
        model = req.get("model", "stand-in")
        if not req.get("stream"):
            h._plain(200, {"id": "chatcmpl-soak", "object": "chat.completion", "model": model,
                           "choices": [{"index": 0, "finish_reason": "stop",
                                        "message": {"role": "assistant", "content": text}}]})
            return
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.send_header("Cache-Control", "no-cache")
        h.send_header("Connection", "close")
        h.end_headers()

        def chunk(delta, finish=None):
            obj = {"id": "chatcmpl-soak", "object": "chat.completion.chunk", "created": int(time.time()),
                   "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
            h.wfile.write(b"data: " + json.dumps(obj, ensure_ascii=False).encode() + b"\n\n")
            h.wfile.flush()

        step = 4 if text[:1] and "\u4e00" <= text[0] <= "\u9fff" else 12
        pieces = [text[i:i + step] for i in range(0, len(text), step)]
        chunk({"role": "assistant", "content": pieces[0]})
        if mode == "stall":
            self._hold(h)
            return
        for p in pieces[1:]:
            time.sleep(0.002)
            chunk({"content": p})
        chunk({}, "stop")
        h.wfile.write(b"data: [DONE]\n\n")
        h.wfile.flush()

    def _hold(self, h) -> None:
        """Says nothing until the client goes away, the stand-in stops, or HOLD_S passes."""
        t = time.monotonic()
        while time.monotonic() - t < self.HOLD_S and not self.stop.wait(0.25):
            try:
                if h.connection.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b"":
                    return
            except BlockingIOError:
                continue
            except OSError:
                return

    def close(self) -> None:
        self.stop.set()
        try:
            self.httpd.shutdown()
            self.httpd.server_close()
        except OSError:
            pass
        self.thread.join(timeout=5)


# --------------------------------------------------------------------------------------------
# The server under test

class Server:
    """One `kefu serve` at a time on the workspace; kill -9 and restart on a new port."""

    def __init__(self, kefu: str, config: Path, ws: Path, ready_timeout: float):
        self.kefu, self.config, self.ws = kefu, config, ws
        self.ready_timeout = ready_timeout
        self.lock = threading.Lock()
        self.proc = None
        self.host, self.port = None, None
        self.epoch = 0
        self.restarting = threading.Event()
        self.restarts = []          # {"at_s", "reason", "down_s", "ready_s"}
        self.crashes = []
        self.starts = 0
        self.closed = False         # set at exit: nothing starts a server any more
        self._reader = None
        env = {k: v for k, v in os.environ.items()
               if k != "RUST_LOG" and k != "KEFU_API_KEYS"
               and not (k.startswith("KEFU__") and not k.startswith("KEFU__MODELS__"))}
        self.env = env

    def addr(self):
        with self.lock:
            return self.host, self.port, self.epoch

    def pid(self):
        p = self.proc
        return p.pid if p is not None and p.poll() is None else None

    def log_tail(self, n: int = 600) -> str:
        try:
            with open(self.ws / "kefu.log", "rb") as f:
                f.seek(0, 2)
                size = f.tell()
                f.seek(max(0, size - n))
                return f.read().decode("utf-8", "replace").strip().replace("\n", " | ")
        except OSError:
            return ""

    def start(self) -> float:
        """Starts the server and waits for /readyz 200; returns the seconds it took."""
        t = time.monotonic()
        if self.closed:
            raise RuntimeError("the run is over")
        logf = open(self.ws / "kefu.log", "ab")
        self.starts += 1
        proc = subprocess.Popen(
            [self.kefu, "--config", str(self.config), "serve", "--bind", "127.0.0.1:0"],
            cwd=self.ws, stdout=subprocess.PIPE, stderr=logf, stdin=subprocess.DEVNULL,
            env=self.env, start_new_session=True)
        logf.close()
        self.proc = proc
        if self.closed:                 # closed while starting: do not leave it behind
            self.kill()
            raise RuntimeError("the run is over")
        found = threading.Event()
        addr = {}

        def read():
            for raw in proc.stdout:
                line = raw.decode("utf-8", "replace").strip()
                if not found.is_set() and line.startswith("kefu: listening on http://"):
                    hp = line.removeprefix("kefu: listening on http://").strip().rstrip("/")
                    h, _, p = hp.rpartition(":")
                    addr["host"], addr["port"] = h.strip("[]"), int(p)
                    found.set()
            found.set()

        self._reader = threading.Thread(target=read, name="kefu-stdout", daemon=True)
        self._reader.start()
        deadline = t + self.ready_timeout
        last_note = t
        while not found.wait(1.0):
            if proc.poll() is not None:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"kefu did not print its address within {self.ready_timeout:.0f} s")
            if time.monotonic() - last_note > 20:
                last_note = time.monotonic()
                log(f"waiting for kefu to listen ({last_note - t:.0f} s; fetching models?) "
                    f"log: {self.log_tail(200)}")
        if "port" not in addr:
            raise RuntimeError(f"kefu exited (code {proc.poll()}) before listening; log: {self.log_tail()}")
        with self.lock:
            self.host, self.port = addr["host"], addr["port"]
        while True:
            if self.closed:
                raise RuntimeError("the run is over")
            if proc.poll() is not None:
                raise RuntimeError(f"kefu exited (code {proc.returncode}) before ready; log: {self.log_tail()}")
            res = http_once(self.host, self.port, "GET", "/readyz", timeout=5)
            if res.status == 200:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"/readyz not 200 within {self.ready_timeout:.0f} s")
            if time.monotonic() - last_note > 20:
                last_note = time.monotonic()
                job = http_once(self.host, self.port, "GET", "/v1/jobs/1", KEYS["writer"], timeout=5)
                j = job.json() if job.status == 200 else None
                what = (f"startup job {j.get('state')} {json.dumps(j.get('progress'))}"
                        if isinstance(j, dict) else f"log: {self.log_tail(200)}")
                log(f"waiting for /readyz ({last_note - t:.0f} s; building the index on first "
                    f"start) {what}")
            time.sleep(0.5)
        return time.monotonic() - t

    def kill(self) -> None:
        proc = self.proc
        with self.lock:
            self.host, self.port = None, None
        if proc is None:
            return
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)     # its own session: kefu and its children
            except (ProcessLookupError, PermissionError):
                pass
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pass
        if self._reader:
            self._reader.join(timeout=5)    # the pipe ends with the process
        if proc.stdout and not (self._reader and self._reader.is_alive()):
            proc.stdout.close()
        self.proc = None

    def close(self) -> None:
        self.closed = True
        self.kill()

    def restart(self, reason: str, remove_ids=()) -> dict:
        """kill -9, optionally removes uploaded files of `remove_ids` from the workspace while
        the server is down, starts again and waits until ready."""
        self.restarting.set()
        t = time.monotonic()
        try:
            self.kill()
            for doc_id in remove_ids:
                for f in (self.ws / "managed").glob(f"{doc_id}.*"):
                    f.unlink(missing_ok=True)
            with self.lock:
                self.epoch += 1
            ready = self.start()
        finally:
            self.restarting.clear()
        rec = {"at_s": round(t - T0, 1), "reason": reason, "down_s": round(time.monotonic() - t, 2),
               "ready_s": round(ready, 2)}
        self.restarts.append(rec)
        log(f"restarted ({reason}): ready after {rec['down_s']} s on port {self.port}")
        return rec

    def rss_mib(self):
        pid = self.pid()
        if pid is None:
            return None
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
        except (OSError, ValueError, IndexError):
            return None
        return None


# --------------------------------------------------------------------------------------------
# HTTP

class _Conn(http.client.HTTPConnection):
    """No Nagle delay on the client's side either."""

    def connect(self):
        super().connect()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class Res:
    __slots__ = ("status", "headers", "body", "ms", "error", "restart", "epoch")

    def __init__(self, status=None, headers=None, body=b"", ms=0.0, error=None, restart=False):
        self.status, self.headers, self.body = status, headers or {}, body
        self.ms, self.error, self.restart = ms, error, restart
        self.epoch = None

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None


def _read_body(resp, deadline: float) -> bytes:
    parts = []
    while True:
        if time.monotonic() > deadline:
            raise TimeoutError("response body over the read deadline")
        b = resp.read1(65536)
        if not b:
            resp.close()    # read1 leaves a finished response open: the connection could not be reused
            return b"".join(parts)
        parts.append(b)


def _headers(key, body):
    h = {"Host": "127.0.0.1"}
    if key:
        h["Authorization"] = f"Bearer {key}"
    if body is not None:
        h["Content-Type"] = "application/json"
    return h


def _encode(body):
    if body is None or isinstance(body, (bytes, bytearray)):
        return body
    return json.dumps(body, ensure_ascii=False).encode()


def http_once(host, port, method, path, key=None, body=None, timeout=SOCK_TIMEOUT) -> Res:
    """One request on its own connection."""
    t = time.monotonic()
    if port is None:
        return Res(error="server down", ms=0.0)
    conn = _Conn(host, port, timeout=timeout)
    try:
        conn.request(method, path, body=_encode(body), headers=_headers(key, body))
        resp = conn.getresponse()
        data = _read_body(resp, t + max(timeout, STREAM_DEADLINE))
        return Res(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data,
                   (time.monotonic() - t) * 1e3)
    except (OSError, http.client.HTTPException, TimeoutError) as e:
        return Res(error=type(e).__name__, ms=(time.monotonic() - t) * 1e3)
    finally:
        conn.close()


class Client:
    """A keep-alive connection that follows the server across restarts."""

    def __init__(self, server: Server):
        self.server = server
        self.conn = None
        self.target = None
        self.last_used = 0.0

    def close(self):
        if self.conn is not None:
            self.conn.close()
        self.conn = None

    def request(self, method, path, key=None, body=None, timeout=SOCK_TIMEOUT) -> Res:
        host, port, epoch = self.server.addr()
        during = self.server.restarting.is_set()
        t = time.monotonic()
        if port is None:
            time.sleep(0.2)
            return Res(error="server down", ms=0.0, restart=True)
        # reconnect after a restart, and when idle long enough for the server to drop it
        if self.conn is None or self.target != (host, port) or t - self.last_used > 2.0:
            self.close()
            self.conn = _Conn(host, port, timeout=timeout)
            self.target = (host, port)
        self.conn.timeout = timeout
        if self.conn.sock is not None:
            self.conn.sock.settimeout(timeout)
        try:
            self.conn.request(method, path, body=_encode(body), headers=_headers(key, body))
            resp = self.conn.getresponse()
            data = _read_body(resp, t + max(timeout, STREAM_DEADLINE))
            if resp.will_close:
                self.close()
            res = Res(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data,
                      (time.monotonic() - t) * 1e3)
        except (OSError, http.client.HTTPException, TimeoutError) as e:
            self.close()
            res = Res(error=type(e).__name__, ms=(time.monotonic() - t) * 1e3)
        self.last_used = time.monotonic()
        res.restart = during or self.server.restarting.is_set() or self.server.addr()[2] != epoch
        res.epoch = epoch
        return res


# --------------------------------------------------------------------------------------------
# Recording

class Stats:
    """Per request kind: status counts, latencies, errors and what failed during restarts."""

    def __init__(self):
        self.lock = threading.Lock()
        self.kinds = collections.defaultdict(lambda: {
            "status": collections.Counter(), "lat": [], "errors": collections.Counter(),
            "restart": collections.Counter(), "shed": 0, "extra": collections.Counter()})

    def record(self, kind: str, res: Res, extra: str = None) -> None:
        with self.lock:
            k = self.kinds[kind]
            if extra:
                k["extra"][extra] += 1
            failed = res.status is None or res.status >= 500
            if res.restart and failed:
                k["restart"][str(res.status or res.error)] += 1
                return
            if res.status is None:
                k["status"]["transport"] += 1
                k["errors"][f"transport: {res.error}"] += 1
                return
            k["status"][str(res.status)] += 1
            k["lat"].append(res.ms)
            if res.status in (503, 429):
                if "retry-after" in res.headers:
                    k["shed"] += 1
                else:
                    j = res.json()
                    err = j.get("error") if isinstance(j, dict) else None
                    code = err.get("code", "?") if isinstance(err, dict) else "?"
                    k["errors"][f"{res.status} without Retry-After ({code})"] += 1
            elif res.status >= 500:
                k["errors"][str(res.status)] += 1

    def summary(self) -> dict:
        out = {}
        with self.lock:
            for kind in sorted(self.kinds):
                k = self.kinds[kind]
                out[kind] = {
                    "requests": sum(k["status"].values()) + sum(k["restart"].values()),
                    "status": dict(sorted(k["status"].items())),
                    "p50_ms": pct(k["lat"], 50), "p99_ms": pct(k["lat"], 99),
                    "max_ms": max(k["lat"]) if k["lat"] else None,
                    "errors": sum(k["errors"].values()),
                    "error_reasons": dict(k["errors"]),
                    "shed_with_retry_after": k["shed"],
                    "during_restart": sum(k["restart"].values()),
                    "during_restart_detail": dict(k["restart"]),
                    "detail": dict(k["extra"]),
                }
        return out


class RssSampler(threading.Thread):
    def __init__(self, server: Server, every: float = 5.0):
        super().__init__(name="rss", daemon=True)
        self.server, self.every = server, every
        self.stop = threading.Event()
        self.samples = []   # (t_s, phase, rss_mib)
        self.phase = "start"

    def run(self):
        while not self.stop.is_set():
            v = self.server.rss_mib()
            if v is not None:
                self.samples.append((round(time.monotonic() - T0, 1), self.phase, round(v, 1)))
            self.stop.wait(self.every)

    def summary(self, phase=None) -> dict:
        s = [x for x in self.samples if phase is None or x[1] == phase]
        if not s:
            return {"samples": 0}
        vals = [x[2] for x in s]
        step = max(1, len(s) // 12)
        series = s[::step]
        if series[-1] is not s[-1]:
            series.append(s[-1])
        return {"samples": len(s), "min_mib": min(vals), "max_mib": max(vals), "last_mib": vals[-1],
                "series": [[t, v] for t, _, v in series]}


# --------------------------------------------------------------------------------------------
# Soak

class Pacer:
    """At most `rate` grants per second over all threads."""

    def __init__(self, rate: float):
        self.gap = 1.0 / rate if rate > 0 else float("inf")
        self.next = time.monotonic()
        self.lock = threading.Lock()

    def take(self) -> bool:
        with self.lock:
            now = time.monotonic()
            if now < self.next:
                return False
            self.next = max(self.next + self.gap, now - self.gap)
            return True


class Docs:
    """What the writers were told: acknowledged PUTs and DELETEs, and the unclear ones."""

    def __init__(self, tag: str):
        self.lock = threading.Lock()
        self.acked = {}         # id -> {"marker", "format"}
        self.deleted = set()    # acknowledged DELETEs
        self.unacked = {}       # PUTs answered otherwise (or not at all): id -> marker
        self.unclear = set()    # DELETE without a clear answer: the document may be either
        self.deletable = []
        self.jobs = []          # (epoch, job id)
        self.n = 0
        self.tag = tag

    def new_id(self) -> str:
        with self.lock:
            self.n += 1
            return f"soak-{self.tag}-{self.n:05d}"


MARKER_LETTERS = "bcdfghjklmnpqrstvwxz"


def make_marker(rng: random.Random) -> str:
    return "qz" + "".join(rng.choice(MARKER_LETTERS) for _ in range(10))


def make_upload(rng: random.Random, doc_id: str, marker: str):
    fmt = rng.choice(["markdown", "html", "text"])
    if fmt == "markdown":
        content = (f"# Soak note {doc_id}\n\nThe soak test wrote this note about the {marker} "
                   f"procedure for the X9 Pro.\n\n## Details\n\nFirst check the {marker} setting, "
                   "then restart the device and wait a minute.\n")
    elif fmt == "html":
        content = (f"<html><head><title>Soak page {doc_id}</title></head><body><h1>Soak page</h1>"
                   f"<p>The {marker} procedure for the washing machine is described here.</p>"
                   "<p>Unplug the machine before you start.</p></body></html>")
    else:
        content = (f"Soak text {doc_id}\n\nThis plain text note explains the {marker} step for the "
                   "earbuds.\n\nKeep the case closed while charging.\n")
    meta = {"doc_type": rng.choice(["note", "faq"]), "audience": rng.choice(["public", "internal"])}
    return fmt, {"format": fmt, "content": content, "metadata": meta}


def soak_worker(idx, server, stats, docs, deadline, seed, write_pacer, reindex_pacer):
    rng = random.Random(seed * 1000 + idx)
    cl = Client(server)
    weights = [("search_bm25", 30), ("search_hybrid", 18), ("answer", 7), ("answer_stream", 5),
               ("answer_llm", 5), ("answer_llm_stream", 4), ("write", 14), ("job", 5)]
    names = [w[0] for w in weights]
    cum = [w[1] for w in weights]
    try:
        while time.monotonic() < deadline:
            try:
                res = one_soak_request(rng, cl, server, stats, docs, names, cum, write_pacer,
                                       reindex_pacer)
                if res is not None and res.status in (429, 503) and "retry-after" in res.headers:
                    time.sleep(rng.uniform(0.2, 0.5))   # a polite client: back off a little
            except Exception as e:      # a bug of this script: count it and go on
                with stats.lock:
                    stats.kinds["script"]["errors"][f"{type(e).__name__}: {e}"[:120]] += 1
                time.sleep(0.1)
            time.sleep(rng.uniform(0, 0.02))
    finally:
        cl.close()


def one_soak_request(rng, cl, server, stats, docs, names, cum, write_pacer, reindex_pacer):
    """One request of the mix; returns its result (None when there was nothing to do)."""
    kind = rng.choices(names, weights=cum)[0]
    if kind == "write":
        if reindex_pacer.take():
            kind = "reindex"
        elif write_pacer.take():
            kind = "delete" if rng.random() < 0.3 else "put"
        else:
            kind = "search_bm25"
    if kind in ("search_bm25", "search_hybrid"):
        key = KEYS["bot"] if rng.random() < 0.8 else KEYS["agent"]
        body = {"query": rng.choice(EN_QUERIES + ZH_QUERIES), "top_k": rng.choice([3, 5, 10]),
                "mode": "bm25" if kind == "search_bm25" else "hybrid"}
        res = cl.request("POST", "/v1/search", key, body)
        stats.record(kind, res)
        return res
    if kind.startswith("answer"):
        body = {"question": rng.choice(QUESTIONS),
                "composer": "llm" if "llm" in kind else "extractive"}
        if kind.endswith("stream"):
            body["stream"] = True
        res = cl.request("POST", "/v1/answer", KEYS["bot"], body)
        stats.record(kind, res, answer_detail(res, body.get("stream", False)))
        return res
    if kind == "put":
        doc_id = docs.new_id()
        marker = make_marker(rng)
        fmt, body = make_upload(rng, doc_id, marker)
        res = cl.request("PUT", f"/v1/documents/{doc_id}", KEYS["writer"], body)
        stats.record("put", res)
        with docs.lock:
            if res.status == 202:
                docs.acked[doc_id] = {"marker": marker, "format": fmt}
                docs.deletable.append(doc_id)
                j = res.json()
                if isinstance(j, dict) and "id" in j:
                    docs.jobs.append((res.epoch, j["id"]))
            else:
                docs.unacked[doc_id] = marker
        return res
    if kind == "delete":
        with docs.lock:
            doc_id = docs.deletable.pop(rng.randrange(len(docs.deletable))) \
                if docs.deletable else None
        if doc_id is None:
            return None
        res = cl.request("DELETE", f"/v1/documents/{doc_id}", KEYS["writer"])
        stats.record("delete", res)
        with docs.lock:
            if res.status == 202:
                docs.deleted.add(doc_id)
            elif res.status == 404:
                pass    # the acknowledged document is missing: the final check counts it
            else:
                docs.unclear.add(doc_id)
        return res
    if kind == "reindex":
        res = cl.request("POST", "/v1/reindex", KEYS["writer"])
        stats.record("reindex", res)
        j = res.json() if res.status == 202 else None
        if isinstance(j, dict) and "id" in j:
            with docs.lock:
                docs.jobs.append((res.epoch, j["id"]))
        return res
    if kind == "job":
        epoch = server.addr()[2]
        with docs.lock:
            mine = [j for e, j in docs.jobs[-50:] if e == epoch]
        if not mine:
            return None
        res = cl.request("GET", f"/v1/jobs/{rng.choice(mine)}", KEYS["writer"])
        j = res.json() if res.status == 200 else None
        stats.record("job", res, j.get("state") if isinstance(j, dict) else None)
        return res
    return None


def answer_detail(res: Res, stream: bool):
    """How an answer ended: the composer that wrote it, or the last SSE event."""
    if res.status != 200:
        return None
    if not stream:
        j = res.json()
        if not isinstance(j, dict):
            return "not json"
        return f"composer={j.get('composer')}" + (" abstained" if j.get("abstained") else "")
    events, last_data = [], None
    for block in res.body.decode("utf-8", "replace").split("\n\n"):
        ev = data = None
        for line in block.split("\n"):
            if line.startswith("event:"):
                ev = line[6:].strip()
            elif line.startswith("data:"):
                data = line[5:].strip()
        if ev:
            events.append(ev)
            last_data = data
    if not events:
        return "sse: no events"
    tail = events[-1]
    if tail == "answer":
        try:
            comp = json.loads(last_data).get("composer")
        except (ValueError, TypeError, AttributeError):
            comp = "?"
        return f"sse end=answer composer={comp}" + (" after reset" if "reset" in events else "")
    return f"sse end={tail}"


def restarter(server: Server, stop: threading.Event, deadline: float, interval: float, rng):
    """kill -9 and restart every ~interval; restarts a server that died by itself too."""
    nxt = time.monotonic() + interval * rng.uniform(0.8, 1.2)
    while not stop.is_set():
        now = time.monotonic()
        proc = server.proc
        if server.closed:
            return
        if proc is not None and proc.poll() is not None and not server.restarting.is_set():
            server.crashes.append({"at_s": round(now - T0, 1), "code": proc.returncode,
                                   "log": server.log_tail(400)})
            log(f"kefu exited by itself (code {proc.returncode}); restarting")
            try:
                server.restart("unexpected exit")
            except RuntimeError as e:
                log(f"restart failed: {e}")
                return
            nxt = time.monotonic() + interval * rng.uniform(0.8, 1.2)
            continue
        if now >= nxt and now < deadline - interval * 0.3:
            try:
                server.restart("fault injection: kill -9")
            except RuntimeError as e:
                log(f"restart failed: {e}")
                return
            nxt = time.monotonic() + interval * rng.uniform(0.8, 1.2)
        stop.wait(0.5)


def wait_job(server: Server, job_id, timeout: float):
    """Polls a job until it is finished; returns (state, seconds, job), or (last state, None,
    None) when it did not finish in time."""
    t = time.monotonic()
    state = None
    last_note = t
    while time.monotonic() - t < timeout:
        h, p, _ = server.addr()
        res = http_once(h, p, "GET", f"/v1/jobs/{job_id}", KEYS["writer"], timeout=10)
        j = res.json() if res.status == 200 else None
        if isinstance(j, dict):
            state = j.get("state")
            if state not in ("queued", "running"):      # succeeded, failed, cancelled, ...
                return state, time.monotonic() - t, j
        elif res.status == 404:
            return "unknown (404)", None, None
        if time.monotonic() - last_note > 30:
            last_note = time.monotonic()
            log(f"waiting for job {job_id}: {state} {json.dumps((j or {}).get('progress'))}")
        time.sleep(0.5)
    return state, None, None


def doc_search_hit(server: Server, doc_id: str, marker: str) -> bool:
    h, p, _ = server.addr()
    res = http_once(h, p, "POST", "/v1/search", KEYS["agent"],
                    {"query": marker, "top_k": 5, "mode": "bm25"}, timeout=10)
    j = res.json() if res.status == 200 else None
    return isinstance(j, dict) and any(x.get("doc_id") == doc_id for x in j.get("hits", []))


def verify(server: Server, docs: Docs, drain_timeout: float, search_sample: int, rng) -> dict:
    """After the soak: drain the jobs, then check every acknowledged write."""
    out = {}
    h, p, _ = server.addr()
    res = http_once(h, p, "POST", "/v1/reindex", KEYS["writer"])
    j = res.json() if res.status == 202 else None
    if isinstance(j, dict) and "id" in j:
        log(f"draining jobs: waiting for reindex job {j['id']} (behind every earlier job)")
        state, secs, job = wait_job(server, j["id"], drain_timeout)
        out["drain"] = {"job": j["id"], "state": state, "seconds": None if secs is None else round(secs, 1)}
        if job and job.get("error"):
            out["drain"]["error"] = job["error"]
    else:
        out["drain"] = {"state": f"reindex not accepted: {res.status or res.error}"}

    def get(doc_id):
        for _ in range(3):
            h, p, _ = server.addr()
            r = http_once(h, p, "GET", f"/v1/documents/{doc_id}", KEYS["writer"], timeout=10)
            if r.status is not None and r.status < 500:
                return r
            time.sleep(0.5)
        return r

    with docs.lock:
        acked = dict(docs.acked)
        deleted, unclear, unacked = set(docs.deleted), set(docs.unclear), dict(docs.unacked)
    live = {d: v for d, v in acked.items() if d not in deleted and d not in unclear}
    missing, wrong = [], []
    for d, v in live.items():
        r = get(d)
        if r.status != 200:
            missing.append({"id": d, "status": r.status or r.error})
        elif v["marker"].encode() not in r.body:
            wrong.append({"id": d, "status": 200, "marker": v["marker"]})
    sample = rng.sample(sorted(live), min(search_sample, len(live)))
    not_found = [d for d in sample if not doc_search_hit(server, d, live[d]["marker"])]
    undone = []
    for d in sorted(deleted):
        r = get(d)
        if r.status != 404:
            undone.append({"id": d, "status": r.status or r.error})
    landed = 0
    for d in unacked:
        r = get(d)
        landed += r.status == 200
    out.update({
        "acknowledged_puts": len(acked), "acknowledged_deletes": len(deleted),
        "unclear_deletes": len(unclear), "checked_present": len(live),
        "missing": missing[:20], "missing_count": len(missing),
        "marker_missing": wrong[:20], "marker_missing_count": len(wrong),
        "search_checked": len(sample), "search_not_found": not_found[:20],
        "search_not_found_count": len(not_found),
        "deletes_undone": undone[:20], "deletes_undone_count": len(undone),
        "unacknowledged_puts": len(unacked), "unacknowledged_puts_present": landed,
    })
    out["lost_acknowledged_writes"] = len(missing) + len(wrong) + len(undone)
    return out


def run_soak(server, rss, args, rng) -> dict:
    seconds = args.minutes * 60.0
    stats, docs = Stats(), Docs(str(args.seed))
    rss.phase = "soak"
    deadline = time.monotonic() + seconds
    interval = max(5.0, seconds / 4.0)          # 10 min: every ~150 s (0.8x-1.2x)
    stop = threading.Event()
    write_pacer = Pacer(args.write_rate)
    reindex_pacer = Pacer(1.0 / max(10.0, seconds / 8.0))
    reindex_pacer.next = time.monotonic() + min(30.0, seconds / 8.0)
    log(f"soak: {seconds:.0f} s, {args.clients} clients, kill -9 every ~{interval:.0f} s, "
        f"writes <= {args.write_rate}/s")
    workers = [threading.Thread(target=soak_worker, name=f"soak-{i}", daemon=True,
                                args=(i, server, stats, docs, deadline, args.seed, write_pacer,
                                      reindex_pacer)) for i in range(args.clients)]
    killer = threading.Thread(target=restarter, name="restarter", daemon=True,
                              args=(server, stop, deadline, interval, random.Random(args.seed + 7)))
    t = time.monotonic()
    for w in workers:
        w.start()
    killer.start()
    last = t
    while any(w.is_alive() for w in workers):
        for w in workers:
            w.join(timeout=1.0)
        if time.monotonic() - last > 30:
            last = time.monotonic()
            s = stats.summary()
            n = sum(k["requests"] for k in s.values())
            e = sum(k["errors"] for k in s.values())
            log(f"soak {last - t:.0f}/{seconds:.0f} s: {n} requests, {e} errors, "
                f"{len(docs.acked)} PUTs acknowledged, restarts {len(server.restarts)}, "
                f"RSS {server.rss_mib() or 0:.0f} MiB")
        if time.monotonic() > deadline + 120:
            log("soak workers did not stop in time")
            break
    stop.set()
    killer.join(timeout=server.ready_timeout + 30)
    elapsed = time.monotonic() - t
    summary = stats.summary()
    if server.pid() is None:
        server.restart("server down at the end of the soak")
    rss.phase = "verify"
    log("soak done; verifying acknowledged writes")
    ver = verify(server, docs, args.drain_timeout, args.search_check, rng)
    return {"seconds": round(elapsed, 1), "clients": args.clients, "kinds": summary,
            "requests": sum(k["requests"] for k in summary.values()),
            "errors": sum(k["errors"] for k in summary.values()),
            "during_restart": sum(k["during_restart"] for k in summary.values()),
            "restart_interval_s": round(interval, 1), "verify": ver}


# --------------------------------------------------------------------------------------------
# Attacks

class Probe(threading.Thread):
    """A bot BM25 search every 100 ms, one at a time."""

    def __init__(self, server: Server, every: float = 0.1):
        super().__init__(name="probe", daemon=True)
        self.server, self.every = server, every
        self.stop = threading.Event()
        self.samples = []      # (status or error, ms)

    def run(self):
        cl = Client(self.server)
        try:
            while not self.stop.is_set():
                t = time.monotonic()
                r = cl.request("POST", "/v1/search", KEYS["bot"], PROBE_BODY)
                self.samples.append((r.status if r.status is not None else r.error, r.ms))
                self.stop.wait(max(0.0, t + self.every - time.monotonic()))
        finally:
            cl.close()

    def summary(self) -> dict:
        lat = [ms for _, ms in self.samples]
        bad = collections.Counter(str(s) for s, _ in self.samples if s != 200)
        p99 = pct(lat, 99)
        return {"n": len(lat), "p50_ms": pct(lat, 50), "p99_ms": p99,
                "max_ms": max(lat) if lat else None, "non200": sum(bad.values()),
                "non200_detail": dict(bad),
                "pass": p99 is not None and p99 <= PROBE_TARGET_P99_MS}


def raw_request(method, path, key, length, prefix: bytes) -> bytes:
    head = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n")
    return head.encode() + prefix


def connect(server: Server, timeout=SOCK_TIMEOUT):
    h, p, _ = server.addr()
    if p is None:
        raise ConnectionRefusedError("server down")
    return socket.create_connection((h, p), timeout=timeout)


def heavy_query() -> str:
    words = ("how do I remove the transit bolts from the washing machine before first use and "
             "what does error code mean when the drum will not spin after a power cut while the "
             "warranty covers screen repairs battery swaps and water damage for phones laptops "
             "televisions earbuds and air conditioners bought online or in a store").split()
    out, i = [], 0
    while len(" ".join(out)) < 1990:
        out.append(words[i % len(words)])
        i += 1
    return " ".join(out)[:2000].rsplit(" ", 1)[0]


def attack3(server, ctx):
    """Pathological HTML uploads (quadratic tag scanner)."""
    bodies = {
        "attack3-anchor": "<title>t</title><p>Start text.</p>" + "<a x=" * 200_000,
        "attack3-p": "<title>t</title><p>Start text.</p>" + "<p" * 1_000_000,
        "attack3-comment": "<title>t</title><p>Start text.</p><!--" + "x" * 2_000_000,
    }
    results = {}

    def put(doc_id, content):
        h, p, _ = server.addr()
        r = http_once(h, p, "PUT", f"/v1/documents/{doc_id}", KEYS["writer"],
                      {"format": "html", "content": content}, timeout=SOCK_TIMEOUT)
        results[doc_id] = {"status": r.status or r.error, "ms": round(r.ms),
                           "bytes": len(content)}

    ts = [threading.Thread(target=put, args=kv, daemon=True) for kv in bodies.items()]
    for t in ts:
        t.start()
    for t in ts:
        t.join(timeout=SOCK_TIMEOUT + STREAM_DEADLINE + 5)
    ctx["ids"] = list(bodies)
    if any(not isinstance(r["status"], int) or r["status"] >= 500 for r in results.values()) \
            or len(results) < len(bodies):
        # a PUT that timed out may still be validating, and write its file later (finding 8);
        # its job would then parse it again: start the next attack from a clean state
        ctx["restart_why"] = "a PUT timed out: its validation may still run and write the file later"
    return {"puts": results}


def attack4(server, ctx):
    """40 concurrent heavy bot searches, each abandoned after 1 s."""
    body = json.dumps({"query": heavy_query(), "top_k": 1000, "mode": "hybrid"}).encode()
    answered = collections.Counter()
    barrier = threading.Barrier(40, timeout=10)

    def one():
        try:
            s = connect(server)
        except OSError as e:
            answered[f"connect: {type(e).__name__}"] += 1
            s = None
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            pass
        if s is None:
            return
        try:
            s.sendall(raw_request("POST", "/v1/search", KEYS["bot"], len(body), body))
            t = time.monotonic()
            got = b""
            while time.monotonic() - t < 1.0:
                s.settimeout(max(0.01, 1.0 - (time.monotonic() - t)))
                try:
                    b = s.recv(65536)
                except socket.timeout:
                    break
                if not b:
                    break
                got += b
            answered["first bytes within 1 s" if got else "abandoned after 1 s"] += 1
        except (OSError, threading.BrokenBarrierError) as e:
            answered[type(e).__name__] += 1
        finally:
            s.close()

    ts = [threading.Thread(target=one, daemon=True) for _ in range(40)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(timeout=20)
    return {"heavy_searches": dict(answered), "query_bytes": len(heavy_query().encode())}


def attack5(server, ctx):
    """20 slow writer bodies (16 MB declared, 1 MB sent) and 200 half-sent 60 KB search bodies."""
    socks, problems = [], collections.Counter()
    rss_before = server.rss_mib()
    mb = b'{"format":"text","content":"' + b"a" * (1_000_000 - 29)
    half = b'{"query":"' + b"a" * (30_000 - 10)
    end = ctx["window_end"] - 2.0       # opening the connections is bounded by the window too
    for i in range(20):
        if time.monotonic() > end:
            problems["upload: not opened (window over)"] += 1
            continue
        try:
            s = connect(server, timeout=10)
            s.sendall(raw_request("PUT", f"/v1/documents/attack5-slow-{i}", KEYS["writer"],
                                  16_000_000, mb))
            socks.append(("upload", s))
        except OSError as e:
            problems[f"upload: {type(e).__name__}"] += 1
    for i in range(200):
        if time.monotonic() > end:
            problems["search: not opened (window over)"] += 1
            continue
        try:
            s = connect(server, timeout=10)
            s.sendall(raw_request("POST", "/v1/search", KEYS["bot"], 60_000, half))
            socks.append(("search", s))
        except OSError as e:
            problems[f"search: {type(e).__name__}"] += 1
    ctx["sockets"] = socks
    ctx["rss_before"] = rss_before
    opened_s = round(time.monotonic() - (ctx["window_end"] - ctx["window_s"]), 1)

    def finish():
        """At the end of the window: which connections the server closed or answered."""
        state = collections.Counter()
        for kind, s in socks:
            try:
                s.setblocking(False)
                b = s.recv(512)
                state[f"{kind}: " + ("closed by server" if not b else
                                     "answered " + b.split(b"\r\n", 1)[0].decode("latin-1"))] += 1
            except BlockingIOError:
                state[f"{kind}: still open"] += 1
            except OSError as e:
                state[f"{kind}: {type(e).__name__}"] += 1
            finally:
                s.close()
        return dict(state)

    ctx["finish"] = finish
    return {"opened": collections.Counter(k for k, _ in socks), "opened_in_s": opened_s,
            "problems": dict(problems)}


def attack6(server, ctx):
    """A million-line Markdown upload, then a small PUT and a DELETE of the big one."""
    out = {}
    big = "# Million lines\n\n" + "\n".join(str(i) for i in range(1_000_000))
    h, p, _ = server.addr()
    r = http_once(h, p, "PUT", "/v1/documents/attack6-million", KEYS["writer"],
                  {"format": "markdown", "content": big}, timeout=60)
    out["big_put"] = {"status": r.status or r.error, "ms": round(r.ms), "bytes": len(big)}
    marker = make_marker(ctx["rng"])
    small = {"format": "markdown",
             "content": f"# Small note\n\nThe {marker} step is described in this small note.\n"}
    h, p, _ = server.addr()
    r = http_once(h, p, "PUT", "/v1/documents/attack6-small", KEYS["writer"], small)
    put_t = time.monotonic()
    out["small_put"] = {"status": r.status or r.error, "ms": round(r.ms)}
    h, p, _ = server.addr()
    r = http_once(h, p, "DELETE", "/v1/documents/attack6-million", KEYS["writer"])
    out["big_delete"] = {"status": r.status or r.error, "ms": round(r.ms)}
    ctx["ids"] = ["attack6-million", "attack6-small"]
    ctx["small"] = ("attack6-small", marker, put_t)
    end = ctx["window_end"]
    found = None
    while time.monotonic() < end:
        if doc_search_hit(server, "attack6-small", marker):
            found = time.monotonic() - put_t
            break
        time.sleep(0.5)
    out["small_searchable_s"] = None if found is None else round(found, 1)
    ctx["small_found"] = found is not None
    return out


def attack7(server, ctx):
    """Metadata amplification: 5000 products and 5000 tags on a 200-section document."""
    body = "\n\n".join(f"## Section {i}\n\nThe vorpalite widget section {i} explains step {i}."
                       for i in range(200))
    up = {"format": "markdown", "content": body,
          "metadata": {"products": [f"P{i:05d}" for i in range(5000)],
                       "tags": [f"tag{i}" for i in range(5000)]}}
    out = {"upload_bytes": len(json.dumps(up))}
    h, p, _ = server.addr()
    r = http_once(h, p, "PUT", "/v1/documents/attack7-amp", KEYS["writer"], up, timeout=30)
    out["put"] = {"status": r.status or r.error, "ms": round(r.ms)}
    ctx["ids"] = ["attack7-amp"]
    j = r.json() if r.status == 202 else None
    if isinstance(j, dict) and "id" in j:
        left = max(5.0, ctx["window_end"] - time.monotonic() - 5)
        state, secs, _ = wait_job(server, j["id"], left)
        out["job"] = {"state": state, "seconds": None if secs is None else round(secs, 1)}
    for role in ("bot", "agent"):       # the agent's too: a bot top_k cap may refuse 100
        h, p, _ = server.addr()
        r = http_once(h, p, "POST", "/v1/search", KEYS[role],
                      {"query": "vorpalite widget", "top_k": 100, "mode": "bm25"}, timeout=30)
        j = r.json() if r.status == 200 else None
        hits = j.get("hits", []) if isinstance(j, dict) else []
        out[f"search_{role}_top100"] = {
            "status": r.status or r.error, "ms": round(r.ms), "response_bytes": len(r.body),
            "hits": len(hits), "bytes_per_hit": round(len(r.body) / len(hits)) if hits else None}
    return out


ATTACKS = [
    ("3", "pathological HTML uploads", attack3),
    ("4", "40 abandoned heavy searches", attack4),
    ("5", "slow bodies (20 x 16 MB, 200 x 60 KB)", attack5),
    ("6", "million-line upload, then small PUT", attack6),
    ("7", "metadata amplification (5000+5000)", attack7),
]


def healthy(server: Server, within: float) -> bool:
    """Three probe searches in a row answered 200 within 500 ms, before `within` seconds."""
    t = time.monotonic()
    ok = 0
    while time.monotonic() - t < within:
        h, p, _ = server.addr()
        r = http_once(h, p, "POST", "/v1/search", KEYS["bot"], PROBE_BODY, timeout=5)
        ok = ok + 1 if r.status == 200 and r.ms < 500 else 0
        if ok >= 3:
            return True
        time.sleep(0.2)
    return False


def run_attack(server, rss, num, title, fn, seconds, rng) -> dict:
    rss.phase = f"attack{num}"
    log(f"attack {num}: {title} ({seconds:.0f} s)")
    ctx = {"rng": rng, "window_end": time.monotonic() + seconds, "window_s": seconds}
    rss_samples = [server.rss_mib()]
    probe = Probe(server)
    probe.start()
    result = {}
    box = {}

    def act():
        try:
            box["result"] = fn(server, ctx)
        except Exception as e:          # an attack that breaks is reported, not fatal
            box["result"] = {"script_error": f"{type(e).__name__}: {e}"}

    worker = threading.Thread(target=act, name=f"attack{num}", daemon=True)
    t = time.monotonic()
    worker.start()
    while time.monotonic() < ctx["window_end"]:
        time.sleep(1.0)
        rss_samples.append(server.rss_mib())
    worker.join(timeout=SOCK_TIMEOUT + STREAM_DEADLINE + 60)
    probe.stop.set()
    probe.join(timeout=SOCK_TIMEOUT + STREAM_DEADLINE + 5)
    result = box.get("result", {"script_error": "the attack did not finish"})
    if "finish" in ctx:
        result["connections_at_end"] = ctx["finish"]()
        time.sleep(3)
    rss_samples.append(server.rss_mib())
    vals = [v for v in rss_samples if v is not None]
    result["rss_mib"] = {"before": round(vals[0], 1) if vals else None,
                         "max": round(max(vals), 1) if vals else None,
                         "after": round(vals[-1], 1) if vals else None}
    result["seconds"] = round(time.monotonic() - t, 1)
    summary = probe.summary()
    # recovery before the next attack
    ids = ctx.get("ids", [])
    rec = {"restart": False}
    proc = server.proc
    if proc is not None and proc.poll() is not None:
        server.crashes.append({"at_s": round(time.monotonic() - T0, 1), "code": proc.returncode,
                               "during": f"attack {num}", "log": server.log_tail(400)})
        rec = {"restart": True, "why": f"kefu exited by itself (code {proc.returncode})"}
        server.restart(f"attack {num}: server exited", remove_ids=ids)
    elif ctx.get("restart_why"):
        rec = {"restart": True, "why": ctx["restart_why"]}
        server.restart(f"attack {num}: clean state", remove_ids=ids)
    elif num == "6" and "small" in ctx and not ctx.get("small_found"):
        # the job worker is still busy with the big upload: restart (the big file is removed)
        rec = {"restart": True, "why": "small document not searchable within the window"}
        server.restart("attack 6: free the job worker", remove_ids=["attack6-million"])
        doc_id, marker, put_t = ctx["small"]
        t2 = time.monotonic()
        found = None
        while time.monotonic() - t2 < 120:
            if doc_search_hit(server, doc_id, marker):
                found = time.monotonic()
                break
            time.sleep(0.5)
        result["small_searchable_after_restart_s"] = None if found is None else round(found - t2, 1)
        result["small_searchable_since_put_s"] = None if found is None else round(found - put_t, 1)
    elif not healthy(server, 20):
        rec = {"restart": True, "why": "probe searches not answered within 500 ms for 20 s"}
        server.restart(f"attack {num}: service wedged", remove_ids=ids)
    for doc_id in ids:
        h, p, _ = server.addr()
        http_once(h, p, "DELETE", f"/v1/documents/{doc_id}", KEYS["writer"], timeout=10)
    result["recovery"] = rec
    log(f"attack {num}: probe p50 {fmt_ms(summary['p50_ms'])} ms, p99 {fmt_ms(summary['p99_ms'])} ms, "
        f"max {fmt_ms(summary['max_ms'])} ms, non-200 {summary['non200']} -> {verdict(summary)}"
        + (" (restarted)" if rec["restart"] else ""))
    return {"attack": num, "title": title, "probe": summary, "result": result}


def run_attacks(server, rss, args, rng) -> dict:
    out = []
    # baseline: the probe alone
    rss.phase = "baseline"
    probe = Probe(server)
    probe.start()
    time.sleep(min(10.0, args.attack_seconds))
    probe.stop.set()
    probe.join(timeout=SOCK_TIMEOUT + 5)
    out.append({"attack": "baseline", "title": "probe alone", "probe": probe.summary(), "result": {}})
    log(f"baseline probe p99 {fmt_ms(out[0]['probe']['p99_ms'])} ms")
    for num, title, fn in ATTACKS:
        if args.only and num not in args.only:
            continue
        if server.pid() is None:
            server.restart("server down before an attack")
        seconds = args.attack_seconds + (10 if num == "6" else 0)
        out.append(run_attack(server, rss, num, title, fn, seconds, rng))
    return {"target": f"probe p99 <= {PROBE_TARGET_P99_MS:.0f} ms", "probe_request": PROBE_BODY,
            "attacks": out}


# --------------------------------------------------------------------------------------------
# Report

def verdict(p: dict) -> str:
    """PASS/FAIL on the probe's p99; fast non-200 answers do not hide behind a PASS."""
    v = "PASS" if p["pass"] else "FAIL"
    return f"{v} (p99), but {p['non200']} non-200" if p["non200"] and p["pass"] else v


def human_report(rep: dict) -> str:
    L = []
    if rep.get("error"):
        L.append(f"SCRIPT STOPPED: {rep['error']}")
    L.append(f"kefu soak: binary {rep['kefu']}, seed {rep['seed']}, vectors {rep['vectors']}, "
             f"LLM stand-in hang {rep['llm']['hang']:.0%} + stall {rep['llm']['stall']:.0%}"
             + (f", overrides {' '.join(rep['config_overrides'])}" if rep.get("config_overrides") else ""))
    soak = rep.get("soak")
    if soak:
        L.append("")
        L.append(f"Soak: {soak['seconds']:.0f} s, {soak['clients']} clients, {soak['requests']} requests, "
                 f"kill -9 every ~{soak['restart_interval_s']:.0f} s")
        L.append(f"{'kind':<18}{'requests':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}{'restart':>9}  statuses")
        for kind, k in soak["kinds"].items():
            st = " ".join(f"{c}:{n}" for c, n in k["status"].items())
            L.append(f"{kind:<18}{k['requests']:>9}{fmt_ms(k['p50_ms']):>9}{fmt_ms(k['p99_ms']):>9}"
                     f"{k['errors']:>8}{k['during_restart']:>9}  {st}")
        for kind, k in soak["kinds"].items():
            if k["detail"]:
                L.append(f"  {kind}: " + ", ".join(f"{d} {n}" for d, n in sorted(k["detail"].items())))
        L.append(f"errors (5xx other than 503/429, 503/429 without Retry-After, transport errors "
                 f"outside restarts): {soak['errors']}")
        for kind, k in soak["kinds"].items():
            for reason, n in k["error_reasons"].items():
                L.append(f"  {kind}: {reason} x{n}")
        L.append(f"failed during restarts (not errors): {soak['during_restart']}")
        v = soak["verify"]
        L.append(f"drain: {v['drain']}")
        L.append(f"acknowledged PUTs {v['acknowledged_puts']}, acknowledged DELETEs "
                 f"{v['acknowledged_deletes']}, unclear DELETEs {v['unclear_deletes']}; checked "
                 f"present {v['checked_present']}: missing {v['missing_count']}, without marker "
                 f"{v['marker_missing_count']}; searchable: {v['search_checked'] - v['search_not_found_count']}"
                 f"/{v['search_checked']}; deleted but still there {v['deletes_undone_count']}")
        L.append(f"unacknowledged PUTs {v['unacknowledged_puts']}, of which present anyway "
                 f"{v['unacknowledged_puts_present']}")
        for x in v["missing"][:5] + v["deletes_undone"][:5]:
            L.append(f"  {x}")
        L.append(f"lost acknowledged writes: {v['lost_acknowledged_writes']}")
    L.append("")
    L.append(f"Restarts: {len(rep['restarts'])}" + "".join(
        f"\n  at {r['at_s']} s ({r['reason']}): ready after {r['down_s']} s" for r in rep["restarts"]))
    if rep["crashes"]:
        L.append(f"Unexpected exits: {len(rep['crashes'])}")
        for c in rep["crashes"]:
            L.append(f"  at {c['at_s']} s code {c['code']}: {c['log'][-200:]}")
    for phase, r in rep["rss"].items():
        if r.get("samples"):
            series = " ".join(f"{v:.0f}@{t:.0f}s" for t, v in r["series"])
            L.append(f"RSS {phase}: min {r['min_mib']:.0f} MiB, max {r['max_mib']:.0f} MiB, "
                     f"last {r['last_mib']:.0f} MiB; {series}")
    att = rep.get("attacks")
    if att:
        L.append("")
        L.append(f"Attacks (probe {json.dumps(att['probe_request'])} every 100 ms; target {att['target']})")
        L.append(f"{'attack':<44}{'n':>5}{'p50':>8}{'p99':>9}{'max':>9}{'non200':>8}  verdict")
        for a in att["attacks"]:
            p = a["probe"]
            name = f"{a['attack']}: {a['title']}"
            L.append(f"{name:<44}{p['n']:>5}{fmt_ms(p['p50_ms']):>8}{fmt_ms(p['p99_ms']):>9}"
                     f"{fmt_ms(p['max_ms']):>9}{p['non200']:>8}  {verdict(p)}"
                     + (f"  {p['non200_detail']}" if p["non200"] else ""))
        for a in att["attacks"]:
            if a["result"]:
                L.append(f"  {a['attack']}: {json.dumps(a['result'], ensure_ascii=False, default=str)}")
    L.append("")
    if soak:
        L.append(f"lost acknowledged writes: {soak['verify']['lost_acknowledged_writes']}")
    return "\n".join(L)


# --------------------------------------------------------------------------------------------

CLEANUP = []


def cleanup():
    while CLEANUP:
        fn = CLEANUP.pop()
        try:
            fn()
        except Exception as e:      # keep cleaning up
            print(f"soak: cleanup: {e}", file=sys.stderr)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kefu", default="target/release/kefu")
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", action="store_true", help="print the report as one JSON object")
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--attacks-only", action="store_true")
    g.add_argument("--soak-only", action="store_true")
    ap.add_argument("--clients", type=int, default=6, help="soak client threads")
    ap.add_argument("--write-rate", type=float, default=2.0, help="PUT+DELETE per second, at most")
    ap.add_argument("--attack-seconds", type=float, default=30.0)
    ap.add_argument("--attack", action="append", dest="only", choices=[a[0] for a in ATTACKS],
                    help="run only this attack (repeatable)")
    ap.add_argument("--llm-hang", type=float, default=0.15, help="share of LLM requests never answered")
    ap.add_argument("--llm-stall", type=float, default=0.15, help="share answered with one chunk, then stalled")
    ap.add_argument("--no-vectors", action="store_true", help="vector.enabled = false (BM25 only; fast start)")
    ap.add_argument("--ready-timeout", type=float, default=900.0)
    ap.add_argument("--drain-timeout", type=float, default=600.0)
    ap.add_argument("--search-check", type=int, default=200, help="acknowledged PUTs also checked by search")
    ap.add_argument("--set", action="append", metavar="SECTION.KEY=VALUE",
                    help="override a key of the workspace config (repeatable), "
                         "e.g. --set http.rate_limit_per_s=0")
    ap.add_argument("--config", default=str(ROOT / "config.toml"))
    ap.add_argument("--corpus", default=str(ROOT / "corpus"))
    ap.add_argument("--keep", action="store_true", help="keep the temporary workspace")
    args = ap.parse_args()

    kefu = Path(args.kefu)
    if not kefu.is_absolute():
        kefu = (Path.cwd() / kefu) if (Path.cwd() / kefu).exists() else ROOT / kefu
    if not kefu.is_file():
        print(f"soak: {kefu} is missing: build it (cargo build --release)", file=sys.stderr)
        return 2

    def on_term(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    atexit.register(cleanup)

    rng = random.Random(args.seed)
    ws = Path(tempfile.mkdtemp(prefix="kefu-soak-"))
    CLEANUP.append(lambda: None if args.keep else shutil.rmtree(ws, ignore_errors=True))
    (ws / "managed").mkdir()
    llm = LLMStandIn(args.llm_hang, args.llm_stall, args.seed)
    CLEANUP.append(llm.close)
    cfg = workspace_config(Path(args.config), ws, Path(args.corpus).resolve(), llm.base_url,
                           not args.no_vectors)
    apply_overrides(cfg, args.set)
    cfg_path = ws / "config.toml"
    cfg_path.write_text(dump_toml(cfg))
    log(f"workspace {ws}; LLM stand-in {llm.base_url}")
    server = Server(str(kefu), cfg_path, ws, args.ready_timeout)
    CLEANUP.append(server.close)
    rss = RssSampler(server)
    CLEANUP.append(rss.stop.set)
    report = {"kefu": str(kefu), "seed": args.seed, "minutes": args.minutes,
              "vectors": not args.no_vectors, "workspace": str(ws),
              "llm": {"hang": args.llm_hang, "stall": args.llm_stall},
              "config_overrides": args.set or []}
    try:
        log("starting kefu (the first start fetches the model and builds the index)")
        first = server.start()
        report["first_ready_s"] = round(first, 1)
        log(f"ready after {first:.1f} s on port {server.port}")
        rss.start()
        if not args.attacks_only and args.minutes > 0:
            report["soak"] = run_soak(server, rss, args, rng)
            log(f"lost acknowledged writes: {report['soak']['verify']['lost_acknowledged_writes']}")
        if not args.soak_only:
            report["attacks"] = run_attacks(server, rss, args, rng)
    except KeyboardInterrupt:
        log("interrupted; stopping")
        report["interrupted"] = True
    except RuntimeError as e:           # kefu would not start or get ready: nothing to measure
        log(f"cannot go on: {e}")
        report["error"] = str(e)
    finally:
        rss.stop.set()
        report["restarts"] = server.restarts
        report["crashes"] = server.crashes
        report["kefu_starts"] = server.starts
        report["rss"] = {ph: rss.summary(ph) for ph in
                         dict.fromkeys(x[1] for x in rss.samples)} or {"all": rss.summary()}
        report["llm"]["requests"] = dict(llm.counts)
        server.close()
    text = human_report(report)
    if args.json:
        print(text, file=sys.stderr)
        print(json.dumps(report, ensure_ascii=False, default=str))
    else:
        print(text)
    cleanup()
    return 130 if report.get("interrupted") else 1 if report.get("error") else 0


if __name__ == "__main__":
    sys.exit(main())
