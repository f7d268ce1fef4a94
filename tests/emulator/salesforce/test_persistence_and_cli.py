"""State survives a restart; the command line starts, announces itself and stops cleanly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from emulator.salesforce import EmulatorServer

from .conftest import Api

EXT = "Subsync_Customer_Id__c"
REPO = Path(__file__).resolve().parents[3]


def test_state_survives_restart(tmp_path, cert_dir):
    state = tmp_path / "state.json"
    with EmulatorServer(state_path=state, cert_dir=cert_dir) as emu:
        api = Api(emu)
        first = api.patch(f"/sobjects/Account/{EXT}/chargebee:a", json={"Name": "A"}).json()
        token = api.token
    saved = json.loads(state.read_text())
    assert saved["api_used"] == 1
    assert not list(tmp_path.glob(".state.json.*"))  # no temp files left behind

    with EmulatorServer(state_path=state, cert_dir=cert_dir) as emu:
        assert emu.records("Account")[0]["Id"] == first["id"]
        assert emu.api_usage == 1
        api = Api(emu, token)  # sessions survive too
        again = api.patch(f"/sobjects/Account/{EXT}/chargebee:a", json={"Name": "A2"})
        assert again.status_code == 200 and again.json()["id"] == first["id"]
        second = api.post("/sobjects/Account/", json={"Name": "B"}).json()["id"]
        assert second != first["id"]  # id counters are persisted


def test_corrupt_state_is_moved_aside(tmp_path, cert_dir):
    state = tmp_path / "state.json"
    state.write_text("{not json")
    with EmulatorServer(state_path=state, cert_dir=cert_dir) as emu:
        assert emu.count("Account") == 0
    assert list(tmp_path.glob("state.json.corrupt-*"))


def test_cli_runs_and_stops_on_sigterm(tmp_path):
    cert_dir = tmp_path / "sf"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "emulator.salesforce",
            "--port",
            "0",
            "--cert-dir",
            str(cert_dir),
            "--state",
            str(tmp_path / "state.json"),
            "--daily-limit",
            "50",
            "--multi-currency",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready = json.loads(process.stdout.readline())
        assert ready["url"].startswith("https://127.0.0.1:")
        assert Path(ready["ca_path"]).is_file()
        assert json.loads((cert_dir / "ready.json").read_text())["url"] == ready["url"]

        emu_like = type(
            "Emu",
            (),
            {"url": ready["url"], "ca_path": ready["ca_path"], "issue_token": lambda self: ""},
        )()
        client = Api(emu_like, token="")
        token = client.session.post(
            f"{ready['url']}/services/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_id": "emulator",
                "client_secret": "emulator",
            },
            timeout=10,
        ).json()["access_token"]
        client.token = token
        limits = client.get("/limits")
        assert limits.headers["Sforce-Limit-Info"] == "api-usage=1/50"
        fields = {f["name"] for f in client.get("/sobjects/Contract/describe").json()["fields"]}
        assert "CurrencyIsoCode" in fields
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
    assert process.returncode == 0
    assert not (cert_dir / "ready.json").exists()
    assert json.loads((tmp_path / "state.json").read_text())["api_used"] == 2


def test_stop_and_start_keeps_url_and_org(emu, api):
    api.patch(f"/sobjects/Account/{EXT}/chargebee:a", json={"Name": "A"})
    url = emu.url
    emu.stop()
    emu.start()
    assert emu.url == url
    assert api.get(f"/sobjects/Account/{EXT}/chargebee:a").json()["Name"] == "A"


def test_emulator_does_not_import_django():
    code = (
        "import sys, emulator.salesforce.__main__, emulator.salesforce; "
        "sys.exit(1 if any(m == 'django' or m.startswith('django.') for m in sys.modules) else 0)"
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env["PYTHONPATH"] = str(REPO)
    assert subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env).returncode == 0
