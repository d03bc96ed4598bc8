from __future__ import annotations

import os
from pathlib import Path

import pytest

from assistant import go_offline, load_settings
from assistant.config import Settings


class TestSettings:
    def test_precedence_file_env_flag(self, tmp_path: Path, monkeypatch):
        config = tmp_path / "shopassist.yml"
        config.write_text("data_dir: from-file\noffline: false\n")
        settings = load_settings(config)
        assert settings.data_dir == tmp_path / "from-file" and settings.offline is False
        monkeypatch.setenv("SHOPASSIST_DATA_DIR", "/env/data")
        assert load_settings(config).data_dir == Path("/env/data")
        assert load_settings(config, data_dir=Path("/flag")).data_dir == Path("/flag")

    def test_unknown_setting_rejected(self, tmp_path: Path):
        config = tmp_path / "s.yml"
        config.write_text("data_dri: x\n")
        with pytest.raises(ValueError, match=r"unknown setting.*data_dri"):
            load_settings(config)

    def test_speech_phrase_model_switch_reads_as_a_boolean(self, monkeypatch):
        assert Settings().speech_phrase_model is True
        monkeypatch.setenv("SHOPASSIST_SPEECH_PHRASE_MODEL", "false")
        assert load_settings().speech_phrase_model is False

    def test_one_catalog_or_all(self, monkeypatch):
        assert Settings().catalog is None  # every catalog of the data dir, as one store
        monkeypatch.setenv("SHOPASSIST_CATALOG", "luma")
        assert load_settings().catalog == "luma"
        monkeypatch.setenv("SHOPASSIST_CATALOG", "")
        assert load_settings().catalog is None

    def test_round_trip(self):
        settings = Settings(data_dir=Path("/d"), offline=False)
        assert Settings.from_dict(settings.to_dict()) == settings

    def test_offline_switches_keep_explicit_choices(self, monkeypatch):
        for key in ("HF_HUB_OFFLINE", "GRADIO_ANALYTICS_ENABLED", "ANONYMIZED_TELEMETRY"):
            monkeypatch.delenv(key, raising=False)
        monkeypatch.setenv("HF_HUB_OFFLINE", "0")
        go_offline()
        assert os.environ["HF_HUB_OFFLINE"] == "0"
        assert os.environ["GRADIO_ANALYTICS_ENABLED"] == "False"
        assert os.environ["ANONYMIZED_TELEMETRY"] == "False"
