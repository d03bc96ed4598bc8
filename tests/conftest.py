"""Shared fixtures: the real shared datasets, the project's cleaning rules, and stores."""

from __future__ import annotations

import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from retrieval import (
    CatalogIndexer,
    CatalogStore,
    CleaningConfig,
    ClipEncoder,
    EfficientNetImageEncoder,
    EmbeddingCache,
    SearchEngine,
    SentenceTextEncoder,
    VectorIndex,
    ingest,
)

if TYPE_CHECKING:
    from assistant import Assistant

REPO = Path(__file__).resolve().parent.parent
DATASETS = REPO.parent / "shared" / "datasets"
LUMA = DATASETS / "luma" / "fixtures"
LUMA_IMAGES = DATASETS / "luma" / "images"
ESHOP = DATASETS / "eshop" / "catalog.json"
SAMPLE_GENERIC = REPO / "sample_data" / "generic"
TINY_CLIP = "shopassist-test-tiny-clip"


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_claiming(width: int, height: int) -> bytes:
    """A tiny, structurally valid PNG whose header declares `width` x `height` pixels (a
    decompression bomb when large)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + png_chunk(b"IEND", b"")
    )


@pytest.fixture(scope="session")
def cleaning() -> CleaningConfig:
    return CleaningConfig.from_yaml(REPO / "prompts" / "cleaning.yml")


@pytest.fixture
def store(tmp_path: Path) -> CatalogStore:
    return CatalogStore(tmp_path / "catalog.db")


@pytest.fixture(scope="session")
def luma_store(tmp_path_factory: pytest.TempPathFactory, cleaning: CleaningConfig) -> CatalogStore:
    """The whole Luma sample store plus eShop, ingested once for read-only tests."""
    assert LUMA.is_dir(), f"shared dataset missing: {LUMA}"
    shared = CatalogStore(tmp_path_factory.mktemp("luma") / "catalog.db")
    ingest(LUMA, shared, catalog="luma", cleaning=cleaning, progress=False)
    ingest(ESHOP, shared, catalog="eshop", cleaning=cleaning, progress=False)
    return shared


@pytest.fixture(scope="session")
def text_encoder() -> SentenceTextEncoder:
    return SentenceTextEncoder()


@pytest.fixture(scope="session")
def effnet() -> EfficientNetImageEncoder:
    return EfficientNetImageEncoder()


@pytest.fixture(scope="session")
def tiny_clip_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A registered tiny open_clip config and its random weights, saved like a user's file."""
    import open_clip
    import torch

    folder = tmp_path_factory.mktemp("tiny_clip")
    config = folder / f"{TINY_CLIP}.json"
    vocab = open_clip.get_tokenizer("ViT-B-32").vocab_size
    vision = {"image_size": 64, "layers": 2, "width": 64, "head_width": 32, "patch_size": 16}
    text = {"context_length": 77, "vocab_size": vocab, "width": 64, "heads": 2, "layers": 2}
    config.write_text(json.dumps({"embed_dim": 32, "vision_cfg": vision, "text_cfg": text}))
    open_clip.add_model_config(config)
    torch.manual_seed(0)
    checkpoint = folder / "tiny-random.pt"
    torch.save(open_clip.create_model(TINY_CLIP).state_dict(), checkpoint)
    return checkpoint


@pytest.fixture(scope="session")
def tiny_clip(tiny_clip_checkpoint: Path) -> ClipEncoder:
    return ClipEncoder(TINY_CLIP, checkpoint=tiny_clip_checkpoint)


@pytest.fixture(scope="session")
def engine(luma_store, text_encoder, tmp_path_factory) -> SearchEngine:
    """Text search over the whole Luma + eShop store in an embedded Chroma."""
    root = tmp_path_factory.mktemp("index")
    index = VectorIndex(path=root / "chroma")
    CatalogIndexer(luma_store, index, EmbeddingCache(root / "cache.db"), text_encoder).sync(
        progress=False
    )
    return SearchEngine(luma_store, index, text_encoder)


