"""The one client of bench/peer.sh: streamed chat completions, timed the same way for each app.

Each app is asked through its OpenAI-compatible endpoint (OllamaStack `POST /v1/chat/completions`,
Open WebUI `POST /api/chat/completions`), and the fake Ollama directly through `/api/chat`, for
the baseline. A run's time to first token is from sending the request to the first piece of
answer text; its total is to the end of the stream. Standard library only.

    python3 bench/peer_client.py relay NAME URL PATH TOKEN RUNS
    python3 bench/peer_client.py concurrent NAME URL PATH TOKEN CHATS
"""

import http.client
import json
import statistics
import sys
import threading
import time
import urllib.parse

PROMPT = "peer benchmark [tokens=200][delay=1]"
MODEL = "llama3.2:latest"


def chat_once(url, path, token):
    """One streamed answer: (seconds to the first text, seconds in all, characters)."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    ollama = path == "/api/chat"
    body = {"model": MODEL, "stream": True, "messages": [{"role": "user", "content": PROMPT}]}
    headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    started = time.perf_counter()
    conn.request("POST", path, json.dumps(body), headers)
    response = conn.getresponse()
    if response.status != 200:
        raise RuntimeError(f"{path} answered {response.status}: {response.read(300)!r}")
    first = None
    text = []
    for raw in response:
        line = raw.decode("utf-8").strip()
        if ollama:
            if not line:
                continue
            piece = json.loads(line).get("message", {}).get("content", "")
        else:
            if not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                break
            event = json.loads(data)
            choices = event.get("choices") or [{}]
            piece = (choices[0].get("delta") or {}).get("content") or ""
        if piece:
            if first is None:
                first = time.perf_counter() - started
            text.append(piece)
    total = time.perf_counter() - started
    conn.close()
    if first is None:
        raise RuntimeError(f"{path}: the stream carried no text")
    return first, total, len("".join(text))


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def relay(name, url, path, token, runs):
    for _ in range(3):  # warm-up
        chat_once(url, path, token)
    firsts, totals, chars = [], [], set()
    for _ in range(runs):
        first, total, length = chat_once(url, path, token)
        firsts.append(first * 1000)
        totals.append(total * 1000)
        chars.add(length)
    print(
        f"  {name:<22} TTFT p50 {statistics.median(firsts):8.2f} ms  p90 {percentile(firsts, 0.9):8.2f} ms"
        f"   total p50 {statistics.median(totals):8.2f} ms  p90 {percentile(totals, 0.9):8.2f} ms"
        f"   ({runs} runs, {'/'.join(map(str, sorted(chars)))} characters)"
    )


def concurrent(name, url, path, token, chats):
    results, failures = [], []
    lock = threading.Lock()

    def one():
        try:
            outcome = chat_once(url, path, token)
            with lock:
                results.append(outcome)
        except Exception as error:  # noqa: BLE001 - every failure is counted and shown
            with lock:
                failures.append(str(error)[:200])

    threads = [threading.Thread(target=one) for _ in range(chats)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = (time.perf_counter() - started) * 1000
    firsts = [r[0] * 1000 for r in results] or [0]
    print(
        f"  {name:<22} {chats} at once: all done in {wall:8.0f} ms, TTFT p50 {statistics.median(firsts):7.0f} ms"
        f" p90 {percentile(firsts, 0.9):7.0f} ms, failures {len(failures)}"
    )
    for failure in sorted(set(failures))[:3]:
        print(f"    failure: {failure}")


if __name__ == "__main__":
    mode, name, url, path, token, count = sys.argv[1:7]
    {"relay": relay, "concurrent": concurrent}[mode](name, url, path, token, int(count))
