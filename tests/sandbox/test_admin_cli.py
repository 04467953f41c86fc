"""Admin endpoints, persistence and the command line."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
from pathlib import Path

import aiohttp
import pytest

from flatpeak_sandbox import Sandbox, SandboxServer, Tariff
from flatpeak_sandbox.__main__ import demo_tariff, main, make_sandbox, serve

from .helpers import Api, basic_auth, record

REPO = Path(__file__).parents[2]


async def test_admin_objects(api: Api) -> None:
    """Create account, location (with tariff), device; change tariff; reset."""
    status, account = await api.admin("POST", "/accounts", {})
    assert status == 201
    assert account["account_id"].startswith("acc_")
    assert account["api_key"].startswith("sk_test_")
    tariff = {
        "currency_code": "EUR",
        "timezone": "Europe/Paris",
        "import_default": 0.3,
        "import_periods": [{"start": "22:00", "end": "06:00", "price": 0.2}],
    }
    status, loc = await api.admin(
        "POST",
        "/locations",
        {
            "account_id": account["account_id"],
            "country_code": "FR",
            "city": "Paris",
            "tariff": tariff,
            "location_id": "loc_000000000000000000000abc",
        },
    )
    assert status == 201
    assert loc["id"] == "loc_000000000000000000000abc"
    assert loc["currency_code"] == "EUR"
    assert loc["tariff_status"]["commodity_import"] == "CONNECTED"
    stored = api.server.sandbox.locations[loc["id"]].tariff
    assert stored is not None
    assert stored.import_periods[0].price == 0.2
    status, dev = await api.admin(
        "POST",
        "/devices",
        {"account_id": account["account_id"], "reference_id": "r"},
    )
    assert status == 201
    assert dev["reference_id"] == "r"
    status, changed = await api.admin("PUT", f"/locations/{loc['id']}/tariff", None)
    assert changed["tariff_status"]["commodity_import"] == "NOT_CONNECTED"
    status, changed = await api.admin(
        "PUT", f"/locations/{loc['id']}/tariff", Tariff.demo_uk().to_dict()
    )
    assert api.server.sandbox.locations[loc["id"]].tariff == Tariff.demo_uk()
    status, state = await api.admin("GET", "/state")
    assert state["demo_account_id"] == api.server.sandbox.demo_account.account_id  # type: ignore[union-attr]
    assert len(state["accounts"]) == 2
    assert len(state["devices"]) == 1
    # Errors.
    for path, body in (
        ("/locations", {"account_id": "acc_nope"}),
        ("/locations", {"account_id": account["account_id"], "country_code": "ZZ"}),
        (
            "/locations",
            {"account_id": account["account_id"], "tariff": {"timezone": "X/Y"}},
        ),
        ("/locations", {"account_id": account["account_id"], "tariff": []}),
        ("/devices", {"account_id": 5}),
    ):
        status, answer = await api.admin("POST", path, body)
        assert status == 400, body
        assert "message" in answer
    status, _ = await api.admin("PUT", "/locations/loc_nope/tariff", None)
    assert status == 404


async def test_admin_records_requests_reset(api: Api) -> None:
    """Records and requests are listed; reset forgets them (and tokens)."""
    loc = api.server.sandbox.demo_location_id
    assert loc is not None
    await api.call(
        "PUT", "/meters/interval", json=[record(loc, record_reference_id="a")]
    )
    status, records = await api.admin("GET", f"/records?location_id={loc}")
    assert status == 200
    assert [r["record_reference_id"] for r in records["data"]] == ["a"]
    assert records["data"][0]["start_time"] == "2024-01-10T04:00:00Z"
    status, records = await api.admin("GET", "/records?device_id=dev_x")
    assert records["data"] == []
    status, requests = await api.admin("GET", "/requests")
    assert [r["path"] for r in requests["data"]] == ["/login", "/meters/interval"]
    assert requests["data"][1]["flatpeak_version"] == "2025-09-14.anode"
    assert requests["data"][1]["body"][0]["record_reference_id"] == "a"
    status, _ = await api.admin("POST", "/reset")
    assert api.server.sandbox.records() == []
    assert api.server.sandbox.requests == []
    status, _ = await api.call("GET", "/locations")
    assert status == 401


async def test_persistence_round_trip(tmp_path: Path, api: Api) -> None:
    """save/load keeps accounts, locations, tariffs, devices, records, batches."""
    sandbox = api.server.sandbox
    loc = sandbox.demo_location_id
    assert loc is not None
    assert sandbox.demo_account is not None
    dev = sandbox.add_device(sandbox.demo_account.account_id, "ev")
    bare = sandbox.add_location(sandbox.demo_account.account_id, reference_id="x")
    status, batch = await api.call(
        "PUT",
        "/meters/interval",
        json=[record(loc, device_id=dev, confidence=0.5, session_reference_id="S")],
    )
    path = tmp_path / "state.json"
    sandbox.save(path)
    loaded = Sandbox.load(path)
    assert loaded.demo_account == sandbox.demo_account
    assert loaded.demo_location_id == loc
    assert loaded.records() == sandbox.records()
    assert loaded.locations[loc].tariff == Tariff.demo_uk()
    assert loaded.locations[bare].tariff is None
    assert loaded.locations[bare].to_json() == sandbox.locations[bare].to_json()
    assert loaded.devices[dev].to_json() == sandbox.devices[dev].to_json()
    assert loaded.batches[batch["id"]] == batch
    assert [loaded.order_of(i) for i in (loc, dev, bare)] == [0, 1, 2]
    # A loaded sandbox serves the same answers.
    async with SandboxServer(loaded) as server:
        again = Api(api.session, server)
        await again.login()
        status, got = await again.call("GET", f"/meters/batch?batch_id={batch['id']}")
        assert (status, got) == (200, batch)


def test_make_sandbox_with_state(tmp_path: Path) -> None:
    """The CLI creates, saves on change, and reloads the state file."""
    path = tmp_path / "s.json"
    first = make_sandbox(path)
    assert path.exists()
    assert first.demo_account is not None
    first.add_device(first.demo_account.account_id, "saved-on-change")
    second = make_sandbox(path)
    assert second.demo_account == first.demo_account
    assert [d.reference_id for d in second.devices.values()] == ["saved-on-change"]
    # A state file without accounts gets a demo account.
    Sandbox().save(path)
    third = make_sandbox(path)
    assert third.demo_account is not None
    assert make_sandbox(None).default_tariff == Tariff.demo_uk()


def test_make_sandbox_tariff_option(tmp_path: Path) -> None:
    """--tariff sets the demo location's tariff, also of a loaded state file."""
    agile = Tariff.agile_uk(5)
    fresh = make_sandbox(None, agile)
    assert fresh.demo_location_id is not None
    assert fresh.locations[fresh.demo_location_id].tariff == agile
    assert fresh.default_tariff == agile
    path = tmp_path / "s.json"
    first = make_sandbox(path)
    assert first.demo_location_id is not None
    assert first.locations[first.demo_location_id].tariff == Tariff.demo_uk()
    switched = make_sandbox(path, agile)
    assert switched.demo_account == first.demo_account
    assert switched.locations[first.demo_location_id].tariff == agile
    # Saved: without the option the loaded state keeps the agile tariff.
    kept = make_sandbox(path)
    assert kept.locations[first.demo_location_id].tariff == agile
    assert kept.default_tariff == Tariff.demo_uk()
    back = make_sandbox(path, Tariff.demo_uk())
    assert back.locations[first.demo_location_id].tariff == Tariff.demo_uk()
    # A state file without accounts: the new demo location gets the option's tariff.
    Sandbox().save(path)
    empty = make_sandbox(path, agile)
    assert empty.demo_location_id is not None
    assert empty.locations[empty.demo_location_id].tariff == agile
    assert demo_tariff(None) is None
    assert demo_tariff("tou") == Tariff.demo_uk()
    assert demo_tariff("agile", 9) == Tariff.agile_uk(9)
    with pytest.raises(ValueError, match="unknown tariff kind"):
        demo_tariff("spot")


