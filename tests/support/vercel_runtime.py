"""Serve one api/ entry point under Vercel's own Python runtime, on Python 3.12.

    with VercelRuntime("api/webhooks/sentry.py", env={...}) as vr:
        httpx.post(f"{vr.url}/api/webhooks/sentry", content=raw, headers=...)
        vr.output()          # what the function printed (stdout and stderr)

It runs `vercel_runtime.dev` (the package `vercel dev` installs; pinned in
requirements-vercel.txt) in `.venv312`, which `make test` creates, with the
variables the runtime reads: VERCEL_DEV_MODULE_NAME (`api.webhooks.sentry`),
VERCEL_DEV_ENTRY_ABS (the file), VERCEL_DEV_FRAMEWORK, VERCEL_DEV_VARIABLE_NAME
(`app`) and PORT. PORT=0 lets the OS pick the port; the runtime's server (werkzeug)
prints the one it bound ("Running on http://127.0.0.1:N"), read from its output.
The child gets only the environment given (plus PATH and HOME), so a test says
exactly what the deployment would have.

One thing differs from `main()`: the server runs without werkzeug's reloader. It
restats every .py and .pyc under the repo each second and restarts the server
(dropping requests in flight) when one changes, which other tests and `make bench`
do; everything else (`dev.wsgi_app`: internal headers, deadline, wait_until
collector around each request) is the runtime's own code.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
from pathlib import Path
from types import TracebackType

ROOT = Path(__file__).resolve().parents[2]
VENV312 = ROOT / ".venv312"
PYTHON312 = VENV312 / "bin" / "python"
START_TIMEOUT_S = 60.0  # a cold import of the whole stack on a busy 2-core machine
_SERVE = """
import os
from vercel_runtime import dev
from vercel_runtime._vendor.werkzeug.serving import run_simple
if dev._wsgi_user_app is None:
    dev.main()  # ASGI: the runtime's own uvicorn path
else:
    dev._setup_server_log_routing("werkzeug")
    run_simple("127.0.0.1", int(os.environ["PORT"]), dev.wsgi_app, use_reloader=False, threaded=True)
"""
_RUNNING = re.compile(r"Running on http://127\.0\.0\.1:(\d+)")


class RuntimeMissing(RuntimeError):
    pass


def python312() -> Path:
    """The 3.12 venv's interpreter, or RuntimeMissing saying how to make it."""
    probe = subprocess.run([str(PYTHON312), "-c", "import vercel_runtime.dev"], capture_output=True) \
        if PYTHON312.exists() else None
    if probe is None or probe.returncode != 0:
        raise RuntimeMissing(
            f"{VENV312.name} with Vercel's runtime is missing: run `make setup` (it creates it with Python 3.12 "
            "and requirements-vercel.txt; without a Python 3.12, `pyenv install 3.12` first)")
    return PYTHON312


def module_of(entry: str) -> str:
    """`api/webhooks/sentry.py` -> `api.webhooks.sentry`, as @vercel/python names it."""
    return entry.removesuffix(".py").replace("/", ".")


class VercelRuntime:
    def __init__(self, entry: str, env: dict[str, str] | None = None, framework: str = "python") -> None:
        self.entry = entry
        self.env = {
            "PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/"), "NO_COLOR": "1",
            **(env or {}),
            "VERCEL_DEV_MODULE_NAME": module_of(entry),
            "VERCEL_DEV_ENTRY_ABS": str(ROOT / entry),
            "VERCEL_DEV_FRAMEWORK": framework,
            "VERCEL_DEV_VARIABLE_NAME": "app",
            "PORT": "0",
        }
        self.port = 0
        self._lines: list[str] = []
        self._ready = threading.Event()
        self._proc: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> VercelRuntime:
        self._proc = subprocess.Popen(
            [str(python312()), "-u", "-c", _SERVE],
            cwd=ROOT, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True,  # its own process group, stopped as one
        )
        threading.Thread(target=self._read, daemon=True).start()
        if not self._ready.wait(START_TIMEOUT_S) or not self.port:
            out = self.output()
            self.stop()
            raise RuntimeError(f"vercel_runtime.dev did not start {self.entry}:\n{out}")
        return self

    def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        for line in self._proc.stdout:
            self._lines.append(line)
            m = _RUNNING.search(line)
            if m and not self.port:
                self.port = int(m.group(1))
                self._ready.set()
        self._ready.set()  # it exited: start() reports its output

    def output(self) -> str:
        return "".join(self._lines)

    def stop(self) -> None:
        if self._proc is None:
            return
        if self._proc.poll() is None:
            os.killpg(self._proc.pid, signal.SIGTERM)
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self._proc.pid, signal.SIGKILL)
                self._proc.wait()
        self._proc = None

    def __enter__(self) -> VercelRuntime:
        return self.start()

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
