from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
from conftest import ROOT, free_port

from console.security import verify_password
from handoff.queue import HandoffQueue
from store.db import make_engine


def run_manage(db_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": db_url}
    return subprocess.run([sys.executable, "-m", "console.manage", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


def test_manage_create_agent(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'h.db'}"
    given = run_manage(db_url, "create-agent", "--username", "ana", "--role", "specialist",
                       "--password", "una-clave-larga")
    assert given.returncode == 0, given.stderr
    assert "una-clave-larga" not in given.stdout
    generated = run_manage(db_url, "create-agent", "--username", "sara", "--role", "supervisor")
    assert generated.returncode == 0, generated.stderr
    password = generated.stdout.strip().splitlines()[-1].split(": ", 1)[1]
    duplicate = run_manage(db_url, "create-agent", "--username", "ana", "--password", "x" * 12)
    assert duplicate.returncode != 0
    short = run_manage(db_url, "create-agent", "--username", "eva", "--password", "corta")
    assert short.returncode != 0
    queue = HandoffQueue(make_engine(db_url))
    ana, sara = queue.credentials("ana"), queue.credentials("sara")
    assert ana.agent.role == "specialist" and verify_password("una-clave-larga", ana.password_hash)
    assert sara.agent.role == "supervisor" and verify_password(password, sara.password_hash)
    trainer = run_manage(db_url, "create-agent", "--username", "tere", "--role", "trainer",
                         "--password", "otra-clave-larga")
    assert trainer.returncode == 0 and queue.agent_by_username("tere").role == "trainer"
    assert queue.agent_by_username("eva") is None
    assert run_manage(db_url, "deactivate", "--username", "ana").returncode == 0
    assert not queue.agent_by_username("ana").active


def test_python_m_console_serves(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'h.db'}",
           "RASA_URL": "http://127.0.0.1:9", "RASA_API_TOKEN": "t"}
    process = subprocess.Popen([sys.executable, "-m", "console", "--port", str(port)], cwd=ROOT,
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 30
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/login", timeout=2)
                break
            except httpx.HTTPError:
                assert process.poll() is None, process.stderr.read().decode()
                assert time.time() < deadline, "console did not start"
                time.sleep(0.2)
        assert response.status_code == 200 and 'id="login-form"' in response.text
        assert httpx.get(f"http://127.0.0.1:{port}/api/queue").status_code == 401
    finally:
        process.terminate()
        process.wait(10)
