"""Loopback load test of ``paperzoo serve``'s G2P endpoint (not a test; prints numbers).

Starts ``paperzoo serve`` in a subprocess on 127.0.0.1 (only loopback is ever targeted), then keeps
``--concurrency`` httpx async clients busy for ``--duration`` seconds with single-word G2P requests:
~90 % CMUdict words drawn at random, ~10 % made-up words (model answers when trained weights are
shipped, else per-word errors; both are 200 answers). Reports requests/s, latency percentiles,
errors (any non-200 or transport error), the server's resident memory (sampled every second; start,
end, mean of each half) and the CPU time the server processes (workers included) and this client used:
on a shared machine req/s alone says little, so it also prints the share of one core the server got
and requests per server CPU-second (what one idle core would give, if the client ran elsewhere).

The peer, run side by side: a bare FastAPI app on the same uvicorn answering the same requests with
a plain dictionary lookup (no limits, no validation, no cache) -- the cost of our safety layer.

    .venv/bin/python benchmarks/bench_serve.py [--duration 30] [--concurrency 16] [--peer-duration 10] [--workers 1]
Target (issue #13): >= 200 requests/s on 2 cores, zero errors over 30 s, memory stable.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import time
from functools import partial

import httpx
import psutil

PEER = r"""
import sys, uvicorn
from fastapi import FastAPI, Request
from paperzoo.g2p.data import load_cmudict_lexicon, normalize_word
lex = load_cmudict_lexicon()
app = FastAPI()
@app.post("/api/g2p")
async def g2p(req: Request):
    d = await req.json()
    return {"results": [{"word": w, "phonemes": (lex.get(normalize_word(w)) or [None])[0]} for w in d["words"]]}
