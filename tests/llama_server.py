"""llama.cpp's OpenAI-compatible server (llama-cpp-python) on 127.0.0.1, serving a GGUF file."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ALIAS = "smollm2"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LlamaServer:
    """`python -m llama_cpp.server` in a child process; `url` is its /v1 base once started."""

    def __init__(self, gguf: Path | None = None, port: int | None = None, threads: int = 2,
                 logits_all: bool = True, config_file: Path | None = None):
        self.gguf = gguf
        self.logits_all = logits_all
        self.config_file = config_file
        """A llama_cpp.server config (several models under aliases) instead of one GGUF."""
        self.port = port or free_port()
        self.threads = threads
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, wait_s: float = 120.0) -> LlamaServer:
        if self.config_file is not None:
            args = ["--config_file", str(self.config_file)]
        else:
            args = ["--model", str(self.gguf), "--model_alias", ALIAS, "--logits_all",
                    str(self.logits_all).lower(), "--n_threads", str(self.threads), "--n_ctx", "2048",
                    "--host", "127.0.0.1", "--port", str(self.port)]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", *args],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            # Passive OpenMP waits: spinning threads stall each other on a shared CPU (measured
            # here: 141 prompt tokens took 3.5 s with spinning, 1.7 s without, under load).
            env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"})
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited with {self.process.returncode}")
            try:
                if httpx.get(f"{self.url}/models", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"llama_cpp.server did not answer within {wait_s:.0f}s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)
