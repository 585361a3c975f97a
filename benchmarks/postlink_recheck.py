"""postLink capacity with the status re-check (``HALYK_VERIFY_WITH_STATUS``) on, against the
same server with it off, in the same run, with a local bank stub that answers the status call
after 0, 50 or 200 ms.

    pip install -e '.[bench]'; apt-get install wrk
    python benchmarks/postlink_recheck.py [--worker-class gthread] [--workers 2]
        [--threads 32] [--connections 64] [--seconds 4] [--delays 0,50,200]
        [--payments 2500] [--database-url URL]

One gunicorn serves two copies of the benchmark's shop on one ledger: ``/off`` with the
re-check off, ``/on`` with it on (``HALYK_ENV="test"``, its token and API URLs pointed at the
stub, which answers every status request "CHARGE, 1500 KZT" after the round's delay). Each round
sends genuine success postLinks of fresh payments with wrk; the capacity is the requests/s of
200 answers (every one of them a payment moved to ``paid``: checked at the end). The sync
workers (``--worker-class sync``, the default of gunicorn) hold one postLink per worker for
the bank's round trip; gthread workers hold a thread.

Target (issue 12, not asserted): with the bank at 200 ms, the capacity with the check on >= 0.5x
the capacity with it off, in the documented deployment (docs/going-live.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path

import requests
from flask import Flask
from postlink_throughput import body_for, build_app
from postlink_wrk import LUA, free_port
from sqlalchemy import Engine, func, select
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from flask_halyk.ledger.tables import payments
from flask_halyk.state import get_state

HERE = Path(__file__).resolve().parent
AMOUNT = Decimal(1500)
TARGET = 0.5


class Bank:
    """ePay's token and status endpoints on one asyncio loop (a thread of this process, light on
    the CPU the server under test shares), the status answered after ``Bank.delay`` seconds."""

    delay = 0.0
    terminal = ""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        self.port = 0

        async def start() -> None:
            server = await asyncio.start_server(self._serve, "127.0.0.1", 0, backlog=512)
            self.port = server.sockets[0].getsockname()[1]
            ready.set()

        def run() -> None:
            self.loop.run_until_complete(start())
            self.loop.run_forever()

        threading.Thread(target=run, daemon=True, name="bank-stub").start()
        ready.wait()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _version = lines[0].split(" ", 2)
                length = next((int(line.split(":", 1)[1]) for line in lines[1:]
                               if line.lower().startswith("content-length:")), 0)
                if length:
                    await reader.readexactly(length)
                if method == "POST":
                    body = {"access_token": "stub-token", "expires_in": 7200,
                            "refresh_token": "", "scope": "webapi", "token_type": "Bearer"}
                else:
                    await asyncio.sleep(Bank.delay)
                    body = self._status(path.rsplit("/", 1)[-1])
                data = json.dumps(body).encode()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Content-Length: " + str(len(data)).encode() + b"\r\n\r\n" + data)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    @staticmethod
    def _status(invoice: str) -> dict[str, object]:
        return {"resultCode": "100", "resultMessage": "success", "transaction": {
            "id": f"00000000-0000-4000-8000-{int(invoice):012d}", "invoiceID": invoice,
            "amount": int(AMOUNT), "currency": "KZT", "terminalID": Bank.terminal,
            "statusName": "CHARGE", "cardMask": "440563...5096", "reference": "411111111117",
            "approvalCode": "157911", "reason": "success", "reasonCode": "0"}}


def shop(directory: Path, database_url: str | None, bank: str, verify: bool, *,
         fresh: bool) -> Flask:
    return build_app(directory, database_url, fresh=fresh, HALYK_ENV="test",
                     HALYK_EXTERNAL_URL="https://shop.example",
                     HALYK_TOKEN_URL=f"{bank}/oauth2/token", HALYK_API_URL=bank,
                     HALYK_VERIFY_WITH_STATUS=verify)


def app_factory() -> object:
    """gunicorn's entry point (``postlink_recheck:app_factory()``): ``/off`` and ``/on``."""
    directory = Path(os.environ["HALYK_BENCH_DIR"])
    database, bank = os.environ.get("HALYK_BENCH_DB"), os.environ["HALYK_BENCH_BANK"]
    off = shop(directory, database, bank, False, fresh=False)
    on = shop(directory, database, bank, True, fresh=False)
    return DispatcherMiddleware(off, {"/off": off, "/on": on})


def wrk(url: str, bodies: Path, seconds: int, connections: int) -> tuple[float, float, int]:
    """requests/s, p99 (ms) and the answers that were not 2xx."""
    script = bodies.with_suffix(".lua")
    script.write_text(LUA, encoding="utf-8")
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(script), url, "--",
         str(bodies)], check=True, capture_output=True, text=True, timeout=seconds + 60).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = int(re.search(r"p99_us (\d+)", out).group(1)) / 1000  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rate, p99, int(bad.group(1)) if bad else 0