async def test_serve_in_process(tmp_path: Path, socket_enabled: None) -> None:
    """serve() prints the banner and stops when asked; state saved at exit."""
    stop = asyncio.Event()
    lines: list[str] = []
    path = tmp_path / "state.json"
    task = asyncio.create_task(
        serve("127.0.0.1", 0, path, stop=stop, output=lines.append)
    )
    for _ in range(100):
        if lines:
            break
        await asyncio.sleep(0.02)
    text = lines[0]
    url = re.search(r"http://\S+", text)
    account = re.search(r"account_id: (\S+)", text)
    key = re.search(r"api_key: (\S+)", text)
    assert url
    assert account
    assert key
    assert "location_id: loc_" in text
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{url[0]}/login", headers=basic_auth(account[1], key[1])) as resp,
    ):
        assert resp.status == 200
        token = (await resp.json())["bearer_token"]
        async with session.post(
            f"{url[0]}/locations",
            json={"postal_address": {"country_code": "IE"}},
            headers={"Authorization": f"Bearer {token}"},
        ) as created:
            loc = await created.json()
    # CLI sandboxes give API-created locations the demo tariff in local zone.
    assert loc["tariff_status"]["commodity_import"] == "CONNECTED"
    stop.set()
    await asyncio.wait_for(task, 5)
    reloaded = Sandbox.load(path)
    tariff = reloaded.locations[loc["id"]].tariff
    assert tariff is not None
    assert (tariff.timezone, tariff.currency_code) == ("Europe/Dublin", "EUR")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.mark.parametrize(
    ("options", "tariff"),
    [
        ((), Tariff.demo_uk()),
        (("--tariff", "agile", "--agile-seed", "3"), Tariff.agile_uk(3)),
    ],
)
async def test_cli_subprocess(
    tmp_path: Path, socket_enabled: None, options: tuple[str, ...], tariff: Tariff
) -> None:
    """Run ``python -m flatpeak_sandbox``: it prints keys, serves, stops on ^C."""
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "flatpeak_sandbox",
        "--port",
        str(port),
        "--state",
        str(tmp_path / "cli.json"),
        *options,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=tmp_path,
    )
    try:
        assert proc.stdout is not None
        found: dict[str, str] = {}
        while len(found) < 4:
            line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
            assert line, "the CLI exited early"
            if match := re.match(r"(\w+): (\S+)", line):
                found[match[1]] = match[2]
            if match := re.search(r"(http://\S+)", line):
                found["url"] = match[1]
        assert found["url"] == f"http://127.0.0.1:{port}"
        async with (
            aiohttp.ClientSession() as session,
            session.get(
                f"{found['url']}/login",
                headers=basic_auth(found["account_id"], found["api_key"]),
            ) as resp,
        ):
            assert resp.status == 200
        proc.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(proc.wait(), 20) == 0
        saved = Sandbox.load(tmp_path / "cli.json")
        assert saved.demo_location_id == found["location_id"]
        assert saved.locations[found["location_id"]].tariff == tariff
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def test_main_parses_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    """main() hands the parsed arguments to serve()."""
    seen: dict[str, object] = {}

    tariffs: list[Tariff | None] = []

    async def fake_serve(
        host: str,
        port: int,
        state: Path | None,
        *,
        tariff: Tariff | None = None,
        **_: object,
    ) -> None:
        seen.update(host=host, port=port, state=state)
        tariffs.append(tariff)

    monkeypatch.setattr("flatpeak_sandbox.__main__.serve", fake_serve)
    assert main(["--port", "9999", "--state", "x.json"]) == 0
    assert seen == {"host": "127.0.0.1", "port": 9999, "state": Path("x.json")}
    assert tariffs == [None]
    assert main(["--tariff", "agile"]) == 0
    assert main(["--tariff", "agile", "--agile-seed", "4"]) == 0
    assert main(["--tariff", "tou"]) == 0
    assert tariffs == [None, Tariff.agile_uk(0), Tariff.agile_uk(4), Tariff.demo_uk()]
