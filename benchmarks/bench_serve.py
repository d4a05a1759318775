"""Loopback load test of ``paperzoo serve``'s G2P endpoint (not a test; prints numbers).

Starts ``paperzoo serve`` in a subprocess on 127.0.0.1 (only loopback is ever targeted), then keeps
``--concurrency`` httpx async clients busy for ``--duration`` seconds with single-word G2P requests:
~90 % CMUdict words drawn at random, ~10 % made-up words (model answers when trained weights are
shipped, else per-word errors; both are 200 answers). Reports requests/s, latency percentiles,
errors (any non-200 or transport error) and the server's resident memory over time.

The peer, run side by side: a bare FastAPI app on the same uvicorn answering the same requests with
a plain dictionary lookup (no limits, no validation, no cache) -- the cost of our safety layer.

    .venv/bin/python benchmarks/bench_serve.py [--duration 30] [--concurrency 16] [--peer-duration 10]
Target (issue #13): >= 200 requests/s on 2 cores, zero errors over 30 s, memory stable.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import subprocess
import sys
import time

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


async def load(port: int, words: list[str], duration: float, concurrency: int, proc: psutil.Process) -> dict:
    url = f"http://127.0.0.1:{port}/api/g2p"
    lat: list[float] = []
    errors = 0
    rss: list[tuple[float, float]] = []
    stop = time.perf_counter() + duration
    rng = random.Random(0)

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal errors
        while time.perf_counter() < stop:
            w = rng.choice(words)
            t = time.perf_counter()
            try:
                r = await client.post(url, json={"words": [w]})
                ok = r.status_code == 200 and r.json()["results"][0]["word"] == w
            except (httpx.HTTPError, ValueError, KeyError):
                ok = False
            lat.append(time.perf_counter() - t)
            errors += not ok

    async def sample_memory() -> None:
        t0 = time.perf_counter()
        while time.perf_counter() < stop:
            rss.append((time.perf_counter() - t0, proc.memory_info().rss / 2**20))
            await asyncio.sleep(1.0)

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        t0 = time.perf_counter()
        await asyncio.gather(sample_memory(), *(worker(client) for _ in range(concurrency)))
        wall = time.perf_counter() - t0
    lat.sort()
    q = lambda f: 1000 * lat[min(len(lat) - 1, int(f * len(lat)))] if lat else float("nan")  # noqa: E731
    return {"requests": len(lat), "rps": len(lat) / wall, "errors": errors, "p50_ms": q(0.5), "p99_ms": q(0.99),
            "rss_mb": rss}


def run(name: str, cmd: list[str], port: int, words: list[str], duration: float, concurrency: int) -> dict:
    proc = start(cmd, port)
    try:
        pp = psutil.Process(proc.pid)
        asyncio.run(load(port, words[:200], 2.0, 4, pp))  # warm-up (imports, first model calls, cache)
        m = asyncio.run(load(port, words, duration, concurrency, pp))
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
    m["rss_growth_mb"] = last - first
    return m


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=30.0)
    ap.add_argument("--peer-duration", type=float, default=10.0)
    ap.add_argument("--concurrency", type=int, default=16)
    a = ap.parse_args()
    from paperzoo.g2p.data import load_cmudict_lexicon

    rng = random.Random(0)
    dict_words = rng.sample(sorted(w.lower() for w in load_cmudict_lexicon() if w.isalpha()), 20000)
    made_up = ["".join(rng.choice("abcdefghijklmnoprstuvwyz") for _ in range(rng.randint(4, 9))) for _ in range(200)]
    words = dict_words + made_up * 10 if len(made_up) else dict_words
    words = [w for w in words]
    rng.shuffle(words)
    load_avg = os.getloadavg()[0]
    print(f"loopback load test: {a.concurrency} concurrent clients, {os.cpu_count()} cores, "
          f"load average {load_avg:.1f} at start (other processes share these cores)")
    ours = run("paperzoo serve", [sys.executable, "-m", "paperzoo", "serve", "--port", str(p := free_port())], p,
               words, a.duration, a.concurrency)
    peer = run("bare FastAPI", [sys.executable, "-c", PEER, str(p := free_port())], p, words, a.peer_duration,
               a.concurrency)
    print(f"ratio ours/bare: {ours['rps'] / peer['rps']:.2f} x throughput")
    ok = ours["rps"] >= 200 and ours["errors"] == 0 and ours["rss_growth_mb"] < 50
    print(f"target (>= 200 req/s, 0 errors, RSS growth < 50 MiB between halves): {'met' if ok else 'NOT met'} "
          f"({ours['rps']:.0f} req/s, {ours['errors']} errors, {ours['rss_growth_mb']:+.1f} MiB)")


if __name__ == "__main__":
    main()
