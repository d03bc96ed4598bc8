"""The wheel works without the repository: it carries the default prompts, an installed copy
finds them, and `shopassist init` copies them out for editing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from conftest import REPO

from assistant.cli import main
from assistant.config import DEFAULT_PROMPTS_DIR

REPO_PROMPTS = sorted(path.name for path in (REPO / "prompts").glob("*.yml"))


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's wheel, built offline from a copy of what pyproject.toml packages (a build
    in place would leave build/ and *.egg-info in the checkout)."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    setuptools = config["tool"]["setuptools"]
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", config["project"]["readme"]):
        shutil.copy(REPO / name, source / name)
    for module in setuptools["py-modules"]:
        shutil.copy(REPO / f"{module}.py", source / f"{module}.py")
    for pattern in setuptools["packages"]["find"]["include"]:
        package = pattern.rstrip("*")
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
        shutil.copytree(REPO / package, source / package, ignore=ignore)
    out = tmp_path_factory.mktemp("wheel")
    offline = ["-q", "--no-deps", "--no-build-isolation", "--no-index"]
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", *offline, "-w", str(out), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (built,) = out.glob("shopassist-*.whl")
    return built


class TestWheel:
    def test_it_carries_every_default_prompt_file(self, wheel: Path):
        assert REPO_PROMPTS  # the repository's prompts/ is where the defaults come from
        names = set(zipfile.ZipFile(wheel).namelist())
        missing = [name for name in REPO_PROMPTS if f"prompts/{name}" not in names]
        assert not missing, missing

    def test_an_installed_copy_finds_its_prompts(self, wheel: Path, tmp_path: Path):
        """Installed into a bare folder, `Settings().prompts_dir` is the wheel's own copy, not
        the checkout's: run from elsewhere, with only that folder on PYTHONPATH."""
        target = tmp_path / "site"
        install = ["install", "-q", "--no-deps", "--no-index", "--target", str(target)]
        subprocess.run(
            [sys.executable, "-m", "pip", *install, str(wheel)],
            check=True,
            capture_output=True,
            timeout=300,
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPASSIST_")}
        env["PYTHONPATH"] = str(target)
        code = "import assistant.config as c; print(c.__file__); print(c.Settings().prompts_dir)"
        result = subprocess.run(
            [sys.executable, "-c", code],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        module, prompts = (Path(line) for line in result.stdout.splitlines())
        assert module.is_relative_to(target)
        assert prompts.is_relative_to(target)
        assert sorted(path.name for path in prompts.glob("*.yml")) == REPO_PROMPTS
        assert (prompts / "nlu.yml").read_bytes() == (REPO / "prompts" / "nlu.yml").read_bytes()


class TestInit:
    def test_copies_every_default_file_and_never_overwrites_without_force(
        self, tmp_path: Path, capsys
    ):
        data = ["--data-dir", str(tmp_path / "data")]
        target = tmp_path / "my prompts"
        assert main([*data, "init", str(target)]) == 0
        assert sorted(path.name for path in target.iterdir()) == REPO_PROMPTS
        for name in REPO_PROMPTS:
            assert (target / name).read_bytes() == (DEFAULT_PROMPTS_DIR / name).read_bytes()
        out = capsys.readouterr().out
        assert f"wrote {target / 'nlu.yml'}" in out
        assert f"SHOPASSIST_PROMPTS_DIR={target}" in out

        edited = target / "responses.yml"
        edited.write_text("# the product team's own replies\n", encoding="utf-8")
        assert main([*data, "init", str(target)]) == 1
        error = capsys.readouterr().err
        assert "responses.yml" in error and "--force" in error
        assert edited.read_text(encoding="utf-8") == "# the product team's own replies\n"

        assert main([*data, "init", str(target), "--force"]) == 0
        assert edited.read_bytes() == (DEFAULT_PROMPTS_DIR / "responses.yml").read_bytes()

    def test_defaults_to_the_user_config_folder_which_the_app_then_reads(
        self, tmp_path: Path, monkeypatch, capsys
    ):
        monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
        assert main(["--data-dir", str(tmp_path / "data"), "init"]) == 0
        target = tmp_path / "config" / "shopassist" / "prompts"
        assert (target / "nlu.yml").is_file()
        assert f"SHOPASSIST_PROMPTS_DIR={target}" in capsys.readouterr().out

        monkeypatch.setenv("SHOPASSIST_PROMPTS_DIR", str(target))
        assert main(["--data-dir", str(tmp_path / "data"), "init", "--force"]) == 0
        assert "already read them from there" in capsys.readouterr().out
