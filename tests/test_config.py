from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

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

    @pytest.mark.parametrize(
        ("variable", "value", "message"),
        [
            ("SHOPASSIST_PORT", "abc", "setting port: expected a whole number, got 'abc'"),
            ("SHOPASSIST_MAX_SESSIONS", "1e4", "setting max_sessions: expected a whole number"),
            ("SHOPASSIST_SPEECH_MAX_SECONDS", "30s", "setting speech_max_seconds: expected a n"),
            ("SHOPASSIST_PERSONALISE", "nope", "setting personalise: expected true or false"),
        ],
    )
    def test_a_bad_value_names_the_setting(self, monkeypatch, variable, value, message):
        monkeypatch.setenv(variable, value)
        with pytest.raises(ValueError, match=message):
            load_settings()

    def test_a_misspelt_switch_is_refused_not_read_as_false(self, tmp_path: Path):
        """`offline: flase` used to turn the network on without a word."""
        config = tmp_path / "s.yml"
        config.write_text("offline: flase\n")
        with pytest.raises(ValueError, match="setting offline: expected true or false, got 'f"):
            load_settings(config)

    def test_switch_words(self, monkeypatch):
        for word, expected in (("yes", True), ("ON", True), ("0", False), ("", False)):
            monkeypatch.setenv("SHOPASSIST_SHARE", word)
            assert load_settings().share is expected

    @pytest.mark.parametrize(
        ("variable", "settings_file", "message"),
        [
            ("SHOPASSIST_PORT", "", "setting port: expected a whole number, got 'abc'"),
            ("", "offline: flase\n", "setting offline: expected true or false, got 'flase'"),
        ],
    )
    def test_the_cli_prints_one_line_naming_the_setting(
        self, tmp_path: Path, variable, settings_file, message
    ):
        env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPASSIST_")}
        env["PYTHONPATH"] = str(REPO)
        if variable:
            env[variable] = "abc"
        if settings_file:
            (tmp_path / "shop.yml").write_text(settings_file, encoding="utf-8")
            env["SHOPASSIST_CONFIG"] = str(tmp_path / "shop.yml")
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "assistant.cli",
                "--data-dir",
                str(tmp_path),
                "catalog",
                "stats",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode != 0
        assert "Traceback" not in result.stderr
        assert message in result.stderr

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


class TestDialogueSettings:
    """prompts/dialogue.yml, as a product team edits it."""

    def test_the_need_closeness_is_read_and_checked(self, tmp_path: Path):
        from dialogue import DialogueSettings, PromptFileError

        assert DialogueSettings.load(REPO / "prompts" / "dialogue.yml").need_closeness == 0.32
        path = tmp_path / "dialogue.yml"
        path.write_text("nlu:\n  need_closeness: 2\n", encoding="utf-8")
        with pytest.raises(PromptFileError, match="need_closeness"):
            DialogueSettings.load(path)
