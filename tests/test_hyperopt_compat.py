"""A Hyperopt 0.3 script runs unchanged after replacing `hyperopt` by `hpo` in its imports."""

import os
import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).parent / "data" / "hyperopt_script.py"
ROOT = Path(__file__).resolve().parent.parent


def test_hyperopt_script_runs_after_changing_imports(tmp_path):
    source = SCRIPT.read_text()
    migrated = re.sub(r"\bhyperopt\b", "hpo", source)
    assert "hyperopt" not in migrated
    script = tmp_path / "migrated.py"
    script.write_text(migrated)
    # The script must import the hpo of this checkout, whatever hpo is installed.
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=300, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("sample: ['act', 'bins', 'decay'")
    assert sum("best loss" in line for line in lines) == 3
    assert "all trials failed, as expected" in lines and lines[-1] == "done"
    where = subprocess.run([sys.executable, "-c", "import hpo; print(hpo.__file__)"], env=env,
                           cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    assert where.strip() == str(ROOT / "hpo" / "__init__.py")
