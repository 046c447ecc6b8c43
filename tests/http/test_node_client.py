"""A real Node client: types generated from the OpenAPI document, compiled with tsc --strict,
run through the seed's flows against ``campaign-core serve`` (uvicorn) on 127.0.0.1.

``clients/typescript`` pins openapi-typescript and TypeScript in its lockfile; CI installs them
(``npm ci`` in ``.ci/run``) and sets ``CAMPAIGN_CORE_REQUIRE_SERVERS=1``, which turns a missing
Node or a missing install into a failure instead of a skip.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from campaign_core_http import openapi_document

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "clients" / "typescript"
REQUIRED = os.environ.get("CAMPAIGN_CORE_REQUIRE_SERVERS") == "1"
SECRET = "node-client-secret-of-32-bytes!!"


def _skip_or_fail(reason: str) -> None:
    if REQUIRED:
        pytest.fail(f"{reason} (CAMPAIGN_CORE_REQUIRE_SERVERS=1)")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(*command: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        command, cwd=CLIENT, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.mark.slow
def test_the_typescript_client_runs_the_seed_flows(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None:
        _skip_or_fail("node is not installed")
    bins = CLIENT / "node_modules" / ".bin"
    if not (bins / "tsc").exists() or not (bins / "openapi-typescript").exists():
        _skip_or_fail("the client's packages are not installed: npm ci --prefix clients/typescript")
    build = CLIENT / "build"
    build.mkdir(exist_ok=True)
    (build / "openapi.json").write_text(json.dumps(openapi_document()), encoding="utf-8")
    _run(str(bins / "openapi-typescript"), "build/openapi.json", "-o", "src/generated/api.d.ts")
    _run(str(bins / "tsc"), "-p", "tsconfig.json")

    port = _free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
        "CAMPAIGN_CORE_HTTP_SECRET": SECRET,
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "campaign_core.cli",
            "--core",
            "tests.http.node_server:build_core",
            "serve",
            "--port",
            str(port),
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60  # the server process starting up, not a timing test
        while True:
            try:
                with urllib.request.urlopen(url + "/openapi.json", timeout=5) as response:
                    assert response.status == 200
                    break
            except (urllib.error.URLError, ConnectionError):
                assert server.poll() is None, server.stdout.read() if server.stdout else ""
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        flows = subprocess.run(
            [node, "build/js/flows.js"],
            cwd=CLIENT,
            env={**os.environ, "CAMPAIGN_CORE_URL": url, "CAMPAIGN_CORE_HTTP_SECRET": SECRET},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        server.terminate()
        try:
            output, _ = server.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            output, _ = server.communicate()
    assert flows.returncode == 0, f"{flows.stdout}\n{flows.stderr}\nserver:\n{output}"
    assert "all flows passed" in flows.stdout
    assert "Traceback" not in output
