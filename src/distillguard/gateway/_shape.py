"""Reading and shaping answers of the three API surfaces, whole or streamed.

A :class:`Reader` follows one answer (a JSON body, or SSE events as they pass) and keeps
what the exchange log needs: text, stop reason, token usage. Shaping rewrites thinking /
reasoning before it reaches the client:

* ``redact`` — Anthropic ``thinking`` blocks become ``redacted_thinking`` blocks; OpenAI-style
  ``reasoning_content`` / ``reasoning`` fields and inline ``<think>…</think>`` spans are removed.
* ``summarise`` — the reasoning is replaced by a short extractive summary (its first sentence
  and its length), so a person sees that the model reasoned without receiving the trace.

Streams are shaped event by event: only thinking is held back (to summarise it); every other
event is forwarded as soon as it is complete.
"""

from __future__ import annotations

import re
from typing import Any, Literal

import orjson

Mode = Literal["pass", "redact", "summarise"]
REDACTED_DATA = "distillguard:redacted"
_THINK = re.compile(r"<think>(.*?)(?:</think>|$)", re.DOTALL)
_SENTENCE = re.compile(r"(.{20,240}?[.!?。！？])(?:\s|$)", re.DOTALL)


def summarise(text: str) -> str:
    """The first sentence (only when it is a small part of the whole) and the length."""
    words = len(text.split())
    m = _SENTENCE.search(text.strip())
    head = m.group(1).strip() if m else ""
    if len(head) > min(200, len(text) // 3):
        head = ""
    tail = f"[reasoning summarised by the provider: {words} words withheld]"
    return f"{head} … {tail}" if head else tail


class Reader:
    """What the log keeps of one answer."""

    __slots__ = (
        "input_tokens",
        "model",
        "output_tokens",
        "reasoning",
        "reasoning_chars",
        "reasoning_tokens",
        "response_id",
        "stop_reason",
        "text",
        "tool_calls",
    )

    def __init__(self) -> None:
        self.text: list[str] = []
        self.reasoning_chars = 0
        self.reasoning: list[str] = []
        self.response_id: str | None = None
        self.stop_reason: str | None = None
        self.input_tokens: int | None = None
        self.output_tokens: int | None = None
        self.reasoning_tokens: int | None = None
        self.tool_calls = 0
        self.model: str | None = None

    @property
    def response(self) -> str:
        return "".join(self.text)

    def thought(self, text: str) -> None:
        """Reasoning the answer carried, as the upstream sent it (before any shaping)."""
        self.reasoning_chars += len(text)
        self.reasoning.append(text)


# -- whole answers -------------------------------------------------------------------------------
def shape_anthropic(body: dict[str, Any], mode: Mode, reader: Reader) -> bool:
    """Read (and, unless ``mode`` is pass, shape) a Messages API answer. True if changed."""
    changed = False
    blocks = body.get("content")
    if isinstance(blocks, list):
        for i, block in enumerate(blocks):
            if not isinstance(block, dict):
                continue
            kind = block.get("type")
            if kind == "text":
                reader.text.append(str(block.get("text", "")))
            elif kind == "tool_use":
                reader.tool_calls += 1
                reader.text.append(orjson.dumps(block.get("input", {})).decode())
            elif kind == "thinking":
                thought = str(block.get("thinking", ""))
                reader.thought(thought)
                if mode == "redact":
                    blocks[i] = {"type": "redacted_thinking", "data": REDACTED_DATA}
                    changed = True
                elif mode == "summarise":
                    blocks[i] = {
                        "type": "thinking",
                        "thinking": summarise(thought),
                        "signature": "",
                    }
                    changed = True
    usage = body.get("usage")
    if isinstance(usage, dict):
        reader.input_tokens = _int(usage.get("input_tokens"))
        reader.output_tokens = _int(usage.get("output_tokens"))
    reader.stop_reason = _str(body.get("stop_reason"))
    reader.model = _str(body.get("model"))
    reader.response_id = _str(body.get("id"))
    return changed


def shape_openai(body: dict[str, Any], mode: Mode, reader: Reader) -> bool:
    """Read (and shape) a Chat Completions answer. True if changed."""
    changed = False
    for choice in body.get("choices") or []:
        if not isinstance(choice, dict):
            continue
        msg = choice.get("message")
        if isinstance(msg, dict):
            for field in ("reasoning_content", "reasoning"):
                thought = msg.get(field)
                if isinstance(thought, str) and thought:
                    reader.thought(thought)
                    if mode == "redact":
                        del msg[field]
                        changed = True
                    elif mode == "summarise":
                        msg[field] = summarise(thought)
                        changed = True
            content = msg.get("content")
            if isinstance(content, str):
                if "<think>" in content and mode != "pass":
                    msg["content"] = content = _shape_inline(content, mode, reader)
                    changed = True
                reader.text.append(content)
            calls = msg.get("tool_calls")
            if isinstance(calls, list):
                reader.tool_calls += len(calls)
                for call in calls:
                    fn = call.get("function") if isinstance(call, dict) else None
                    if isinstance(fn, dict):
                        reader.text.append(str(fn.get("arguments", "")))
        reader.stop_reason = _str(choice.get("finish_reason")) or reader.stop_reason
    _openai_usage(body.get("usage"), reader)
    reader.model = _str(body.get("model"))
    reader.response_id = _str(body.get("id"))
    return changed


def shape_responses(body: dict[str, Any], mode: Mode, reader: Reader) -> bool:
    """Read (and shape) a Responses API answer: its reasoning items' summaries and reasoning
    text are redacted or summarised; encrypted reasoning is dropped unless passing. True if
    changed."""
    changed = False
    for item in body.get("output") or []:
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        if kind == "message":
            for part in item.get("content") or []:
                if isinstance(part, dict) and part.get("type") == "output_text":
                    reader.text.append(str(part.get("text", "")))
        elif kind in ("function_call", "custom_tool_call"):
            reader.tool_calls += 1
            reader.text.append(str(item.get("arguments", item.get("input", ""))))
        elif isinstance(kind, str) and kind.endswith("_call"):
            reader.tool_calls += 1  # built-in tools: web search, file search, code interpreter
        elif kind == "reasoning":
            changed = _shape_reasoning_item(item, mode, reader) or changed
    _openai_usage(body.get("usage"), reader, "input", "output")
    incomplete = body.get("incomplete_details")
    reason = incomplete.get("reason") if isinstance(incomplete, dict) else None
    reader.stop_reason = _str(reason) or _str(body.get("status"))
    reader.model = _str(body.get("model"))
    reader.response_id = _str(body.get("id"))
    return changed


def _shape_reasoning_item(item: dict[str, Any], mode: Mode, reader: Reader | None) -> bool:
    """Read a reasoning item's summary and reasoning text; shape it unless passing."""
    texts = [
        str(part.get("text", ""))
        for field in ("summary", "content")
        for part in (item.get(field) or [])
        if isinstance(part, dict)
    ]
    if reader is not None:
        for text in texts:
            reader.thought(text)
    if mode == "pass":
        return False
    item.pop("encrypted_content", None)
    item.pop("content", None)
    thought = "".join(texts)
    item["summary"] = (
        [{"type": "summary_text", "text": summarise(thought)}]
        if mode == "summarise" and thought
        else []
    )
    return True


def _shape_inline(content: str, mode: Mode, reader: Reader) -> str:
    def repl(m: re.Match[str]) -> str:
        reader.thought(m.group(1))
        return "" if mode == "redact" else f"<think>{summarise(m.group(1))}</think>"

    return _THINK.sub(repl, content).lstrip() if mode == "redact" else _THINK.sub(repl, content)


def _openai_usage(
    usage: Any, reader: Reader, into: str = "prompt", out: str = "completion"
) -> None:
    """Token counts of an OpenAI usage object: Chat Completions names them ``prompt`` /
    ``completion``, the Responses API ``input`` / ``output``."""
    if isinstance(usage, dict):
        reader.input_tokens = _int(usage.get(f"{into}_tokens"))
        reader.output_tokens = _int(usage.get(f"{out}_tokens"))
        details = usage.get(f"{out}_tokens_details")
        if isinstance(details, dict):
            reader.reasoning_tokens = _int(details.get("reasoning_tokens"))


def _int(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) and v >= 0 else None


def _str(v: Any) -> str | None:
    return v[:200] if isinstance(v, str) else None


# -- streams -------------------------------------------------------------------------------------
class StreamShaper:
    """Consumes upstream SSE bytes, returns the bytes to send on, reading as it goes.

    With ``mode == "pass"`` and no usage chunk to hide, bytes go out exactly as they came;
    otherwise complete events are re-serialised after shaping."""

    def __init__(
        self,
        api: Literal["openai", "anthropic", "responses"],
        mode: Mode,
        *,
        hide_usage: bool = False,
    ) -> None:
        self.api = api
        self.mode = mode
        self.hide_usage = hide_usage
        self.reader = Reader()
        self._buf = b""
        self._thinking_blocks: dict[int, list[str]] = {}
        self._reasoning: list[str] = []
        self._summary = ""
        self._rewrites = mode != "pass" or hide_usage
        self.finished = False
        """True once the API's last event (``[DONE]`` / ``message_stop``) has been read."""

    def feed(self, chunk: bytes) -> bytes:
        self._buf += chunk
        out: list[bytes] = []
        while True:
            cut, sep = _event_end(self._buf)
            if cut < 0:
                break
            raw = self._buf[:cut]
            self._buf = self._buf[cut + sep :]
            shaped = self._event(raw)
            if self._rewrites:
                out.extend(shaped)
        return b"".join(out) if self._rewrites else chunk

    def close(self) -> bytes:
        """Whatever is left when the upstream ends (an unterminated last event)."""
        rest, self._buf = self._buf, b""
        if not rest.strip():
            return b""
        shaped = self._event(rest)
        return b"".join(shaped) if self._rewrites else b""

    def _event(self, raw: bytes) -> list[bytes]:
        data_lines = []
        for line in raw.splitlines():
            if line.startswith(b"data:"):
                data_lines.append(line[5:].lstrip(b" "))
        if not data_lines:
            return [raw + b"\n\n"]
        data = b"\n".join(data_lines)
        if data.strip() == b"[DONE]":
            self.finished = True
            return [*self._flush_reasoning(), raw + b"\n\n"]
        try:
            event = orjson.loads(data)
        except orjson.JSONDecodeError:
            return [raw + b"\n\n"]
        if not isinstance(event, dict):
            return [raw + b"\n\n"]
        if self.api == "anthropic":
            return self._anthropic(raw, event)
        if self.api == "responses":
            return self._responses(raw, event)
        return self._openai(raw, event)

    # anthropic ------------------------------------------------------------------------------
    def _anthropic(self, raw: bytes, ev: dict[str, Any]) -> list[bytes]:
        kind = ev.get("type")
        r = self.reader
        if kind == "message_stop":
            self.finished = True
        elif kind == "message_start":
            msg = ev.get("message") or {}
            usage = msg.get("usage") or {}
            r.input_tokens = _int(usage.get("input_tokens"))
            r.model = _str(msg.get("model"))
            r.response_id = _str(msg.get("id"))
        elif kind == "content_block_start":
            block = ev.get("content_block") or {}
            index = ev.get("index")
            if block.get("type") == "tool_use":
                r.tool_calls += 1
            if block.get("type") == "thinking" and isinstance(index, int) and self.mode != "pass":
                self._thinking_blocks[index] = []
                if self.mode == "redact":
                    ev["content_block"] = {"type": "redacted_thinking", "data": REDACTED_DATA}
                else:
                    ev["content_block"] = {"type": "thinking", "thinking": "", "signature": ""}
                return [_sse(ev)]
        elif kind == "content_block_delta":
            delta = ev.get("delta") or {}
            index = ev.get("index")
            dtype = delta.get("type")
            if dtype == "text_delta":
                r.text.append(str(delta.get("text", "")))
            elif dtype == "input_json_delta":
                r.text.append(str(delta.get("partial_json", "")))
            elif dtype == "thinking_delta":
                thought = str(delta.get("thinking", ""))
                r.thought(thought)
                if index in self._thinking_blocks:
                    self._thinking_blocks[index].append(thought)
                    return []
            elif dtype == "signature_delta" and index in self._thinking_blocks:
                return []
        elif kind == "content_block_stop":
            index = ev.get("index")
            if index in self._thinking_blocks:
                thought = "".join(self._thinking_blocks.pop(index))
                if self.mode == "summarise":
                    delta = {"type": "thinking_delta", "thinking": summarise(thought)}
                    return [
                        _sse({"type": "content_block_delta", "index": index, "delta": delta}),
                        _sse(ev),
                    ]
        elif kind == "message_delta":
            delta = ev.get("delta") or {}
            r.stop_reason = _str(delta.get("stop_reason")) or r.stop_reason
            usage = ev.get("usage") or {}
            r.output_tokens = _int(usage.get("output_tokens")) or r.output_tokens
            if _int(usage.get("input_tokens")):
                r.input_tokens = _int(usage.get("input_tokens"))
        return [_resend(raw)]

    # responses ------------------------------------------------------------------------------
    def _responses(self, raw: bytes, ev: dict[str, Any]) -> list[bytes]:
        kind = ev.get("type")
        r = self.reader
        if not isinstance(kind, str):
            return [_resend(raw)]
        if kind in ("response.completed", "response.incomplete", "response.failed"):
            self.finished = True
            final = ev.get("response")
            if isinstance(final, dict):
                whole = Reader()
                changed = shape_responses(final, self.mode, whole)
                r.input_tokens, r.output_tokens = whole.input_tokens, whole.output_tokens
                r.reasoning_tokens, r.stop_reason = whole.reasoning_tokens, whole.stop_reason
                r.model, r.response_id = whole.model or r.model, whole.response_id or r.response_id
                if not r.text and not r.reasoning:  # an upstream that sent no deltas
                    r.text, r.reasoning = whole.text, whole.reasoning
                    r.reasoning_chars, r.tool_calls = whole.reasoning_chars, whole.tool_calls
                if changed:
                    return [_sse(ev)]
            return [_resend(raw)]
        if kind == "response.created":
            response = ev.get("response")
            if isinstance(response, dict):
                r.model, r.response_id = _str(response.get("model")), _str(response.get("id"))
        elif (
            kind == "response.output_text.delta" or kind == "response.function_call_arguments.delta"
        ):
            r.text.append(str(ev.get("delta", "")))
        elif kind == "response.output_item.added":
            item = ev.get("item")
            item_type = item.get("type") if isinstance(item, dict) else None
            if isinstance(item_type, str) and item_type.endswith("_call"):
                r.tool_calls += 1
        elif kind == "response.output_item.done":
            item = ev.get("item")
            if isinstance(item, dict) and item.get("type") == "reasoning" and self.mode != "pass":
                _shape_reasoning_item(item, self.mode, None)
                return [_sse(ev)]
        elif kind.startswith(("response.reasoning_summary_", "response.reasoning_text.")):
            return self._responses_reasoning(raw, kind, ev)
        return [_resend(raw)]

    def _responses_reasoning(self, raw: bytes, kind: str, ev: dict[str, Any]) -> list[bytes]:
        """Reasoning summary and reasoning text events: read; held back unless passing, and
        under ``summarise`` given out again as one summarised delta when each part ends."""
        if kind.endswith(".delta"):
            thought = str(ev.get("delta", ""))
            self.reader.thought(thought)
            if self.mode == "pass":
                return [_resend(raw)]
            self._reasoning.append(thought)
            return []
        if self.mode == "pass":
            return [_resend(raw)]
        if self.mode == "redact" or not kind.endswith((".text.done", "_text.done")):
            if kind.endswith("part.done") and self.mode == "summarise":
                part = ev.get("part")
                if isinstance(part, dict):
                    part["text"] = self._summary
                return [_sse(ev)]
            if kind.endswith(".done"):
                self._reasoning = []
            return [] if self.mode == "redact" or not kind.endswith("part.added") else [_sse(ev)]
        # summarise, at the end of a summary text or reasoning text: one delta, then the done
        self._summary = summarise("".join(self._reasoning))
        self._reasoning = []
        delta = {k: v for k, v in ev.items() if k not in ("text", "type")}
        delta_kind = kind.removesuffix(".done") + ".delta"
        ev["text"] = self._summary
        return [_sse({"type": delta_kind, **delta, "delta": self._summary}), _sse(ev)]

    # openai ---------------------------------------------------------------------------------
    def _openai(self, raw: bytes, ev: dict[str, Any]) -> list[bytes]:
        r = self.reader
        r.model = r.model or _str(ev.get("model"))
        r.response_id = r.response_id or _str(ev.get("id"))
        if ev.get("usage"):
            _openai_usage(ev.get("usage"), r)
        choices = ev.get("choices")
        if self.hide_usage and isinstance(choices, list) and not choices and ev.get("usage"):
            return self._flush_reasoning()
        out: list[bytes] = []
        changed = False
        for choice in choices or []:
            if not isinstance(choice, dict):
                continue
            delta = choice.get("delta") or {}
            for field in ("reasoning_content", "reasoning"):
                thought = delta.get(field)
                if isinstance(thought, str) and thought:
                    r.thought(thought)
                    if self.mode != "pass":
                        self._reasoning.append(thought)
                        del delta[field]
                        changed = True
            content = delta.get("content")
            if isinstance(content, str) and content:
                out += self._flush_reasoning(ev)
                r.text.append(content)
            calls = delta.get("tool_calls")
            if isinstance(calls, list):
                for call in calls:
                    fn = call.get("function") if isinstance(call, dict) else None
                    if isinstance(call, dict) and call.get("id"):
                        r.tool_calls += 1
                    if isinstance(fn, dict) and fn.get("arguments"):
                        r.text.append(str(fn["arguments"]))
            if choice.get("finish_reason"):
                r.stop_reason = _str(choice.get("finish_reason"))
                out += self._flush_reasoning(ev)
        if not self._rewrites:
            return [raw + b"\n\n"]
        if changed and _empty_chunk(ev):
            return out
        return [*out, _sse(ev) if changed else raw + b"\n\n"]

    def _flush_reasoning(self, template: dict[str, Any] | None = None) -> list[bytes]:
        if not self._reasoning or self.mode != "summarise" or self.api != "openai":
            self._reasoning = [] if self.mode == "redact" else self._reasoning
            return []
        text, self._reasoning = "".join(self._reasoning), []
        chunk = {
            "id": (template or {}).get("id", "chatcmpl-shaped"),
            "object": "chat.completion.chunk",
            "created": (template or {}).get("created", 0),
            "model": (template or {}).get("model", self.reader.model or ""),
            "choices": [
                {"index": 0, "delta": {"reasoning_content": summarise(text)}, "finish_reason": None}
            ],
        }
        return [_sse(chunk)]


def _empty_chunk(ev: dict[str, Any]) -> bool:
    for choice in ev.get("choices") or []:
        if not isinstance(choice, dict):
            return False
        delta = choice.get("delta") or {}
        if any(v not in (None, "", []) for k, v in delta.items() if k != "role") or choice.get(
            "finish_reason"
        ):
            return False
    return not ev.get("usage")


def _event_end(buf: bytes) -> tuple[int, int]:
    """Index and length of the first event separator, or (-1, 0)."""
    best, size = -1, 0
    for sep in (b"\n\n", b"\r\n\r\n", b"\r\r"):
        i = buf.find(sep)
        if i >= 0 and (best < 0 or i < best):
            best, size = i, len(sep)
    return best, size


def _sse(ev: dict[str, Any]) -> bytes:
    kind = ev.get("type")
    named = isinstance(kind, str) and kind.replace(".", "_").isidentifier()
    head = f"event: {kind}\n".encode() if named else b""
    return head + b"data: " + orjson.dumps(ev) + b"\n\n"


def _resend(raw: bytes) -> bytes:
    """An unchanged event, normalised to LF separators."""
    return raw.replace(b"\r\n", b"\n") + b"\n\n"
