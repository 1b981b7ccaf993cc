"""An application instrumented as its operators would instrument it, run as its own process
by tests/test_ingest_otel_real.py (OpenTelemetry providers are set once per process).

``python otel_app.py UPSTREAM COLLECTOR MODE [OPENAI_INSTRUMENTATION]``: the official
``openai`` SDK instrumented with ``opentelemetry-instrumentation-openai-v2`` (through
``opentelemetry-util-genai``; or, as ``OPENAI_INSTRUMENTATION``, ``traceloop`` for
OpenLLMetry's ``opentelemetry-instrumentation-openai`` or ``openinference`` for Arize's
``openinference-instrumentation-openai``), the official ``anthropic`` SDK (which emits spans
of its own) instrumented with Traceloop's ``opentelemetry-instrumentation-anthropic``;
content capture ``MODE`` (``SPAN_ONLY``, ``EVENT_ONLY``, ``SPAN_AND_EVENT``); spans and log
events exported with the OTLP/HTTP exporters to ``COLLECTOR``. Prints what the SDKs handed
back, as JSON, on stdout.
"""

from __future__ import annotations

import json
import os
import sys
import warnings


def main() -> None:
    upstream, collector, mode = sys.argv[1:4]
    which = sys.argv[4] if len(sys.argv) > 4 else "openai-v2"
    os.environ["OTEL_SEMCONV_STABILITY_OPT_IN"] = "gen_ai_latest_experimental"
    os.environ["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] = mode
    os.environ["TRACELOOP_TRACE_CONTENT"] = "false" if mode == "EVENT_ONLY" else "true"
    warnings.simplefilter("ignore")
    from opentelemetry import _logs, trace
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    resource = Resource.create({"service.name": "tutor-app", "tenant.id": "tenant-42"})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(
        SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{collector}/v1/traces"))
    )
    trace.set_tracer_provider(tracer_provider)
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(
        SimpleLogRecordProcessor(OTLPLogExporter(endpoint=f"{collector}/v1/logs"))
    )
    _logs.set_logger_provider(logger_provider)

    from opentelemetry.instrumentation.anthropic import AnthropicInstrumentor

    if which == "traceloop":
        from opentelemetry.instrumentation.openai import OpenAIInstrumentor as Traceloop

        Traceloop().instrument()
    elif which == "openinference":
        from openinference.instrumentation.openai import OpenAIInstrumentor as OpenInference

        OpenInference().instrument()
    else:
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

        OpenAIInstrumentor().instrument()
    AnthropicInstrumentor().instrument()
    import anthropic
    import openai

    got: dict[str, object] = {}
    oai = openai.OpenAI(api_key="sk-not-exported", base_url=f"{upstream}/v1", max_retries=0)
    chat = oai.chat.completions.create(
        model="gpt-test",
        messages=[
            {"role": "developer", "content": "Explain like a tutor."},
            {"role": "user", "content": "otel openai question"},
        ],
        temperature=0.1,
        max_tokens=40,
    )
    got["openai"] = {"id": chat.id, "text": chat.choices[0].message.content,
                     "usage": [chat.usage.prompt_tokens, chat.usage.completion_tokens]}  # fmt: skip
    try:
        oai.chat.completions.create(
            model="error-429", messages=[{"role": "user", "content": "otel refused"}]
        )
    except openai.RateLimitError:
        got["refused"] = True
    ant = anthropic.Anthropic(api_key="sk-ant-not-exported", base_url=upstream, max_retries=0)
    message = ant.messages.create(
        model="claude-test",
        max_tokens=200,
        system="Think carefully.",
        thinking={"type": "enabled", "budget_tokens": 1024},
        messages=[
            {"role": "user", "content": "otel anthropic question"},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"q": "x"}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "lookup says 42"}]},
        ],
    )  # fmt: skip
    got["anthropic"] = {
        "id": message.id,
        "text": "".join(b.text for b in message.content if b.type == "text"),
        "thinking": "".join(b.thinking for b in message.content if b.type == "thinking"),
        "usage": [message.usage.input_tokens, message.usage.output_tokens],
    }
    tracer_provider.force_flush()
    logger_provider.force_flush()
    print(json.dumps(got))


if __name__ == "__main__":
    main()
