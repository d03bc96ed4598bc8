"""The production layout, with real servers: two `shopassist serve` workers over one Redis
(sessions, budgets, the token secret), one PostgreSQL (the event log) and one Chroma server
(vectors), sharing a data folder with a small ingested catalog.

One shopper alternates between the workers turn by turn and gets exactly the answers a
shopper gets from one worker; one worker is SIGKILLed mid-conversation and the other carries
on with the cart; the events land in PostgreSQL and `shopassist report` reads them there.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from conftest import REPO, ChromaServer, PostgresServer, RedisServer, free_port

pytestmark = pytest.mark.slow


def _product(pid: str, title: str, price: float, category: str, color: str, sizes: str) -> dict:
    variants = [
        {"sku": f"{pid}-{size}", "size": size, "color": color, "in_stock": True, "qty": 5}
        for size in sizes.split()
    ]
    return {
        "id": pid,
        "title": title,
        "description": f"{title}: made for wet and windy days on the trail.",
        "price": price,
        "brand": "Northfold",
        "category": category,
        "attributes": {"gender": [category.split("/")[0]], "color": [color]},
        "variants": variants,
    }


CATALOG = [
    _product("J1", "Summit Rain Jacket", 80, "Women/Jackets", "Blue", "S M L"),
    _product("J2", "Ridge Softshell Jacket", 70, "Women/Jackets", "Blue", "S M L"),
    _product("J3", "Harbor Windbreaker Jacket", 55, "Women/Jackets", "Red", "S M L"),
    _product("J4", "Alpine Down Jacket", 150, "Women/Jackets", "Blue", "S M L"),
    _product("T1", "Merino Tee", 45, "Men/Tees", "Red", "M L"),
]
CONVERSATION = [
    "show me women's jackets",
    "in blue under $100",
    "add the first one",
    "M",
    "compare the first two",
    "what's in my cart?",
    "checkout please",
]


def shopassist(config: Path, *argv: str, env: dict[str, str] | None = None, **kw: Any):
    """The CLI in a process of its own, as an operator runs it."""
    return subprocess.run(
        [sys.executable, "-m", "assistant.cli", "--config", str(config), *argv],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
        capture_output=True,
        text=True,
        timeout=600,
        **kw,
    )


class Worker:
    """`shopassist serve` on a port of its own."""

    def __init__(self, config: Path, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.process = subprocess.Popen(
            [sys.executable, "-m", "assistant.cli", "--config", str(config), "serve",
             "--port", str(self.port)],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )  # fmt: skip

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"worker exited: {self.log.read_text(errors='replace')[-3000:]}")
            try:
                if httpx.get(f"{self.url}/api/v1/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        pytest.fail(f"worker not up in 300 s: {self.log.read_text(errors='replace')[-3000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Redis, PostgreSQL and Chroma servers; the catalog ingested and the NLU trained once;
    two workers serving it."""
    root = tmp_path_factory.mktemp("deploy")
    redis_server = RedisServer(root / "redis")
    redis_server.start()
    postgres = PostgresServer()
    chroma = ChromaServer(root / "chroma")
    workers: list[Worker] = []
    try:
        postgres.start()
        chroma.start()
        events_url = postgres.database()
        config = root / "shopassist.yml"
        settings = {
            "data_dir": str(root / "data"),
            "image_model": "none",
            "speech_backend": "none",
            "chroma_url": chroma.url,
            "session_store": redis_server.url,
            "event_db_url": events_url,
        }
        config.write_text(json.dumps(settings), encoding="utf-8")  # JSON is YAML
        source = root / "shop.jsonl"
        source.write_text("".join(json.dumps(p) + "\n" for p in CATALOG), encoding="utf-8")
        for argv in (("ingest", str(source), "--catalog", "shop", "--no-progress"), ("train",)):
            done = shopassist(config, *argv)
            assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        workers = [Worker(config, root / f"worker-{n}.log") for n in (1, 2)]
        for worker in workers:
            worker.wait_ready()
        yield {
            "config": config,
            "workers": workers,
            "events_url": events_url,
            "data": root / "data",
            "redis": redis_server,
        }
    finally:
        for worker in workers:
            worker.stop()
        chroma.stop()
        postgres.stop()
        redis_server.stop()


