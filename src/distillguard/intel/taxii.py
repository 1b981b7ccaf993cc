"""TAXII 2.1 push and pull (``taxii2-client``), for sharing bundles with a consortium server."""

from __future__ import annotations

import json
from typing import Any

from distillguard.config import Settings
from distillguard.errors import InputError
from distillguard.errors import SharingError as TaxiiError


def _collection(server: str, collection_id: str, settings: Settings) -> Any:
    from taxii2client.v21 import Collection

    if not server.startswith(("http://", "https://")):
        raise InputError(f"--server must be an http(s) URL of an API root, got {server!r}")
    password = (
        settings.intel.taxii_password.get_secret_value() if settings.intel.taxii_password else None
    )
    url = server.rstrip("/") + f"/collections/{collection_id}/"
    try:
        return Collection(url, user=settings.intel.taxii_user, password=password)
    except Exception as exc:
        raise TaxiiError(f"TAXII collection {url}: {exc}") from exc


def push(
    bundle: dict[str, Any],
    server: str,
    collection_id: str,
    settings: Settings,
    *,
    include_definitions: bool = True,
) -> dict[str, Any]:
    """Add a bundle's objects to the collection; returns the server's status counts.

    ``include_definitions=False`` leaves out ``extension-definition`` objects (partners then
    read the definition from its schema URL): medallion 3.0.0 mistakes their ``version``
    (a semantic version, as STIX requires) for a timestamp and then fails every read of the
    collection, so against medallion push without them."""
    if not include_definitions:
        bundle = dict(
            bundle,
            objects=[
                o for o in bundle.get("objects", []) if o.get("type") != "extension-definition"
            ],
        )
    col = _collection(server, collection_id, settings)
    try:
        status = col.add_objects(
            json.dumps(bundle), wait_for_completion=True, poll_interval=0.2, timeout=30
        )
    except Exception as exc:
        raise TaxiiError(f"TAXII push to {server} collection {collection_id}: {exc}") from exc
    # The predefined TLP marking definitions are immutable and usually already on the
    # server: a refusal to add them again is not a failure.
    rejected = [
        f.get("id", "?")
        for f in (status.failures or [])
        if not str(f.get("id", "")).startswith("marking-definition--")
    ]
    out: dict[str, Any] = {
        "status": status.status,
        "total": status.total_count,
        "success": status.success_count,
        "already_present": status.failure_count - len(rejected),
        "failure": len(rejected),
    }
    if rejected:
        raise TaxiiError(
            f"TAXII server rejected {len(rejected)} of {status.total_count} objects "
            f"(first: {rejected[0]})"
        )
    return out


def pull(
    server: str, collection_id: str, settings: Settings, *, added_after: str | None = None
) -> dict[str, Any]:
    """All objects of the collection (every page), as one STIX bundle."""
    from taxii2client.v21 import as_pages

    col = _collection(server, collection_id, settings)
    objects: list[Any] = []
    kwargs = {"added_after": added_after} if added_after else {}
    try:
        for page in as_pages(col.get_objects, per_request=100, **kwargs):
            objects += page.get("objects", [])
    except Exception as exc:
        raise TaxiiError(f"TAXII pull from {server} collection {collection_id}: {exc}") from exc
    return {
        "type": "bundle",
        "id": "bundle--00000000-0000-4000-8000-000000000000",
        "objects": objects,
    }
