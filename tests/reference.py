"""Where the reference implementations (PySAL's esda, in their own venv) live, for the tests that
compare our numbers with them. No QGIS import, so the core tests can use it.

The venv is ``$REF_VENV`` (default ``.venv-ref`` in the repository; the QGIS version matrix gives
each chroot its own). When it is missing the comparison is skipped with the reason printed, except
under CI (``CI`` set to anything but empty/0/false), where a missing reference is a failure: a
check that silently stops running is worse than a red build.
"""
import os
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_venv = os.environ.get("REF_VENV") or ".venv-ref"
REF_VENV = _venv if os.path.isabs(_venv) else os.path.join(ROOT, _venv)
REF_PY = os.path.join(REF_VENV, "bin", "python")


def in_ci():
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def reference_missing():
    """Why the esda reference cannot run here, or '' when it can."""
    if not os.path.exists(REF_PY):
        return f"reference venv {REF_VENV} missing: run scripts/setup_ref.sh"
    done = subprocess.run([REF_PY, "-c", "import esda, libpysal"], capture_output=True, text=True)
    if done.returncode != 0:
        return f"esda/libpysal do not import in {REF_VENV}: {done.stderr.strip()[-300:]}"
    return ""


def require_reference():
    """Skip (with the reason) outside CI, fail under CI, when the reference cannot run."""
    why = reference_missing()
    if why:
        if in_ci():
            pytest.fail(f"CI needs the esda reference: {why}")
        pytest.skip(why)
