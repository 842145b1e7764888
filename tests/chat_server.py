"""A local HTTP server that speaks the OpenAI chat-completions protocol, for every test (and bench) that needs an
NC generation endpoint: nothing depends on a network service.

Each POST /v1/chat/completions takes the next queued answer or, when none is queued, writes the n responses the NC
prompt asks for (distinct, derived from the conversation). An answer is the assistant message's
text, or a `Reply` for the faults a real endpoint has: a delay (past the client's timeout), an HTTP error, a body
that is not a chat completion.
"""

import json
import re
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_WANTED = re.compile(r"Write (\d+) different responses")


@dataclass
class Reply:
    content: str | None = None  # the assistant message; None: auto-generated
    status: int = 200
    body: str | None = None  # raw body instead of a chat completion (a malformed answer)
    delay: float = 0.0  # seconds before answering


class ChatServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), ChatHandler)
        self.answers: list[str | Reply] = []
        self.requests: list[dict] = []
        self.delay = 0.0  # added to every answer

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def start(self) -> "ChatServer":
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


def auto_content(body: dict) -> str:
    """n distinct responses for the NC prompt in the request, named after the conversation's last line."""
    prompt = body["messages"][-1]["content"]
    wanted = _WANTED.search(prompt)
    n = int(wanted.group(1)) if wanted else 4
    last = [line for line in prompt.splitlines() if line.startswith("User: ")][-1:] or ["User: ?"]
    topic = last[0][len("User: "):][:60]
    return json.dumps({"responses": [f"Response {i + 1} to '{topic}': view {i + 1}." for i in range(n)]})


class ChatHandler(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        server: ChatServer = self.server
        server.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
        if self.path != "/v1/chat/completions":
            self._send(404, json.dumps({"error": {"message": "not found", "type": "invalid_request_error"}}))
            return
        answer = server.answers.pop(0) if server.answers else Reply()
        reply = answer if isinstance(answer, Reply) else Reply(content=answer)
        time.sleep(server.delay + reply.delay)
        if reply.status != 200:
            self._send(reply.status, json.dumps({"error": {"message": "server error", "type": "server_error"}}))
            return
        if reply.body is not None:
            self._send(200, reply.body)
            return
        content = reply.content if reply.content is not None else auto_content(body)
        self._send(200, json.dumps({
            "id": "chatcmpl-test", "object": "chat.completion", "created": int(time.time()), "model": body["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 30},
        }))

    def _send(self, status: int, text: str) -> None:
        data = text.encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (its timeout): nothing to answer

    def log_message(self, *args):
        pass