def _paid(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(payments)
                                .where(payments.c.status == "paid")).scalar_one())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker-class", default="gthread")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=32)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--seconds", type=int, default=4)
    parser.add_argument("--delays", default="0,50,200")
    parser.add_argument("--payments", type=int, default=2500, help="per round")
    parser.add_argument("--database-url")
    args = parser.parse_args()
    delays = [int(d) for d in args.delays.split(",")]

    stub = Bank()
    bank = f"http://127.0.0.1:{stub.port}"

    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        app = shop(directory, args.database_url, bank, False, fresh=True)
        state = get_state(app)
        Bank.terminal = state.config.terminal_id
        rounds: list[tuple[int, str, Path]] = []
        invoices: list[str] = []  # every prepared payment
        for delay in delays:
            for mode in ("off", "on"):
                path = directory / f"{mode}-{delay}.jsonl"
                with path.open("w") as out:
                    for _ in range(args.payments):
                        record = state.ledger.create_payment(
                            invoice_id=None, amount=AMOUNT, currency=state.config.currency,
                            terminal=state.config.terminal_id, description="bench")
                        invoices.append(record.invoice_id)
                        out.write(body_for(app, record.invoice_id, AMOUNT).decode() + "\n")
                rounds.append((delay, mode, path))
        paid_before = _paid(state.ledger.engine)  # a PostgreSQL database keeps earlier runs'
        state.ledger.dispose()

        port = free_port()
        paths = [str(HERE), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
        env = {**os.environ, "HALYK_BENCH_DIR": tmp, "HALYK_BENCH_BANK": bank,
               "PYTHONPATH": os.pathsep.join(paths)}
        if args.database_url:
            env["HALYK_BENCH_DB"] = args.database_url
        command = [sys.executable, "-m", "gunicorn", "-w", str(args.workers),
                   "-k", args.worker_class, "-b", f"127.0.0.1:{port}", "--log-level", "error",
                   "--backlog", "512"]
        if args.worker_class == "gthread":
            command += ["--threads", str(args.threads)]
        server = subprocess.Popen([*command, "postlink_recheck:app_factory()"], env=env,
                                  cwd=HERE)
        base = f"http://127.0.0.1:{port}"
        results: dict[tuple[int, str], tuple[float, float, int]] = {}
        stub_cpu: dict[tuple[int, str], float] = {}
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    requests.post(base + "/off/baseline-commit", data=b"{}", timeout=5)
                    break
                except requests.ConnectionError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise SystemExit("gunicorn did not start") from None
                    time.sleep(0.2)
            for delay, mode, bodies in rounds:
                Bank.delay = delay / 1000
                cpu = time.process_time()  # this process: the bank stub, mostly
                results[delay, mode] = wrk(f"{base}/{mode}/halyk/postlink", bodies,
                                           args.seconds, args.connections)
                stub_cpu[delay, mode] = (time.process_time() - cpu) / args.seconds
        finally:
            server.terminate()
            server.wait(timeout=30)
        ledger = get_state(shop(directory, args.database_url, bank, False, fresh=False)).ledger
        paid = _paid(ledger.engine) - paid_before
        ledger.dispose()

    threads = f" x {args.threads} threads" if args.worker_class == "gthread" else ""
    print(f"gunicorn {args.workers} {args.worker_class} workers{threads}, wrk "
          f"{args.connections} connections, {args.seconds} s a round, on "
          f"{args.database_url or 'SQLite'}")
    print(f"{'bank delay':<12}{'check off req/s':>16}{'check on req/s':>16}{'p99 on ms':>11}"
          f"{'ratio':>8}{'target':>9}{'not 2xx':>9}{'stub CPU':>10}")
    for delay in delays:
        off, on = results[delay, "off"], results[delay, "on"]
        print(f"{delay:>6} ms   {off[0]:>16.0f}{on[0]:>16.0f}{on[1]:>11.0f}"
              f"{on[0] / off[0]:>8.2f}{f'>={TARGET}x' if delay == 200 else '':>9}"
              f"{off[2] + on[2]:>9}{stub_cpu[delay, 'on']:>9.0%}")
    print("stub CPU: the share of one core the bank stub (this process) took during the check-on "
          "round, out of the 2 the server also runs on")
    print(f"payments paid: {paid} of {len(invoices)} prepared")
    for delay in delays:
        for mode in ("off", "on"):
            if results[delay, mode][0] * args.seconds > args.payments:
                print(f"note: round {mode} at {delay} ms sent more postLinks than "
                      f"--payments: the rest were duplicates (raise --payments)")


if __name__ == "__main__":
    main()
