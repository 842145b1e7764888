"""A real redis-server of the test's own, on a free port, that a test can freeze (SIGSTOP) like a hung broker."""

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass

import pytest
import redis

from tests.factories import require


@dataclass
class OwnRedis:
    process: subprocess.Popen
    url: str

    def freeze(self) -> None:
        os.kill(self.process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.kill(self.process.pid, signal.SIGCONT)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def own_redis(tmp_path):
    if shutil.which("redis-server") is None:
        if require("PLURALWEB_REQUIRE_REDIS"):
            pytest.fail("redis-server is not installed (PLURALWEB_REQUIRE_REDIS=1)")
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    port = _free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 10
    while True:
        try:
            redis.Redis.from_url(url, socket_timeout=1).ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                pytest.fail(f"redis-server on port {port} did not start")
            time.sleep(0.05)
    server = OwnRedis(process, url)
    yield server
    server.thaw()  # a frozen server would ignore SIGTERM until the end of time
    process.terminate()
    process.wait(timeout=10)
