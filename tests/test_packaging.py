"""The wheel holds every package and template of the tree (the package-dir mapping must
list each subpackage; an editable install would hide a missing one)."""

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAPPING = {"torchtrek": "torchtrek", "tracer": "torchtrek/tracer", "ir": "torchtrek/ir",
           "codegen": "torchtrek/codegen", "runtime": "torchtrek/runtime"}


def expected_files() -> set[str]:
    files = set()
    for folder, target in MAPPING.items():
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in (".py", ".j2") and "__pycache__" not in path.parts:
                rel = path.relative_to(ROOT / folder).as_posix()
                files.add(f"{target}/{rel}")
    return files


def test_wheel_contains_every_module_and_template(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                           "-q", "-w", str(tmp_path), str(ROOT)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (wheel,) = tmp_path.glob("torchtrek-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = sorted(expected_files() - names)
    assert not missing, f"not in the wheel (add them to pyproject.toml): {missing}"
