"""scripts/setup and scripts/install-test-services, run for real against stand-ins for pip and apt-get.

The stand-ins are scripts on a private PATH that record how they were called: the logic under test is the
shell scripts' own (what is installed when, what is printed), not pip's or apt's.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BASH = shutil.which("bash") or "/bin/bash"
RECORDING = """#!{bash}
echo "$*" >> "{log}"
{extra}
"""


def _stub(path: Path, log: Path, extra: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(RECORDING.format(bash=BASH, log=log, extra=extra), encoding="utf-8")
    path.chmod(0o755)


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A checkout with scripts/setup, a pyproject.toml and a .venv whose python only records pip calls."""
    root = tmp_path / "checkout"
    (root / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "setup", root / "scripts" / "setup")
    (root / "pyproject.toml").write_text("[project]\nname = 'x'\n", encoding="utf-8")
    _stub(root / ".venv" / "bin" / "python", tmp_path / "pip.log",
          'echo "Collecting pyarrow>=16"\nsleep "${PIP_SECONDS:-0}"')
    return root


def _setup(checkout: Path, extras: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "scripts/setup", extras], cwd=checkout, capture_output=True, text=True,
                          timeout=60, env={**os.environ, **env}, check=True)


def _pip_calls(checkout: Path) -> list[str]:
    log = checkout.parent / "pip.log"
    calls = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
    log.unlink(missing_ok=True)
    return [call for call in calls if "--upgrade" not in call]


def test_demo_and_tests_share_one_venv_without_reinstalling_each_other(checkout: Path) -> None:
    _setup(checkout, "core")
    assert _pip_calls(checkout) == ["-m pip install --disable-pip-version-check -e ."]
    _setup(checkout, "all,dev")  # the tests want more than the demo installed
    assert _pip_calls(checkout) == ["-m pip install --disable-pip-version-check -e .[all,dev]"]
    for extras in ("core", "all,dev", "dev", "core"):  # alternating demo and tests: nothing to install
        assert "Installing" not in _setup(checkout, extras).stdout
    assert _pip_calls(checkout) == []
    (checkout / "pyproject.toml").write_text("[project]\nname = 'y'\n", encoding="utf-8")
    _setup(checkout, "core")  # a changed pyproject.toml installs again
    assert _pip_calls(checkout) == ["-m pip install --disable-pip-version-check -e ."]


def test_the_install_shows_progress_lines_while_pip_works(checkout: Path) -> None:
    done = _setup(checkout, "core", PIP_SECONDS="3", SETUP_PROGRESS_SECONDS="1")
    lines = done.stdout.splitlines()
    assert lines[0] == "Installing dlt-ingest[core] into .venv (about a minute the first time) ..."
    assert any(line.strip().endswith("s  Collecting pyarrow>=16") for line in lines[1:]), done.stdout
    assert lines[-1] == "Installed dlt-ingest[core] into .venv."


@pytest.fixture
def bare_path(tmp_path: Path) -> Path:
    """A PATH holding only `id` and a recording apt-get: no MariaDB client, no chromium, no tmux, no java."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "id").symlink_to(shutil.which("id") or "/usr/bin/id")
    return bin_dir


def _install_test_services(path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k != "CI"}
    return subprocess.run([BASH, str(ROOT / "scripts" / "install-test-services"), *args],
                          capture_output=True, text=True, timeout=60, env={**clean, "PATH": str(path), **env})


PACKAGES = "mariadb-server-core mariadb-client-core mariadb-client chromium tmux openjdk-17-jre-headless"


@pytest.mark.skipif(os.geteuid() != 0, reason="the CI branch calls apt-get directly only as root (else sudo)")
@pytest.mark.parametrize(("ci", "args", "apt_fails", "code", "apt_calls", "says"), [
    pytest.param(None, (), False, 0, [], f"Not installed: {PACKAGES}; the tests that need them skip (CI=1 "
                 "./scripts/test installs them).", id="developer-machine"),
    pytest.param("true", (), False, 0, ["update -qq", f"install -y -qq --no-install-recommends {PACKAGES}"],
                 f"Installing {PACKAGES} (apt-get) for the tests ...", id="ci"),
    pytest.param(None, ("--install",), False, 0, ["update -qq", f"install -y -qq --no-install-recommends {PACKAGES}"],
                 f"Installing {PACKAGES} (apt-get) for the tests ...", id="asked-for"),
    pytest.param("true", (), True, 1, ["update -qq"], f"install-test-services: could not install {PACKAGES} with "
                 "apt-get; the tests that need them cannot run.", id="ci-without-apt"),
])
def test_system_packages_are_installed_only_in_ci_or_when_asked_and_fail_loudly_there(
        bare_path: Path, tmp_path: Path, ci: str | None, args: tuple[str, ...], apt_fails: bool, code: int,
        apt_calls: list[str], says: str) -> None:
    log = tmp_path / "apt.log"
    _stub(bare_path / "apt-get", log, "exit 1" if apt_fails else "")
    done = _install_test_services(bare_path, *args, **({"CI": ci} if ci else {}))
    assert done.returncode == code, done.stderr
    assert (log.read_text(encoding="utf-8").splitlines() if log.exists() else []) == apt_calls
    assert says in (done.stdout + done.stderr).splitlines()
