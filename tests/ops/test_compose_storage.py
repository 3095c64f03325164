"""docker-compose.yml keeps attachments in its MinIO, for every node built from our image.

No container engine runs here, so the file is read, not started: each service
that runs our image must get the object-storage variables, point at the
bucket the one-shot ``createbuckets`` service makes, and wait for it; and
those variables must make settings.py choose the S3 backend.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from django.conf import settings

from tests.issues import s3server

COMPOSE = Path(settings.BASE_DIR) / "docker-compose.yml"
AWS_VARIABLES = {
    "AWS_STORAGE_BUCKET_NAME",
    "AWS_S3_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_S3_REGION_NAME",
}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def _our_image(compose: dict) -> dict[str, dict]:
    return {name: svc for name, svc in compose["services"].items() if "build" in svc}


def _interpolate(value: str) -> str:
    """Compose's ``${NAME:-default}`` with nothing set in the environment."""
    return re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", value)


def test_minio_and_its_client_are_pinned(compose):
    for name in ("minio", "createbuckets"):
        image = compose["services"][name]["image"]
        assert re.search(r":RELEASE\.\d{4}-\d{2}-\d{2}T", image), image


def test_the_bucket_is_made_private_once_minio_is_healthy(compose):
    job = compose["services"]["createbuckets"]
    script = " ".join(job["command"])
    assert "mc mb --ignore-existing local/gwangju-hub" in script
    assert "mc anonymous set none local/gwangju-hub" in script
    assert job["depends_on"]["minio"]["condition"] == "service_healthy"
    assert job["restart"] == "no"


@pytest.mark.parametrize("service", ["web", "web2", "worker"])
def test_web_and_worker_nodes_keep_attachments_in_minio(compose, service):
    node = compose["services"][service]
    env = node["environment"]

    assert set(env) >= AWS_VARIABLES
    assert env["AWS_STORAGE_BUCKET_NAME"] == "gwangju-hub"  # the bucket createbuckets makes
    assert env["AWS_S3_ENDPOINT_URL"] == "http://minio:9000"
    minio = compose["services"]["minio"]["environment"]
    assert env["AWS_ACCESS_KEY_ID"] == minio["MINIO_ROOT_USER"]
    assert env["AWS_SECRET_ACCESS_KEY"] == minio["MINIO_ROOT_PASSWORD"]
    assert node["depends_on"]["createbuckets"]["condition"] == "service_completed_successfully"

    entry = s3server.storage_entry({k: _interpolate(env[k]) for k in AWS_VARIABLES})
    assert entry["BACKEND"] == "storages.backends.s3.S3Storage"
    assert entry["OPTIONS"]["endpoint_url"] == "http://minio:9000"
    assert entry["OPTIONS"]["client_config"].s3 == {"addressing_style": "path"}


def test_every_service_of_our_image_gets_the_same_storage(compose):
    values = {
        name: {k: svc["environment"].get(k) for k in AWS_VARIABLES}
        for name, svc in _our_image(compose).items()
    }

    assert len({tuple(sorted(v.items())) for v in values.values()}) == 1, values
