"""`pip install .` (not editable) ships the code and the built-in task files: built as a wheel, installed
into a folder of its own, mimicrec records a built-in task and a task file of one's own from elsewhere."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The wheel of this checkout installed (without dependencies: those of this venv serve) into a folder."""
    tmp = tmp_path_factory.mktemp("pkg")
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT, check=True,
                           capture_output=True, text=True).stdout.split()
    for name in files:  # build from a copy: setuptools leaves build/ in the tree it builds
        if (ROOT / name).is_file():
            (tmp / "src" / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, tmp / "src" / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp / "wheel"), str(tmp / "src")],
                   check=True, capture_output=True, timeout=600)
    wheel = next((tmp / "wheel").glob("mimicrec-*.whl"))
    subprocess.run([*pip, "install", "--no-deps", "--target", str(tmp / "site"), str(wheel)], check=True,
                   capture_output=True, timeout=600)
    return tmp / "site"


def run_installed(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {"PYTHONPATH": str(site), "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_the_wheel_holds_the_code_and_every_built_in_task_file(installed):
    for folder in (p for p in (ROOT / "configs").iterdir() if p.is_dir()):
        for path in folder.iterdir():
            assert (installed / "mimicrec_configs" / folder.name / path.name).read_bytes() == path.read_bytes()
    assert (installed / "recorder" / "dataset" / "replay.py").is_file()


def test_installed_mimicrec_records_a_built_in_task_and_a_task_file_from_elsewhere(installed, tmp_path):
    where = run_installed(installed, tmp_path, "-c", "import envs, envs.task_config as t; "
                                                    "print(envs.__file__); print(t.CONFIG_ROOT)")
    assert where.returncode == 0 and where.stdout.splitlines() == [
        str(installed / "envs" / "__init__.py"), str(installed / "mimicrec_configs")], where.stdout
    stack = run_installed(installed, tmp_path, "-m", "recorder.cli", "record", "--task", "mimicrec/Stack-v0",
                          "--robot", "xarm6", "--num-demos", "1", "--out", "stack", "--quiet")  # robot files ship too
    assert stack.returncode == 0 and "the run holds 1 demo from 1 attempt" in stack.stdout, stack.stderr
    shutil.copytree(ROOT / "docs" / "your-own-task", tmp_path / "plate")
    own = run_installed(installed, tmp_path, "-m", "recorder.cli", "record", "--task", "plate", "--num-demos", "1",
                        "--seed", "1000", "--out", "own", "--quiet")
    assert own.returncode == 0 and "the run holds 1 demo from 1 attempt" in own.stdout, own.stderr


def test_the_installed_console_script_runs_commands_and_passes_their_exit_codes(installed, tmp_path):
    script = installed / "bin" / "mimicrec"
    env = {"PYTHONPATH": str(installed), "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}
    tasks = subprocess.run([str(script), "tasks"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert tasks.returncode == 0 and "mimicrec/Stack-v0" in tasks.stdout, tasks.stderr
    missing = subprocess.run([str(script), "info", "nowhere.hdf5"], cwd=tmp_path, env=env, capture_output=True,
                             text=True, timeout=600)
    assert missing.returncode != 0 and missing.stderr.startswith("mimicrec info: error:"), missing.stderr
