"""A real S3-compatible server on loopback for the object-storage tests.

It is moto's standalone server (``moto[server]``, a dev dependency), started as a
separate process on a free port. It stands in for MinIO here because this
machine and CI have no container engine and reach no image registry, while
moto is a PyPI package: it speaks the S3 REST API over HTTP, checks request
signatures, keeps objects private unless an ACL says otherwise, and answers
anonymous reads of a private object with 403, which is what these tests need.
What it does not prove: MinIO's own quirks (its console, bucket policies set
with ``mc``); docker-compose.yml runs the real MinIO.

The storage configuration under test is the one settings.py builds:
``storage_entry()`` runs settings.py with the ``AWS_*`` variables set and
returns its ``STORAGES["default"]``, so a test exercises exactly the options
(timeouts, retries, ACL, addressing style) a production node would use.
"""

from __future__ import annotations

import contextlib
import os
import runpy
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
from django.conf import settings

ACCESS_KEY = "gwangju-hub-test"
SECRET_KEY = "gwangju-hub-test-secret"
REGION = "ap-northeast-2"  # Seoul: a region other than us-east-1 needs a LocationConstraint


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class S3Server:
    url: str

    def client(self):
        return boto3.client(
            "s3",
            endpoint_url=self.url,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name=REGION,
        )

    def create_bucket(self) -> str:
        """A new, empty bucket, so no test sees another's objects."""
        name = f"gwangju-hub-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(
            Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        return name

    def objects(self, bucket: str) -> dict[str, bytes]:
        """Every object in the bucket: key -> bytes."""
        client = self.client()
        listing = client.list_objects_v2(Bucket=bucket).get("Contents", [])
        return {
            item["Key"]: client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            for item in listing
        }

    def env(self, bucket: str) -> dict[str, str]:
        """The environment a node needs to keep its attachments in ``bucket``."""
        return {
            "AWS_STORAGE_BUCKET_NAME": bucket,
            "AWS_S3_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_S3_REGION_NAME": REGION,
        }


@contextlib.contextmanager
def running(log_path: Path) -> Iterator[S3Server]:
    """Start moto's server on a free port; stop it (and only it) afterwards."""
    port = free_port()
    with log_path.open("w") as log:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter, fixed arguments
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"moto's server exited:\n{log_path.read_text()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("moto's server did not listen within 30 s") from None
                time.sleep(0.05)
        yield S3Server(url=f"http://127.0.0.1:{port}")
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def storage_entry(env: dict[str, str]) -> dict:
    """``STORAGES["default"]`` as settings.py builds it under ``env``."""
    saved = dict(os.environ)
    try:
        os.environ.update(env)
        module = runpy.run_path(str(Path(settings.BASE_DIR) / "gwangju_hub" / "settings.py"))
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return module["STORAGES"]["default"]