def open_session(worker: Worker) -> dict[str, str]:
    created = httpx.post(f"{worker.url}/api/v1/sessions", timeout=60)
    assert created.status_code == 201, created.text
    return {"X-Session-Token": created.json()["session_token"]}


def say(worker: Worker, token: dict[str, str], message: str) -> dict[str, Any]:
    reply = httpx.post(
        f"{worker.url}/api/v1/chat", json={"message": message}, headers=token, timeout=120
    )
    assert reply.status_code == 200, reply.text
    return reply.json()


def answer(reply: dict[str, Any]) -> dict[str, Any]:
    """What the shopper sees of a turn (the session id inside `state` differs by design)."""
    return {
        "text": reply["text"],
        "action": reply["action"],
        "suggestions": [s["product"]["id"] for s in reply["suggestions"]],
        "comparison": reply["comparison"],
        "cart": reply["cart"],
    }


class TestTwoWorkers:
    def test_one_shopper_across_two_workers_and_one_killed(self, layout):
        one, two = layout["workers"]
        alone = open_session(one)
        expected = [answer(say(one, alone, message)) for message in CONVERSATION]
        # The conversation is worth comparing: a size question, a cart line in M, a table.
        actions = [turn["action"] for turn in expected]
        assert actions[2] == "ask_size" and actions[3] == "add_to_cart", actions
        assert expected[4]["comparison"] and actions[-1] == "checkout", actions
        (line,) = expected[-1]["cart"]
        assert line["size"] == "M" and line["product_id"].startswith("shop:J")

        token = open_session(two)
        got = []
        for number, message in enumerate(CONVERSATION[:5]):
            got.append(answer(say((one, two)[number % 2], token, message)))
        one.process.send_signal(signal.SIGKILL)  # mid-conversation, cart full
        one.process.wait(timeout=30)
        got += [answer(say(two, token, message)) for message in CONVERSATION[5:]]
        assert got == expected

        session = token["X-Session-Token"].rsplit(".", 1)[0]
        cart = httpx.get(f"{two.url}/api/v1/sessions/{session}/cart", headers=token, timeout=60)
        assert cart.status_code == 200 and cart.json()["lines"][0]["size"] == "M"

        # The events of both workers are in PostgreSQL (none in a local SQLite file), and the
        # report reads them from there.
        with psycopg.connect(layout["events_url"]) as db:
            kinds = dict(
                db.execute(
                    "SELECT kind, COUNT(*) FROM events WHERE session = %s GROUP BY kind",
                    (session,),
                ).fetchall()
            )
        assert kinds.get("shown", 0) > 0 and kinds.get("added") == 1, kinds
        assert not (layout["data"] / "events.db").exists()
        report = shopassist(layout["config"], "report")
        assert report.returncode == 0, report.stderr
        figures = json.loads((layout["data"] / "reports" / "report.json").read_text())
        assert figures["total"]["impressions"] >= 2 * kinds["shown"]  # both shoppers
        assert figures["total"]["sessions"] >= 2

    def test_a_wrong_server_url_is_named_not_a_traceback(self, layout):
        for name, url, said in (
            ("SESSION_STORE", f"redis://127.0.0.1:{free_port()}/0", "session_store: cannot use"),
            ("EVENT_DB_URL", f"postgresql://x:secret@127.0.0.1:{free_port()}/db", "event_db_url"),
        ):
            done = shopassist(
                layout["config"], "serve", "--port", str(free_port()),
                env={f"SHOPASSIST_{name}": url},
            )  # fmt: skip
            assert done.returncode == 1
            assert said in done.stderr and "Traceback" not in done.stderr + done.stdout
            assert "secret" not in done.stderr
