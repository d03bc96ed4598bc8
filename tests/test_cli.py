from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import ESHOP, LUMA, REPO, SAMPLE_GENERIC

from assistant.cli import default_catalog_name, main


class TestCli:
    def test_ingest_then_stats_and_show(self, tmp_path: Path, capsys):
        data = ["--data-dir", str(tmp_path)]
        assert main([*data, "ingest", str(SAMPLE_GENERIC / "catalog.jsonl"), "--no-progress"]) == 0
        assert "generic: 3 products" in capsys.readouterr().out
        assert main([*data, "catalog", "stats", "--json"]) == 0
        stats = json.loads(capsys.readouterr().out)
        assert stats["per_catalog"] == {"generic": 3}
        assert main([*data, "catalog", "show", "generic:TS-100"]) == 0
        assert json.loads(capsys.readouterr().out)["brand"] == "Northfold"
        assert main([*data, "catalog", "show", "generic:nope"]) == 1

    def test_search_filters_by_any_filter_attribute(self, tmp_path: Path, capsys):
        data = ["--data-dir", str(tmp_path)]
        assert main([*data, "ingest", str(SAMPLE_GENERIC / "catalog.jsonl"), "--no-progress"]) == 0
        capsys.readouterr()
        assert main([*data, "search", "jacket", "--activity", "Hiking", "--json"]) == 0
        hits = json.loads(capsys.readouterr().out)["hits"]
        assert [h["product"]["id"] for h in hits] == ["generic:TS-100"]  # the one for hiking
        assert main([*data, "search", "jacket", "--not-material", "Nylon", "--json"]) == 0
        hits = json.loads(capsys.readouterr().out)["hits"]
        assert hits and "generic:TS-100" not in [h["product"]["id"] for h in hits]

    def test_report_written_with_row_references(self, tmp_path: Path):
        src = tmp_path / "shop.csv"
        src.write_text("id,title,price\nA1,Mug,abc\n")
        report = tmp_path / "report.json"
        args = ["--data-dir", str(tmp_path), "ingest", str(src), "--report", str(report)]
        assert main([*args, "--no-progress"]) == 0
        saved = json.loads(report.read_text())
        assert saved["issue_counts"]["bad_price"] == 1
        assert any(i["row"] == 2 for i in saved["issues"] if i["reason"] == "bad_price")

    def test_unreadable_source_exits_nonzero_with_one_clear_error(self, tmp_path: Path):
        src = tmp_path / "empty.csv"
        src.write_text("")
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "assistant.cli",
                "--data-dir",
                str(tmp_path),
                "ingest",
                str(src),
                "--no-progress",
            ],
            capture_output=True,
            text=True,
            cwd=REPO,
            check=False,
        )
        assert result.returncode == 1
        assert "error:" in result.stderr and "no product could be read" in result.stderr
        assert "Traceback" not in result.stderr

    def test_full_sample_ingest_via_console_script(self, tmp_path: Path):
        script = Path(sys.executable).parent / "shopassist"
        for source, name in ((LUMA, "luma"), (ESHOP, "eshop")):
            subprocess.run(
                [
                    str(script),
                    "--data-dir",
                    str(tmp_path),
                    "ingest",
                    str(source),
                    "--catalog",
                    name,
                ],
                check=True,
                capture_output=True,
            )
        out = subprocess.run(
            [str(script), "--data-dir", str(tmp_path), "catalog", "stats"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        assert "294 products (luma 193, eshop 101)" in " ".join(out.split())

    def test_default_catalog_names(self):
        assert default_catalog_name(LUMA) == "luma"
        assert default_catalog_name(ESHOP) == "eshop"
        assert default_catalog_name(Path("My Shop.jsonl")) == "my-shop"

    def test_no_command_prints_help(self, capsys):
        assert main([]) == 2
        assert "ingest" in capsys.readouterr().out


class TestDialogueCommands:
    def test_train_then_chat_in_the_terminal(self, tmp_path: Path, assistant):
        script = Path(sys.executable).parent / "shopassist"
        data = ["--data-dir", str(tmp_path)]
        source = str(SAMPLE_GENERIC / "catalog.jsonl")
        subprocess.run([str(script), *data, "ingest", source], check=True, capture_output=True)
        # Sentence vectors of the examples are already cached by the session's assistant.
        memo = assistant.model_cache / "nlu-embeddings.npz"
        (tmp_path / "models").mkdir()
        shutil.copy(memo, tmp_path / "models" / memo.name)
        trained = subprocess.run(
            [str(script), *data, "train", "--force"], check=True, capture_output=True, text=True
        )
        assert "NLU trained: " in trained.stdout and "27 intents" in trained.stdout
        again = subprocess.run([str(script), *data, "train"], capture_output=True, text=True)
        assert "loaded from cache" in again.stdout
        chat = subprocess.run(
            [str(script), *data, "chat"],
            input="hello\nshow me mugs\nadd the first one\nwhat's in my cart\n\n",
            capture_output=True,
            text=True,
            check=True,
        )
        assert "Enamel Camp Mug" in chat.stdout and "Your cart (1 item" in chat.stdout
