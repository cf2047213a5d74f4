"""Celery + Redis peer benchmark: the Celery app (a no-op task) and its client, in one file.

Run by bench/peer_celery.sh, which starts a private redis-server and a Celery worker with
    python3 -m celery -A peer_celery worker --concurrency 2 --pool prefork -Q bench
in this directory, then drives it with
    python3 peer_celery.py wait [DEADLINE_S]   exit 0 once a worker answers a ping and runs a task
    python3 peer_celery.py bench [N] [ROUND_TRIPS] [--json]
    python3 peer_celery.py canvas [CHAIN] [RUNS] [CHORD] [--json]   (bench/workflows.sh)
The broker and the result backend are both the redis at $PEER_REDIS_URL
(default redis://127.0.0.1:6399).  Figures are printed in zq-bench's style:
    celery throughput: 10000 tasks in X s = Y tasks/s
    celery latency: 1000 round trips: p50 A ms, p99 B ms, max C ms
or, with --json, as one JSON object with the fields zq-bench --json prints (tasks, seconds,
tasks_per_s, window, latency_samples, p50_ms, p99_ms, max_ms, failed; window is N: every task is
sent before the first result is fetched). ROUND_TRIPS 0 skips the latency phase.
Percentiles are nearest-rank, as zq-bench computes them.
"""
import json
import math
import os
import sys
import time

from celery import Celery

REDIS = os.environ.get("PEER_REDIS_URL", "redis://127.0.0.1:6399")

app = Celery("peer_celery", broker=REDIS + "/0", backend=REDIS + "/1")
app.conf.update(
    task_default_queue="bench",
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)


@app.task(name="noop")
def noop():
    return None


@app.task(name="step")
def step(*args):
    """A no-op canvas step: takes the previous step's result (or a chord's list), returns None."""
    return None


def canvas(chain_length, runs, chord_size, as_json=False):
    """The workflow shapes of bench/workflows.sh: a chain of no-op steps (seconds per step,
    p50 and p99 over the runs) and a chord of no-op steps (seconds to the callback's result)."""
    from celery import chain, chord

    per_step = []
    for _ in range(runs):
        t0 = time.perf_counter()
        chain(*[step.s() for _ in range(chain_length)]).apply_async().get(timeout=300)
        per_step.append((time.perf_counter() - t0) * 1000.0 / chain_length)
    per_step.sort()
    t0 = time.perf_counter()
    chord_timeout = float(os.environ.get("PEER_CHORD_TIMEOUT", "600"))
    try:
        chord([step.s() for _ in range(chord_size)])(step.s()).get(timeout=chord_timeout)
        chord_s = time.perf_counter() - t0
    except Exception as exc:  # celery.exceptions.TimeoutError: the callback did not come in time
        print(f"celery chord of {chord_size}: no callback result within {chord_timeout:.0f} s ({exc!r})",
              flush=True)
        chord_s = float("nan")
    report = {"chain_length": chain_length, "runs": runs, "step_p50_ms": percentile(per_step, 0.50),
              "step_p99_ms": percentile(per_step, 0.99), "chord_size": chord_size, "chord_s": chord_s}
    if as_json:
        print(json.dumps(report), flush=True)
    else:
        print(f"celery chain of {chain_length}: per step p50 {report['step_p50_ms']:.3f} ms, "
              f"p99 {report['step_p99_ms']:.3f} ms over {runs} runs", flush=True)
        if not math.isnan(chord_s):
            print(f"celery chord of {chord_size}: callback result after {chord_s:.3f} s", flush=True)
    return 0


def percentile(sorted_values, fraction):
    """Nearest-rank percentile, the same rule as zq-bench."""
    if not sorted_values:
        return 0.0
    rank = math.ceil(fraction * len(sorted_values))
    rank = min(max(rank, 1), len(sorted_values))
    return sorted_values[rank - 1]


def wait_ready(deadline_s):
    """Poll until a worker answers a ping and one task makes the full round trip."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            if app.control.ping(timeout=0.5):
                noop.delay().get(timeout=max(1.0, deadline - time.monotonic()))
                return 0
        except Exception as exc:  # broker not up yet, or the worker still starting
            print(f"waiting for the worker: {exc!r}", file=sys.stderr)
            time.sleep(0.2)
    print(f"no Celery worker answered within {deadline_s} s", file=sys.stderr)
    return 1


def bench(tasks, round_trips, as_json=False):
    # Phase 1, throughput: send every task, then collect every result.
    start = time.perf_counter()
    pending = [noop.apply_async() for _ in range(tasks)]
    for result in pending:
        result.get(timeout=300)
    elapsed = time.perf_counter() - start
    if not as_json:
        print(f"celery throughput: {tasks} tasks in {elapsed:.3f} s = {tasks / elapsed:.0f} tasks/s",
              flush=True)

    # Phase 2, latency: sequential round trips, one task in flight at a time.
    samples = []
    for _ in range(round_trips):
        t0 = time.perf_counter()
        noop.delay().get(timeout=60)
        samples.append((time.perf_counter() - t0) * 1000.0)
    samples.sort()
    p50, p99 = percentile(samples, 0.50), percentile(samples, 0.99)
    worst = samples[-1] if samples else 0.0
    if as_json:
        print(json.dumps({"tasks": tasks, "seconds": elapsed, "tasks_per_s": tasks / elapsed,
                          "window": tasks, "latency_samples": len(samples), "p50_ms": p50,
                          "p99_ms": p99, "max_ms": worst, "failed": 0}), flush=True)
    elif round_trips:
        print(f"celery latency: {round_trips} round trips: p50 {p50:.3f} ms, "
              f"p99 {p99:.3f} ms, max {worst:.3f} ms", flush=True)
    return 0


def main(argv):
    mode = argv[1] if len(argv) > 1 else "bench"
    if mode == "wait":
        return wait_ready(float(argv[2]) if len(argv) > 2 else 60.0)
    if mode == "bench":
        as_json = "--json" in argv[2:]
        args = [a for a in argv[2:] if a != "--json"]
        tasks = int(args[0]) if len(args) > 0 else 10000
        round_trips = int(args[1]) if len(args) > 1 else 1000
        return bench(tasks, round_trips, as_json)
    if mode == "canvas":
        as_json = "--json" in argv[2:]
        args = [int(a) for a in argv[2:] if a != "--json"]
        chain_length, runs, chord_size = (args + [100, 20, 10000][len(args):])[:3]
        return canvas(chain_length, runs, chord_size, as_json)
    print(f"usage: {argv[0]} wait [DEADLINE_S] | bench [N] [ROUND_TRIPS] [--json] | "
          "canvas [CHAIN] [RUNS] [CHORD] [--json]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
