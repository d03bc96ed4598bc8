"""A plain clone, with no `../shared` beside it, ingests and searches the shipped demo store.

The clone is the repository's tracked files copied to a temporary folder (what `git clone`
gives, with the working tree's edits so they are tested before a commit): nothing git-ignored
or untracked comes along, so a demo photo left out of git fails here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import DATASETS, REPO

DEMO = "sample_data/demo/fixtures"


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("plain") / "shopassist"
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout.decode()
    for name in filter(None, tracked.split("\0")):
        source = REPO / name
        if source.is_file():  # a tracked file deleted in the working tree is not in the clone
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, root / name)
    assert not (root.parent / "shared").exists()
    return root


def shopassist(clone: Path, data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI run from the clone's own code, as `make run` runs it there."""
    env = {**os.environ, "PYTHONPATH": str(clone)}
    return subprocess.run(
        [sys.executable, "-m", "assistant.cli", "--data-dir", str(data), *args],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def ingest_lines(make_output: str) -> list[str]:
    return [line for line in make_output.splitlines() if " ingest " in line]


class TestPlainClone:
    def test_make_ingests_the_demo_store_without_shared_datasets(self, clone: Path):
        out = subprocess.run(
            ["make", "-n", "run"], cwd=clone, capture_output=True, text=True, check=True
        ).stdout
        assert ingest_lines(out) == [
            f".venv/bin/shopassist --data-dir data ingest {DEMO} --catalog luma"
        ]
        assert "../shared" not in out

    @pytest.mark.skipif(not DATASETS.is_dir(), reason="the shared datasets are not beside REPO")
    def test_make_keeps_the_full_stores_when_shared_datasets_exist(self):
        out = subprocess.run(
            ["make", "-n", "sample-catalog", f"DATASETS={DATASETS}"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        lines = ingest_lines(out)
        assert [line.split(" ingest ")[1] for line in lines] == [
            f"{DATASETS}/luma/fixtures --catalog luma",
            f"{DATASETS}/eshop/catalog.json --catalog eshop",
        ]

    @pytest.mark.slow
    def test_demo_store_ingests_cleanly_and_is_searchable(self, clone: Path, tmp_path: Path):
        data = tmp_path / "data"
        ingest = shopassist(clone, data, "ingest", DEMO, "--catalog", "luma")
        assert ingest.returncode == 0, ingest.stderr
        assert "No issues." in ingest.stdout  # every photo, review and link resolved

        assert sorted(search(clone, data, "backpack", "-k", "2")) == [
            "luma:24-MB02",
            "luma:24-MB03",
        ]
        # The store's two women's hoodies come first; other kinds only follow as alternatives.
        assert search(clone, data, "hoodie", "--gender", "Women", "-k", "5")[:2] == [
            "luma:WH01",
            "luma:WH02",
        ]
        photo = "sample_data/demo/images/m/h/mh02-black_main.jpg"
        assert search(clone, data, "--image", photo, "-k", "1") == ["luma:MH02"]


def search(clone: Path, data: Path, *args: str) -> list[str]:
    """The product ids `shopassist search ... --json` returns, in rank order."""
    result = shopassist(clone, data, "search", *args, "--json")
    assert result.returncode == 0, result.stderr
    return [hit["product"]["id"] for hit in json.loads(result.stdout)["hits"]]
