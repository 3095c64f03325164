"""What a failing file store raises, whichever store is configured.

Attachments live on the local disk (``FileSystemStorage``: ``OSError``) or in
an S3-compatible bucket (django-storages on boto3: botocore's connection and
timeout errors, an error answer from the store, or boto3's wrapper around a
failed upload). Code that talks to the store catches exactly these, so a store
that is down, hung (boto3's timeouts end the wait, see settings.py) or refusing
becomes a message to the user instead of a 500, while a programming error still
surfaces as one.
"""

from __future__ import annotations

import logging

from boto3.exceptions import Boto3Error
from botocore.exceptions import BotoCoreError, ClientError

logger = logging.getLogger(__name__)

STORAGE_ERRORS: tuple[type[Exception], ...] = (OSError, BotoCoreError, ClientError, Boto3Error)


def log_storage_error(operation: str, name: str, error: Exception) -> None:
    """One warning line an operator can grep for; the user gets a message of their own."""
    logger.warning(
        "file store %s of %r failed (%s: %s)", operation, name, type(error).__name__, error
    )