@pytest.fixture(scope="session")
def assistant(engine, tmp_path_factory):
    """The real assistant (trained NLU, policy, templates) over the Luma + eShop engine."""
    from assistant import Assistant, RetrievalStack, Settings
    from retrieval import EmbeddingCache

    data = tmp_path_factory.mktemp("assistant")
    # No per-session rate limit: tests drive long sessions fast (tests/test_security.py
    # checks the limit on its own assistant).
    settings = Settings(
        data_dir=data,
        image_model="none",
        turns_per_minute=0,
        client_requests_per_minute=0,
        client_sessions_per_minute=0,
        events_per_minute=0,
    )
    stack = RetrievalStack(
        settings=settings,
        store=engine.store,
        index=engine.index,
        cache=EmbeddingCache(data / "cache.db"),
        text_encoder=engine.text_encoder,
        image_encoder=None,
        clip_encoder=None,
    )
    return Assistant(settings, stack)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_http(handler: type[BaseHTTPRequestHandler]) -> tuple[ThreadingHTTPServer, str]:
    """A real HTTP server on a free 127.0.0.1 port, in a background thread, and its base URL;
    stop it with `stop_http`."""
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def stop_http(server: ThreadingHTTPServer) -> None:
    server.shutdown()
    server.server_close()


def start(assistant: Assistant, **options: object) -> tuple[object, str]:
    """`ui.serve` (the app and /api/v1) on a free 127.0.0.1 port; `.close()` the app after."""
    from ui import serve

    port = free_port()
    app = serve(assistant, port=port, block=False, quiet=True, **options)
    return app, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def client(assistant) -> Iterator[httpx.Client]:
    """The real app and /api/v1 over the session assistant, without a token (the variable is
    cleared for the server's start), stopped after the module."""
    from assistant.integrations.http_api import API_TOKEN_ENV

    with pytest.MonkeyPatch.context() as patch:
        patch.delenv(API_TOKEN_ENV, raising=False)
        app, url = start(assistant)
    try:
        with httpx.Client(base_url=url, timeout=60) as http:
            yield http
    finally:
        app.close()


class ChromaServer:
    """`chroma run` on a fixed port and folder, so a restart serves the same data."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.port = folder, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        chroma = shutil.which("chroma", path=str(Path(sys.executable).parent)) or "chroma"
        self.process = subprocess.Popen(
            [chroma, "run", "--path", str(self.folder), "--host", "127.0.0.1",
             "--port", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/api/v2/heartbeat", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.3)
        pytest.fail("chroma server did not start within 60 s")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)
            self.process = None


class RedisServer:
    """Debian's `redis-server` on a free 127.0.0.1 port with no persistence, in `folder`."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.port = folder, free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed (`make test` installs it with apt)")
        self.folder.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.1)
        pytest.fail("redis-server did not start within 30 s")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)
            self.process = None


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One Redis for the whole run; tests keep apart by session ids or `flushdb`."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


def postgres_binary(name: str) -> str | None:
    """A PostgreSQL server program: on PATH, else where Debian's `postgresql` puts it."""
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    return str(versions[-1]) if versions else None


class PostgresServer:
    """A throwaway PostgreSQL cluster (`initdb` + `pg_ctl`) on a free 127.0.0.1 port, with
    trust login for `postgres`. PostgreSQL refuses to run as root, so under root the cluster
    belongs to the `postgres` system user (Debian's package makes it)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="shopassist-pg-"))
        self.data = self.folder / "data"
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._as: list[str] = []

    def _run(self, *command: str) -> None:
        subprocess.run([*self._as, *command], check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        initdb, pg_ctl = postgres_binary("initdb"), postgres_binary("pg_ctl")
        if initdb is None or pg_ctl is None:
            pytest.skip("PostgreSQL is not installed (`make test` installs it with apt)")
        self.pg_ctl = pg_ctl
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
            self._as = ["runuser", "-u", "postgres", "--"]
        self._run(initdb, "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder}"
        log = str(self.folder / "server.log")
        self._run(pg_ctl, "-D", str(self.data), "-o", options, "-l", log, "-w", "start")

    def database(self) -> str:
        """A new, empty database on this server; its URL."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url, autocommit=True) as db:
            db.execute(f"CREATE DATABASE {name}")
        return self.url.rsplit("/", 1)[0] + f"/{name}"

    def stop(self) -> None:
        try:
            self._run(self.pg_ctl, "-D", str(self.data), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = PostgresServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def event_store(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """Where an event log lives: a SQLite file, or a fresh PostgreSQL database (the same
    tests, the same SQL, on both)."""
    if request.param == "sqlite":
        return tmp_path / "events.db"
    return request.getfixturevalue("postgres_server").database()
