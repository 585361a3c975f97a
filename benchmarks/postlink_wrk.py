"""postLink throughput under gunicorn (sync workers) with wrk, against a one-commit endpoint
served by the same workers in the same run: requests/s and p99 of each path, and the ratio.

    pip install -e '.[bench]'; apt-get install wrk
    python benchmarks/postlink_wrk.py [--seconds 5] [--workers 2] [--connections 2]
                                      [--payments 4000] [--database-url URL] [--receiver]
                                      [--repeat 1]

Loopback only (127.0.0.1, an ephemeral port), each path for ``--seconds``. The genuine round
sends each prepared payment's success postLink once (``--payments`` must exceed what the round
gets through; the script says if it did not); the duplicate round sends the same bodies again;
the forged round the same with a wrong secret_hash. The status re-check is off (the sandbox's
default), as in the issue's measurements. No receiver is connected unless ``--receiver``
(then a genuine postLink also claims its receivers and ends the claim: a second commit).

Targets (issue 12, not asserted): genuine >= 0.5x the one-commit endpoint's requests/s,
duplicate and forged >= 0.7x; on SQLite with 2 workers, the genuine p99 within 3x the
one-commit endpoint's.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import requests
from flask import Flask
from postlink_throughput import body_for, build_app

from flask_halyk import payment_succeeded
from flask_halyk.state import get_state

HERE = Path(__file__).resolve().parent
TARGETS = {"genuine": 0.5, "duplicate": 0.7, "forged": 0.7}

# One wrk thread: one Lua state, so that each prepared body goes out once per round.
LUA = """
local bodies = {}
local index = 0
local wrapped = false
init = function(args)
  for line in io.lines(args[1]) do bodies[#bodies + 1] = line end
end
request = function()
  index = index + 1
  if index > #bodies then index = 1; wrapped = true end
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, bodies[index])
end
done = function(summary, latency, requests)
  io.write(string.format("p99_us %d\\n", latency:percentile(99)))
end
"""


def app_factory() -> Flask:
    """gunicorn's entry point (``postlink_wrk:app_factory()``): the benchmark's app (with a
    ``payment_succeeded`` receiver that does nothing when ``HALYK_BENCH_RECEIVER`` is set)."""
    app = build_app(Path(os.environ["HALYK_BENCH_DIR"]), os.environ.get("HALYK_BENCH_DB"),
                    fresh=False)
    if os.environ.get("HALYK_BENCH_RECEIVER"):
        payment_succeeded.connect(_fulfil, app, weak=False)
    return app


def _fulfil(sender: Flask, **_: object) -> None:
    """A shop's receiver that costs nothing: what the claim around it costs shows."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wrk(url: str, bodies: Path, seconds: int, connections: int) -> tuple[float, float]:
    script = bodies.with_suffix(".lua")
    script.write_text(LUA, encoding="utf-8")
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(script), url, "--",
         str(bodies)], check=True, capture_output=True, text=True, timeout=seconds + 60).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = int(re.search(r"p99_us (\d+)", out).group(1)) / 1000  # type: ignore[union-attr]
    return rate, p99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=2)
    parser.add_argument("--payments", type=int, default=4000)
    parser.add_argument("--database-url")
    parser.add_argument("--receiver", action="store_true",
                        help="connect a payment_succeeded receiver (it does nothing)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="rounds of every path, each right after one of the endpoint "
                             "(ratios per pair; --payments per round)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        app = build_app(directory, args.database_url)
        state = get_state(app)
        amount = Decimal(1500)
        genuines = [directory / f"genuine-{n}.jsonl" for n in range(args.repeat)]
        forged = directory / "forged.jsonl"
        for genuine in genuines:
            with genuine.open("w") as good, forged.open("w") as bad:
                for _ in range(args.payments):
                    record = state.ledger.create_payment(
                        invoice_id=None, amount=amount, currency=state.config.currency,
                        terminal=state.config.terminal_id, description="bench")
                    body = body_for(app, record.invoice_id, amount).decode()
                    good.write(body + "\n")
                    data = json.loads(body)
                    data["secret_hash"] = "0" * len(data["secret_hash"])
                    bad.write(json.dumps(data) + "\n")
        state.ledger.dispose()

        port = free_port()
        # The workers import this script's folder, and whatever PYTHONPATH puts first (an
        # older checkout of flask_halyk, to measure before and after on the same machine).
        paths = [str(HERE), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
        env = {**os.environ, "HALYK_BENCH_DIR": tmp, "PYTHONPATH": os.pathsep.join(paths)}
        if args.database_url:
            env["HALYK_BENCH_DB"] = args.database_url
        if args.receiver:
            env["HALYK_BENCH_RECEIVER"] = "1"
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-w", str(args.workers), "-b",
             f"127.0.0.1:{port}", "--log-level", "error", "postlink_wrk:app_factory()"],
            env=env, cwd=HERE)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    requests.post(base + "/baseline-commit", data=b"{}", timeout=5)
                    break
                except requests.ConnectionError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise SystemExit("gunicorn did not start") from None
                    time.sleep(0.2)
            # Each path right after a round of the endpoint, its ratio taken against that
            # round: a machine busy with other work weighs on both.
            pairs: dict[str, list[tuple[tuple[float, float], tuple[float, float]]]] = {
                name: [] for name in TARGETS}
            for genuine in genuines:
                for name, bodies in (("genuine", genuine), ("duplicate", genuine),
                                     ("forged", forged)):
                    endpoint = wrk(base + "/baseline-commit", genuine, args.seconds,
                                   args.connections)
                    path = wrk(base + "/halyk/postlink", bodies, args.seconds,
                               args.connections)
                    pairs[name].append((endpoint, path))
        finally:
            server.terminate()
            server.wait(timeout=30)

    print(f"gunicorn {args.workers} sync workers, wrk {args.connections} connections, "
          f"{args.seconds} s per round, {args.repeat} round(s) per path, on "
          f"{args.database_url or 'SQLite'}"
          f"{', a payment_succeeded receiver connected' if args.receiver else ''}")
    print(f"{'path':<11} {'endpoint req/s':>18} {'path req/s':>18} {'ratio':>11} "
          f"{'p99 ms (endpoint)':>28} {'target':>7}")
    for name, runs in pairs.items():
        ratios = sorted(p[0] / e[0] for e, p in runs)
        spread = f"{ratios[0]:.2f}-{ratios[-1]:.2f}" if len(ratios) > 1 else f"{ratios[0]:.2f}"
        endpoint_rates = "/".join(f"{e[0]:.0f}" for e, _ in runs)
        rates = "/".join(f"{p[0]:.0f}" for _, p in runs)
        p99s = "/".join(f"{p[1]:.0f} ({e[1]:.0f})" for e, p in runs)
        print(f"{name:<11} {endpoint_rates:>18} {rates:>18} {spread:>11} {p99s:>28} "
              f"{'>=' + str(TARGETS[name]) + 'x':>7}")
    for _endpoint, (rate, _p99) in pairs["genuine"]:
        if rate * args.seconds > args.payments:
            print(f"note: a genuine round sent about {rate * args.seconds:.0f} postLinks for "
                  f"{args.payments} payments: the rest were duplicates (raise --payments)")
    tails = sorted(p[1] / e[1] for e, p in pairs["genuine"])
    print(f"genuine p99 / the endpoint's p99: {tails[0]:.1f}-{tails[-1]:.1f} (target <= 3)")


if __name__ == "__main__":
    main()