@app.get("/api/health")
async def health():
    return {"status": "ok"}
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(cmd: list[str], port: int) -> subprocess.Popen:
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    t0 = time.time()
    while time.time() - t0 < 180:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {proc.stderr.read()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("server did not start within 180 s")


class RawConnection:
    """One keep-alive HTTP/1.1 connection on asyncio streams: a load generator far cheaper in CPU than httpx
    (like `wrk`), so on a shared machine more of the CPU goes to the server being measured."""

    def __init__(self, port: int):
        self.port, self.reader, self.writer = port, None, None

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.writer.write(b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                          b"Content-Length: %d\r\n\r\n%s" % (path.encode(), len(body), body))
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        length = next(int(x.split(b":")[1]) for x in lines[1:] if x.lower().startswith(b"content-length:"))
        data = await self.reader.readexactly(length)
        if any(x.lower() == b"connection: close" for x in lines):
            await self.close()
        return status, data

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.reader = self.writer = None


async def load(port: int, words: list[str], duration: float, concurrency: int, proc: psutil.Process,
               client_kind: str = "httpx") -> dict:
    url = f"http://127.0.0.1:{port}/api/g2p"
    lat: list[float] = []
    errors = 0
    rss: list[tuple[float, float]] = []
    stop = time.perf_counter() + duration
    rng = random.Random(0)

    async def worker(post) -> None:
        nonlocal errors
        while time.perf_counter() < stop:
            w = rng.choice(words)
            t = time.perf_counter()
            try:
                status, data = await post(json.dumps({"words": [w]}).encode())
                ok = status == 200 and json.loads(data)["results"][0]["word"] == w
            except (httpx.HTTPError, OSError, asyncio.IncompleteReadError, ValueError, KeyError, StopIteration):
                ok = False
            lat.append(time.perf_counter() - t)
            errors += not ok

    async def sample_memory() -> None:
        t0 = time.perf_counter()
        while time.perf_counter() < stop:
            rss.append((time.perf_counter() - t0, tree_rss_mb(proc)))
            await asyncio.sleep(1.0)
        rss.append((time.perf_counter() - t0, tree_rss_mb(proc)))

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        if client_kind == "httpx":
            async def post_httpx(body: bytes) -> tuple[int, bytes]:
                r = await client.post(url, content=body, headers={"content-type": "application/json"})
                return r.status_code, r.content
            posts = [post_httpx] * concurrency
        else:
            conns = [RawConnection(port) for _ in range(concurrency)]
            posts = [partial(c.post, "/api/g2p") for c in conns]
        t0, cpu0, me0 = time.perf_counter(), tree_cpu_s(proc), time.process_time()
        await asyncio.gather(sample_memory(), *(worker(p) for p in posts))
        wall, server_cpu, client_cpu = time.perf_counter() - t0, tree_cpu_s(proc) - cpu0, time.process_time() - me0
        if client_kind != "httpx":
            for c in conns:
                await c.close()
    lat.sort()
    q = lambda f: 1000 * lat[min(len(lat) - 1, int(f * len(lat)))] if lat else float("nan")  # noqa: E731
    return {"requests": len(lat), "rps": len(lat) / wall, "errors": errors, "p50_ms": q(0.5), "p99_ms": q(0.99),
            "rss_mb": rss, "wall_s": wall, "server_cpu_s": server_cpu, "client_cpu_s": client_cpu}


def _tree(proc: psutil.Process) -> list[psutil.Process]:
    try:
        return [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return [proc]


def tree_rss_mb(proc: psutil.Process) -> float:
    """Resident memory of the server and its worker processes (MiB)."""
    total = 0
    for p in _tree(proc):
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total / 2**20


def tree_cpu_s(proc: psutil.Process) -> float:
    """user + system CPU seconds of the server and its worker processes."""
    total = 0.0
    for p in _tree(proc):
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


def run(name: str, cmd: list[str], port: int, words: list[str], duration: float, concurrency: int,
        client_kind: str = "httpx") -> dict:
    proc = start(cmd, port)
    try:
        pp = psutil.Process(proc.pid)
        asyncio.run(load(port, words[:200], 2.0, 4, pp, client_kind))  # warm-up (imports, first calls)
        m = asyncio.run(load(port, words, duration, concurrency, pp, client_kind))
        try:
            stats = httpx.get(f"http://127.0.0.1:{port}/api/systems", timeout=10).json().get("g2p_stats")
        except (httpx.HTTPError, ValueError):
            stats = None
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
    r = m["rss_mb"]
    half = len(r) // 2
    first, last = (sum(v for _, v in r[:half]) / max(half, 1)), (sum(v for _, v in r[half:]) / max(len(r) - half, 1))
    print(f"{name:<16} {m['requests']:>7} req in {duration:.0f} s: {m['rps']:7.1f} req/s, errors {m['errors']}, "
          f"p50 {m['p50_ms']:.1f} ms, p99 {m['p99_ms']:.1f} ms, server RSS {r[0][1]:.0f} -> {r[-1][1]:.0f} MiB "
          f"(mean 1st half {first:.0f}, 2nd half {last:.0f}, max {max(v for _, v in r):.0f})")
    share = m["server_cpu_s"] / m["wall_s"]
    print(f"{'':<16} server CPU {m['server_cpu_s']:.1f} s in {m['wall_s']:.1f} s wall = {share:.2f} of one core; "
          f"{m['requests'] / max(m['server_cpu_s'], 1e-9):.0f} req per server CPU-second; "
          f"client ({client_kind}) CPU {m['client_cpu_s']:.1f} s = "
          f"{1000 * m['client_cpu_s'] / max(m['requests'], 1):.2f} ms/req")
    if stats:
        print(f"{'':<16} G2P model (one worker's counters, warm-up included): {stats}")
    m["rss_growth_mb"] = last - first
    return m


def http_impl() -> str:
    import importlib.util
    return "httptools" if importlib.util.find_spec("httptools") else "h11 (pure Python; uvicorn[standard] adds httptools)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=30.0)
    ap.add_argument("--peer-duration", type=float, default=10.0)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--workers", type=int, default=1, help="paperzoo serve --workers")
    ap.add_argument("--client", choices=("httpx", "raw"), default="raw",
                    help="load generator: httpx.AsyncClient, or raw keep-alive HTTP/1.1 on asyncio streams (less CPU)")
    a = ap.parse_args()
    from paperzoo.g2p.data import load_cmudict_lexicon

    rng = random.Random(0)
    dict_words = rng.sample(sorted(w.lower() for w in load_cmudict_lexicon() if w.isalpha()), 20000)
    made_up = ["".join(rng.choice("abcdefghijklmnoprstuvwyz") for _ in range(rng.randint(4, 9))) for _ in range(200)]
    words = dict_words + made_up * 10 if len(made_up) else dict_words
    rng.shuffle(words)
    load_avg = os.getloadavg()[0]
    print(f"loopback load test: {a.concurrency} concurrent {a.client} connections, {a.workers} server process(es), "
          f"{os.cpu_count()} cores, load average {load_avg:.1f} at start (other processes share these cores); "
          f"uvicorn HTTP parser: {http_impl()}")
    ours = run("paperzoo serve", [sys.executable, "-m", "paperzoo", "serve", "--port", str(p := free_port()),
                                  "--workers", str(a.workers)], p, words, a.duration, a.concurrency, a.client)
    if a.peer_duration > 0:
        peer = run("bare FastAPI", [sys.executable, "-c", PEER, str(p := free_port())], p, words, a.peer_duration,
                   a.concurrency, a.client)
        print(f"ratio ours/bare: {ours['rps'] / peer['rps']:.2f} x throughput, "
              f"{(ours['requests'] / ours['server_cpu_s']) / (peer['requests'] / peer['server_cpu_s']):.2f} x "
              f"requests per server CPU-second")
    per_req = (ours["server_cpu_s"] + ours["client_cpu_s"]) / max(ours["requests"], 1)
    print(f"estimate, not a measurement: 2 idle cores running server (--workers 2) and this client would give about "
          f"2 / {1000 * per_req:.2f} ms = {2 / per_req:.0f} req/s (CPU per request: server + client)")
    ok = ours["rps"] >= 200 and ours["errors"] == 0 and ours["rss_growth_mb"] < 50
    print(f"target (measured >= 200 req/s, 0 errors, RSS growth < 50 MiB between halves): {'met' if ok else 'NOT met'} "
          f"({ours['rps']:.0f} req/s, {ours['errors']} errors, {ours['rss_growth_mb']:+.1f} MiB)")


if __name__ == "__main__":
    main()
