"""Ingest log files into the embedded store. One adapter per format, one runner for all.

Adapters (``native``, ``openai``, ``anthropic``, ``otel``, ``litellm``, ``openai-batch``,
``anthropic-batch``) only turn records
into contract columns; the runner validates, stages, merges and writes the rejects file.
A file whose columns are those of accounts or ground truth is read as ``native`` whatever
``--format`` says, so account exports can be loaded in the same command.
"""

from __future__ import annotations

from distillguard.ingest._base import Adapter, RawBatch
from distillguard.ingest._runner import FileReport, IngestReport, ingest_files
from distillguard.ingest.anthropic import AnthropicAdapter
from distillguard.ingest.batch import AnthropicBatchAdapter, OpenAIBatchAdapter
from distillguard.ingest.litellm import LiteLLMAdapter
from distillguard.ingest.native import NativeAdapter
from distillguard.ingest.openai import OpenAIAdapter
from distillguard.ingest.otel import OtelAdapter

ADAPTERS: dict[str, type[Adapter]] = {
    a.name: a
    for a in (
        NativeAdapter,
        OpenAIAdapter,
        AnthropicAdapter,
        OtelAdapter,
        LiteLLMAdapter,
        OpenAIBatchAdapter,
        AnthropicBatchAdapter,
    )
}

__all__ = ["ADAPTERS", "Adapter", "FileReport", "IngestReport", "RawBatch", "ingest_files"]
