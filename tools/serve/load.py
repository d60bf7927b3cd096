"""A load test for `mellow serve` (or anything behind the same address): N clients, each posting
the dev sentences in turn to POST /v1/audio/speech (pcm, streamed) for T seconds. Prints one JSON
object: requests, failures (by status or exception), time to first byte (p50, p99), seconds of
audio made per second, and the server's resident memory before and after (when its pid is given).

    python tools/serve/load.py --url http://127.0.0.1:8080 --clients 16 --seconds 60 \
        --sentences ../shared/eval/sentences_dev.txt [--pid PID] [--kill PID --kill-after 10]
"""
import argparse
import asyncio
import json
import os
import signal
import statistics
import time

import httpx


def rss_mb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None


def read_sentences(path):
    with open(path, encoding="utf-8") as f:
        return [line.split("\t")[0].strip() for line in f if line.strip() and not line.startswith("#")]


async def client(n, url, sentences, deadline, results):
    async with httpx.AsyncClient(timeout=httpx.Timeout(60.0, connect=5.0)) as http:
        i = n
        while time.monotonic() < deadline:
            text = sentences[i % len(sentences)]
            i += 1
            started = time.monotonic()
            first, size, status = None, 0, None
            try:
                async with http.stream("POST", f"{url}/v1/audio/speech", json={"model": "tts-1", "input": text, "voice": "alloy", "response_format": "pcm"}) as r:
                    status = r.status_code
                    async for chunk in r.aiter_bytes():
                        if first is None:
                            first = time.monotonic() - started
                        size += len(chunk)
                if status != 200:
                    results["failures"].append(f"status {status}")
                    if status == 429:
                        await asyncio.sleep(float(r.headers.get("retry-after", "1")))
                    continue
                results["ttfb"].append(first)
                results["audio_seconds"] += size / 2 / 24000
                results["ok"] += 1
            except Exception as e:  # a broken transfer, a refused connection
                results["failures"].append(type(e).__name__)


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--sentences", required=True)
    ap.add_argument("--pid", type=int, help="the server's pid, for its resident memory")
    ap.add_argument("--kill", type=int, help="a pid to signal part-way (a replica)")
    ap.add_argument("--kill-signal", default="KILL", help="KILL (crash) or TERM (graceful stop)")
    ap.add_argument("--kill-after", type=float, default=10)
    args = ap.parse_args()
    sentences = read_sentences(args.sentences)
    results = {"ok": 0, "failures": [], "ttfb": [], "audio_seconds": 0.0}
    rss_before = rss_mb(args.pid) if args.pid else None
    started = time.monotonic()
    deadline = started + args.seconds
    tasks = [asyncio.create_task(client(n, args.url, sentences, deadline, results)) for n in range(args.clients)]
    if args.kill:
        await asyncio.sleep(args.kill_after)
        os.kill(args.kill, getattr(signal, "SIG" + args.kill_signal))
    await asyncio.gather(*tasks)
    wall = time.monotonic() - started
    ttfb = sorted(results["ttfb"])
    pct = lambda q: ttfb[min(len(ttfb) - 1, int(q * len(ttfb)))] if ttfb else None  # noqa: E731
    failures = {}
    for f in results["failures"]:
        failures[f] = failures.get(f, 0) + 1
    print(json.dumps({
        "clients": args.clients, "seconds": round(wall, 1), "requests": results["ok"] + len(results["failures"]),
        "ok": results["ok"], "failed": len(results["failures"]), "failures": failures,
        "ttfb_p50_s": pct(0.5) and round(pct(0.5), 3), "ttfb_p99_s": pct(0.99) and round(pct(0.99), 3),
        "ttfb_mean_s": round(statistics.mean(ttfb), 3) if ttfb else None,
        "audio_seconds_per_second": round(results["audio_seconds"] / wall, 2),
        "rss_mb_before": rss_before, "rss_mb_after": rss_mb(args.pid) if args.pid else None,
    }))


if __name__ == "__main__":
    asyncio.run(main())
