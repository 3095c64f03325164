"""The WSGI entry point gunicorn loads (gwangju_hub/wsgi.py)."""

import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]


def test_the_loaded_application_is_frozen_out_of_garbage_collection():
    # In a process of its own, as a gunicorn worker loads it: the test process
    # has imported far more than a worker has by then.
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import gc, gwangju_hub.wsgi; print(gc.get_freeze_count())",
        ],
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    # Django, the apps and their models: tens of thousands of objects.
    assert int(done.stdout.strip()) > 20_000
