"""The pytest suite of the Python package: run with a Python that has int4pack installed
(scripts/install-python), e.g. VENV/bin/python -m pytest tests/python."""
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
# The independent fixture writers of the CLI tests (safetensors_io.py, quant_formats.py).
sys.path.insert(0, os.path.join(HERE, "..", "cli"))

try:
    import torch  # noqa: F401

    HAVE_TORCH = True
except ImportError:
    HAVE_TORCH = False


def pytest_report_header(config):
    import int4pack

    return "int4pack %s from %s, ISA %s, %d threads; torch: %s" % (
        int4pack.__version__, os.path.dirname(int4pack.__file__), int4pack.isa(), int4pack.num_threads(),
        "installed" if HAVE_TORCH else "not installed (the torch tests are skipped)")


requires_torch = pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed (apt-get install python3-torch)")
