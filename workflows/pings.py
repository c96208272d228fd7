"""Ping keys: the secret in a ping workflow's `ping_url`.

A key is an HMAC of the workflow's id and key generation under SECRET_KEY, so nothing secret is
stored: the database keeps the key's SHA-256 digest (the lookup) and the generation (rotation bumps
it, and the old key stops matching at once). Changing SECRET_KEY changes every ping URL, as it
ends every session.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from django.conf import settings

from workflows.models import Workflow

# 32 bytes, base64url without padding: 43 characters.
KEY_SHAPE = re.compile(r"^[A-Za-z0-9_-]{43}$")


def ping_key(workflow_id, generation: int) -> str:
    mac = hmac.new(settings.SECRET_KEY.encode(), f"ping:{workflow_id}:{generation}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).decode().rstrip("=")


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def ping_digest(workflow: Workflow) -> str | None:
    """What to store for `workflow`: its key's digest, or None for a workflow that takes no pings."""
    return key_digest(ping_key(workflow.pk, workflow.ping_key_generation)) if workflow.is_ping else None


def ping_url(workflow: Workflow) -> str | None:
    if not workflow.is_ping:
        return None
    return f"{settings.PING_BASE_URL.rstrip('/')}/ping/{ping_key(workflow.pk, workflow.ping_key_generation)}"


def key_matches(workflow: Workflow, key: str) -> bool:
    """The presented key against the workflow's own, in constant time (the digest found it)."""
    return hmac.compare_digest(ping_key(workflow.pk, workflow.ping_key_generation).encode(), key.encode())
