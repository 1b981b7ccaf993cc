"""Optional parts of distillguard, installed as extras: a command that needs one says so.

``pip install distillguard`` gives simulate, ingest, scan, ``evaluate --no-baselines`` and the
store. The rest:

- ``[gateway]``: the gateway, its mock upstream, ``decide`` and ``watch`` (Starlette,
  FastAPI, uvicorn, aiohttp, redis-py, prometheus-client, OpenTelemetry API);
- ``[report]``: incident reports and ``demo`` (matplotlib and networkx for the charts, Jinja2,
  reportlab, detect-secrets, Presidio);
- ``[intel]``: STIX export and TAXII sharing (stix2, taxii2-client);
- ``[evaluate]``: the baselines ``evaluate`` runs beside the findings (scikit-learn's isolation
  forest; tokenizers and safetensors for the MiniLM embedding baselines);
- ``[console]``: the analyst console (the gateway's and the report's stacks, plus Jinja2,
  itsdangerous for signed sessions, python-multipart for forms, httpx for the admin API);
- ``[spark]``: ``scan --engine spark`` (PySpark, which needs a Java 17+ runtime, and sqlglot
  to translate the pipeline's SQL).

``make demo`` and ``make test`` install all of them.
"""

from __future__ import annotations

import importlib.util

from distillguard.errors import MissingExtraError

EXTRAS: dict[str, tuple[str, ...]] = {
    "gateway": ("starlette", "fastapi", "uvicorn", "aiohttp", "redis", "prometheus_client",
                "opentelemetry"),
    "report": ("matplotlib", "networkx", "jinja2", "reportlab", "detect_secrets",
               "presidio_analyzer"),
    "intel": ("stix2", "taxii2client"),
    "evaluate": ("sklearn", "tokenizers", "safetensors"),
    "console": ("fastapi", "uvicorn", "jinja2", "itsdangerous", "multipart", "httpx",
                "matplotlib"),
    "spark": ("pyspark", "sqlglot"),
}  # fmt: skip


def require(extra: str, command: str, *, hint: str = "") -> None:
    """Raise :class:`MissingExtraError` naming the extra when any of its modules is missing."""
    missing = [m for m in EXTRAS[extra] if _missing(m)]
    if missing:
        raise MissingExtraError(
            f"`distillguard {command}` needs the [{extra}] extra "
            f"(missing: {', '.join(missing)}): pip install 'distillguard[{extra}]'"
            + (f" {hint}" if hint else "")
        )


def _missing(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is None
    except (ImportError, ValueError):
        return True
