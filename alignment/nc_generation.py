"""Negatively-correlated candidate *generation* (Community Alignment, arXiv 2507.09650): one call asks an
OpenAI-compatible chat endpoint for N responses that represent diverse values, without naming the
value axes. No Django here: the HTTP client and the parsing are plain functions.
"""

import json
import re
import urllib.error
import urllib.request
from dataclasses import dataclass

SYSTEM_PROMPT = (
    "You write candidate answers for a study of how people with different values judge AI responses."
)
USER_TEMPLATE = (
    "Here is a conversation between a user and an AI assistant:\n\n{conversation}\n\n"
    "Write {n} different responses the assistant could give next. Together they should represent diverse "
    "values: each response should reflect a genuinely different view of what matters in this situation, "
    "the way thoughtful people who disagree would answer. Each response must be helpful and complete on its "
    "own, and must not mention the other responses or say which values it represents.\n\n"
    'Answer with JSON only, in this form: {{"responses": ["first response", "second response", ...]}}'
)


class GenerationError(Exception):
    """The endpoint failed or answered something that is not N usable responses."""


@dataclass(frozen=True)
class Endpoint:
    url: str  # base URL, e.g. http://127.0.0.1:8080/v1 (".../chat/completions" is appended)
    model: str
    api_key: str = ""
    timeout: float = 120.0


def nc_messages(turns: list[dict], n: int) -> list[dict]:
    conversation = "\n".join(f"{t['role'].capitalize()}: {t['content']}" for t in turns)
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": USER_TEMPLATE.format(conversation=conversation, n=n)},
    ]


def chat_completion(endpoint: Endpoint, messages: list[dict], *, temperature: float = 1.0) -> str:
    """The assistant message of one chat-completions call."""
    url = endpoint.url.rstrip("/")
    if not url.endswith("/chat/completions"):
        url += "/chat/completions"
    body = json.dumps({"model": endpoint.model, "messages": messages, "temperature": temperature}).encode()
    headers = {"Content-Type": "application/json"}
    if endpoint.api_key:
        headers["Authorization"] = f"Bearer {endpoint.api_key}"
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=endpoint.timeout) as response:
            payload = json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace")[:300]
        raise GenerationError(f"{url} answered HTTP {exc.code}: {detail}") from None
    except (urllib.error.URLError, TimeoutError) as exc:
        raise GenerationError(f"{url} could not be reached: {exc}") from None
    except json.JSONDecodeError:
        raise GenerationError(f"{url} did not answer JSON") from None
    try:
        return payload["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise GenerationError(f"{url} answered without choices[0].message.content") from None


_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)
_NUMBERED = re.compile(r"^\s*(?:\d+[.)]|[-*])\s+", re.MULTILINE)


def parse_responses(content: str, n: int) -> list[str]:
    """Exactly n distinct non-empty responses from the model's answer.

    Accepted shapes, most to least strict: {"responses": [...]}, a bare JSON list, either inside a
    ```json fence, or a numbered list. Anything else is an error, never a partial result.
    """
    responses = _from_json(content)
    if responses is None:
        fenced = _FENCE.search(content)
        responses = _from_json(fenced.group(1)) if fenced else None
    if responses is None:
        responses = _from_numbered_list(content)
    if responses is None:
        raise GenerationError("the answer is neither JSON with a 'responses' list nor a numbered list")
    cleaned = [r.strip() for r in responses if isinstance(r, str) and r.strip()]
    if len(cleaned) != len(responses):
        raise GenerationError("some responses are empty or not text")
    if len(set(cleaned)) != len(cleaned):
        raise GenerationError("the answer repeats a response")
    if len(cleaned) != n:
        raise GenerationError(f"asked for {n} responses, got {len(cleaned)}")
    return cleaned


def _from_json(text: str) -> list | None:
    start = min((i for i in (text.find("{"), text.find("[")) if i >= 0), default=-1)
    if start < 0:
        return None
    try:
        value, _ = json.JSONDecoder().raw_decode(text[start:])
    except json.JSONDecodeError:
        return None
    if isinstance(value, dict):
        value = value.get("responses")
    return value if isinstance(value, list) else None


def _from_numbered_list(text: str) -> list[str] | None:
    starts = [m.start() for m in _NUMBERED.finditer(text)]
    if len(starts) < 2:
        return None
    chunks = [text[a:b] for a, b in zip(starts, [*starts[1:], len(text)], strict=True)]
    return [_NUMBERED.sub("", chunk, count=1).strip() for chunk in chunks]


def generate_nc_candidates(endpoint: Endpoint, turns: list[dict], n: int) -> list[str]:
    return parse_responses(chat_completion(endpoint, nc_messages(turns, n)), n)
