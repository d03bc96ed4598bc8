"""Dockerfile and compose.yaml, checked without a Docker engine (none runs on these machines).

Their settings are read the way the app reads them (`load_settings` over each worker's
environment), so a renamed setting, a service renamed on one side only or a port that does not
match fails here. `make deploy-check` (hadolint, and Compose v2's own `config`) runs here too.
The layout itself, with real Redis, PostgreSQL, Chroma and two workers, is tests/test_deploy.py.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from conftest import REPO

from assistant.config import ENV_PREFIX, Settings, load_settings
from assistant.integrations.http_api import API_TOKEN_ENV
from ui.cli import AUTH_ENV

COMPOSE = REPO / "compose.yaml"
DOCKERFILE = REPO / "Dockerfile"
WORKERS = ("web1", "web2")
# Secrets the app reads from the environment only, never as settings.
SECRET_ENV = {AUTH_ENV, API_TOKEN_ENV}
_INTERPOLATION = re.compile(r"\$\{(\w+)(?::[?-][^}]*)?\}")


def interpolated(text: str, values: dict[str, str]) -> str:
    """compose.yaml with `${VAR}`, `${VAR:-default}` and `${VAR:?message}` filled from
    `values`, as Compose does with the shell's variables."""
    return _INTERPOLATION.sub(lambda match: values.get(match.group(1), ""), text)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    secrets = {"POSTGRES_PASSWORD": "pg-secret", "SHOPASSIST_AUTH": "shop:secret"}
    return yaml.safe_load(interpolated(COMPOSE.read_text(), secrets))


def worker_settings(environment: dict[str, str]) -> Settings:
    """The settings a worker with this environment starts with (no settings file)."""
    with pytest.MonkeyPatch.context() as patch:
        for key in [key for key in os.environ if key.startswith(ENV_PREFIX)]:
            patch.delenv(key)
        for key, value in environment.items():
            patch.setenv(key, str(value))
        return load_settings()


def dockerfile_env() -> dict[str, str]:
    """The `ENV` assignments of the Dockerfile (continuation lines joined)."""
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    values: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("ENV "):
            values.update(pair.split("=", 1) for pair in line[4:].split())
    return values


class TestCompose:
    def test_every_shopassist_variable_names_a_setting_or_a_secret(self, compose):
        settings = {ENV_PREFIX + f.name.upper() for f in fields(Settings)}
        used = {
            key
            for service in compose["services"].values()
            for key in service.get("environment", {})
            if key.startswith(ENV_PREFIX)
        } | {key for key in dockerfile_env() if key.startswith(ENV_PREFIX)}
        assert used - settings - SECRET_ENV == set()

    def test_workers_reach_the_state_servers_of_this_file(self, compose):
        services = compose["services"]
        for name in WORKERS:
            settings = worker_settings(services[name]["environment"])
            redis = urlsplit(settings.session_store or "")
            postgres = urlsplit(settings.event_db_url or "")
            chroma = urlsplit(settings.chroma_url or "")
            assert (redis.scheme, redis.hostname, redis.port) == ("redis", "redis", 6379)
            assert postgres.hostname == "postgres"
            assert postgres.username == services["postgres"]["environment"]["POSTGRES_USER"]
            assert postgres.path == "/" + services["postgres"]["environment"]["POSTGRES_DB"]
            command = services["chroma"]["command"]
            assert chroma.hostname == "chroma"
            assert str(chroma.port) == command[command.index("--port") + 1]
            assert set(services[name]["depends_on"]) == {"redis", "postgres", "chroma"}

    def test_the_postgres_password_reaches_the_workers_without_a_url(self, compose):
        """libpq reads $PGPASSWORD, so the password never sits in a URL the app may print."""
        services = compose["services"]
        password = services["postgres"]["environment"]["POSTGRES_PASSWORD"]
        assert password == "pg-secret"
        for name in WORKERS:
            environment = services[name]["environment"]
            assert environment["PGPASSWORD"] == password
            assert password not in environment["SHOPASSIST_EVENT_DB_URL"]

    def test_secrets_come_from_the_environment_not_the_file(self):
        raw = yaml.safe_load(COMPOSE.read_text())
        for service in raw["services"].values():
            for key, value in service.get("environment", {}).items():
                if "PASSWORD" in key or key in SECRET_ENV:
                    assert _INTERPOLATION.fullmatch(str(value)), key

    def test_workers_share_one_data_folder_and_listen_where_published(self, compose):
        services = compose["services"]
        exposed = re.search(r"^EXPOSE (\d+)$", DOCKERFILE.read_text(), re.MULTILINE)
        assert exposed
        published = []
        for name in WORKERS:
            settings = worker_settings(services[name]["environment"])
            assert services[name]["volumes"] == [f"shop-data:{settings.data_dir}"]
            assert settings.host == "0.0.0.0"
            assert str(settings.port) == exposed.group(1)
            (port,) = services[name]["ports"]
            host_ip, host_port, container_port = port.split(":")
            assert (host_ip, container_port) == ("127.0.0.1", str(settings.port))
            published.append(host_port)
        assert len(set(published)) == len(WORKERS)

    def test_the_healthcheck_asks_the_port_the_app_serves(self):
        settings = worker_settings(dockerfile_env())
        assert f"http://127.0.0.1:{settings.port}/api/v1/health" in DOCKERFILE.read_text()


@pytest.fixture(scope="module")
def tools() -> Path:
    """The venv `make deploy-tools` fills (`make test` does it first)."""
    folder = REPO / ".venv-deploy"
    if not (folder / ".installed").is_file():
        pytest.skip("hadolint and Compose are not installed: make deploy-tools")
    return folder


class TestLinters:
    def test_make_deploy_check_passes(self, tools):
        result = subprocess.run(
            ["make", "--no-print-directory", "deploy-check"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stdout + result.stderr

    @pytest.mark.parametrize("missing", ["POSTGRES_PASSWORD", AUTH_ENV])
    def test_compose_refuses_to_start_without_a_secret(self, tools, missing):
        binary = next((tools / "lib").glob("python3*/site-packages/compose/docker-compose"))
        env = {**os.environ, "POSTGRES_PASSWORD": "pg-secret", AUTH_ENV: "shop:secret"}
        del env[missing]
        result = subprocess.run(
            [str(binary), "-f", str(COMPOSE), "config", "--quiet"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode != 0
        assert f"required variable {missing} is missing" in result.stderr
