"""CSV exports through the real API on real PostgreSQL: streamed from a named cursor, same rows as the JSON views."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import psycopg
import pytest
from gridwatch.common.db.migrate import connect, migrate
from gridwatch.common.schema import SCHEMA_VERSION, EnrichedBatch, SensorType, Status
from gridwatch.history import partitions
from gridwatch.history.store import HistoryStore, Record

from tests.infra.services import Postgres, Redis
from tests.utils.workloads import Workload, free_port, wait_for

ZONE = "Europe/Berlin"
START = dt.datetime(2026, 3, 10, 0, 0, tzinfo=ZoneInfo(ZONE)).timestamp()
MACHINES = 60  # a power and a temperature sensor each: 120 sensors
MINUTES = 1800  # 30 hours: 216,000 one-minute rows
ROWS = 2 * MACHINES * MINUTES


def power_kw(machine: int, minute: int) -> float:
    return 10.0 + machine + (minute % 60) / 8.0


def temperature_c(machine: int, minute: int) -> float:
    return 40.0 + machine / 4.0 + (minute % 30) / 16.0


def seed_history(dsn: str, site: str) -> None:
    """One reading per sensor and minute, written by the history writer's store (the production write path)."""
    with connect(dsn, "test") as conn:
        migrate(conn)
        if partitions.storage_kind(conn) == "partitioned":
            partitions.ensure_days(conn, {partitions.day_of(START + 3600.0 * h) for h in range(MINUTES // 60 + 2)})
        store = HistoryStore(conn, site)
        for offset in range(0, MINUTES, 300):  # a few batches, as the writer would receive them
            minutes = range(offset, min(offset + 300, MINUTES))
            ids, types, ts, values, energy = [], [], [], [], []
            for k in minutes:
                for m in range(MACHINES):
                    t = START + 60.0 * k + 30.0
                    ids += [f"m{m:03d}-power", f"m{m:03d}-temp"]
                    types += [SensorType.POWER, SensorType.TEMPERATURE]
                    ts += [t, t]
                    values += [power_kw(m, k), temperature_c(m, k)]
                    energy += [power_kw(m, k) / 60.0, 0.0]
            n = len(ids)
            batch = EnrichedBatch(
                schema_version=SCHEMA_VERSION, site=site, sensor_ids=ids, types=types, ts=ts, values=values,
                score=[0.1] * n, anomaly=[i % 97 == 0 for i in range(n)], failure_probability=[0.05] * n,
                status=[Status.NORMAL] * n, label=[""] * n, energy_kwh=energy,
            )  # fmt: skip
            store.write(f"{site}.enriched", [Record(0, offset, batch)])


def seed_alerts(dsn: str, site: str) -> None:
    """Alerts in every state and severity, one with a message that needs quoting and a non-ASCII character."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        for i in range(30):
            state = ("active", "acknowledged", "cleared")[i % 3]
            severity = ("info", "warning", "critical")[(i // 3) % 3]
            conn.execute(
                """INSERT INTO gw_alerts (site, fingerprint, rule, sensor_id, severity, state, message, value,
                                          first_seen, last_seen)
                   VALUES (%s, %s, 'overheat', %s, %s, %s, %s, %s, to_timestamp(%s), to_timestamp(%s))""",
                (
                    site, f"fp-{i}", f"m{i % 4:03d}-temp", severity, state,
                    f'temperature {80 + i} °C, "hot"; check cooling', 80.0 + i + 0.25, START + i, START + 60.0 * i,
                ),
            )  # fmt: skip


@pytest.fixture(scope="module")
def api(
    postgres: Postgres, redis_server: Redis, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Workload]]:
    """An API of a site in Berlin with 216,000 one-minute rollups and 30 alerts."""
    site = "export-it"
    seed_history(postgres.dsn, site)
    seed_alerts(postgres.dsn, site)
    port = free_port()
    env = {
        "GRIDWATCH_SITE": site,
        "GRIDWATCH_REDIS_URL": redis_server.url,
        "GRIDWATCH_POSTGRES_DSN": postgres.dsn,
        "GRIDWATCH_API_PORT": str(port),
        "GRIDWATCH_METRICS_PORT": str(free_port()),
        "GRIDWATCH_TIMEZONE": ZONE,
        "GRIDWATCH_API_RATE_LIMIT_RPS": "1000",
    }
    proc = Workload("api", env, tmp_path_factory.mktemp("export")).start()
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: httpx.get(f"{base}/readyz").status_code == 200, 90, "API", logs=(proc,))
        yield base, proc
    finally:
        proc.stop()


def rows_of(body: bytes, delimiter: str = ",") -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"), newline=""), delimiter=delimiter))


def peak_rss_kb(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    found = re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)
    assert found, status
    return int(found.group(1))


def test_a_large_history_export_streams_from_a_named_cursor(api: tuple[str, Workload], postgres: Postgres) -> None:
    base, proc = api
    assert proc.pid is not None
    # warm up (worker threads, the pool's connections, a few batches), then compare the peak after a big export
    warm = httpx.get(f"{base}/api/v1/export/history.csv", params={"from": str(START), "to": str(START + 3 * 3600)})
    assert len(rows_of(warm.content)) == 2 * MACHINES * 180
    peak_before = peak_rss_kb(proc.pid)
    params = {"from": str(START), "to": str(START + 60.0 * MINUTES)}
    fetching: list[tuple[str, str]] = []
    received = bytearray()
    # identity: compressed, the whole file could sit in the socket buffers before the check below
    identity = {"Accept-Encoding": "identity"}
    with (
        httpx.Client(timeout=120) as client,
        client.stream("GET", f"{base}/api/v1/export/history.csv", params=params, headers=identity) as response,
    ):
        assert response.status_code == 200, response.read()
        assert response.headers["transfer-encoding"] == "chunked"
        assert "content-length" not in response.headers
        assert response.headers["content-type"].startswith("text/csv")
        assert "attachment" in response.headers["content-disposition"]
        chunks = response.iter_raw()
        received += next(chunks)
        # with a part of the file read, the API's connection is inside the export's transaction and its
        # last statement fetched a bounded batch from the named cursor: PostgreSQL holds the rest
        with psycopg.connect(postgres.dsn, autocommit=True) as conn:
            fetching = [
                (str(s), str(q))
                for s, q in conn.execute(
                    "SELECT state, query FROM pg_stat_activity WHERE application_name = 'gridwatch-api'"
                    " AND query LIKE 'FETCH FORWARD %%'"
                ).fetchall()
            ]
        chunk_count = 1
        for chunk in chunks:
            received += chunk
            chunk_count += 1
    assert fetching, "no API connection was fetching from a cursor while the export streamed"
    assert all(re.fullmatch(r'FETCH FORWARD 5000 FROM "gw_export_\d+"', q) for _, q in fetching), fetching
    assert fetching[0][0] in ("idle in transaction", "active")
    assert chunk_count > 10
    rows = rows_of(bytes(received))
    assert len(rows) == ROWS
    # the server never held the file: 10 times the rows of the warm-up raised its peak memory by far less than the
    # CSV's size (holding the rows would take several times that)
    grown_kb = peak_rss_kb(proc.pid) - peak_before
    assert grown_kb * 1024 < len(received) / 4, (grown_kb, len(received))
    first = rows[0]
    assert first["time"] == "2026-03-10T00:00:00+01:00"
    assert (first["sensor_id"], first["sensor_type"], first["unit"]) == ("m000-power", "power", "kW")
    assert float(first["mean"]) == power_kw(0, 0) and float(first["energy_kwh"]) == power_kw(0, 0) / 60.0
    temps = [r for r in rows if r["sensor_type"] == "temperature"]
    assert len(temps) == ROWS // 2 and {r["unit"] for r in temps} == {"°C"}
    assert sum(int(r["readings"]) for r in rows) == ROWS
    # the connection went back to the pool: no transaction is left open
    with psycopg.connect(postgres.dsn, autocommit=True) as conn:
        left = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'gridwatch-api'"
            " AND state = 'idle in transaction'"
        ).fetchone()
    assert left == (0,)


def test_history_export_matches_the_json_series_of_the_same_filters(api: tuple[str, Workload]) -> None:
    base, _ = api
    span = {"from": str(START + 3600), "to": str(START + 3 * 3600)}
    csv_rows = rows_of(httpx.get(f"{base}/api/v1/export/history.csv", params={**span, "sensor": "m007-power"}).content)
    series = httpx.get(
        f"{base}/api/v1/analytics/history", params={**span, "sensor": "m007-power", "metric": "mean", "step": 60}
    ).json()
    json_points = series["points"]
    assert series["unit"] == "kW" and {r["unit"] for r in csv_rows} == {"kW"}  # the sensor's type, from its rollups
    assert len(csv_rows) == len(json_points) == 120
    for row, point in zip(csv_rows, json_points, strict=True):
        assert dt.datetime.fromisoformat(row["time"]).timestamp() == point["ts"]
        assert float(row["mean"]) == point["value"]
        assert row["sensor_id"] == "m007-power"
    # a type over an hour: the per-minute energy of the type's sensors sums to the JSON series' buckets
    by_type = rows_of(httpx.get(f"{base}/api/v1/export/history.csv", params={**span, "type": "power"}).content)
    assert {r["sensor_type"] for r in by_type} == {"power"} and len(by_type) == MACHINES * 120
    energy_series = httpx.get(
        f"{base}/api/v1/analytics/history", params={**span, "type": "power", "metric": "energy_kwh", "step": 3600}
    ).json()
    assert energy_series["unit"] == "kWh"
    energy = energy_series["points"]
    per_hour: dict[float, float] = {}
    for r in by_type:
        ts = dt.datetime.fromisoformat(r["time"]).timestamp()
        per_hour[ts - ts % 3600] = per_hour.get(ts - ts % 3600, 0.0) + float(r["energy_kwh"])
    assert [p["ts"] for p in energy] == sorted(per_hour)
    for p in energy:
        assert per_hour[p["ts"]] == pytest.approx(p["value"], rel=1e-12)


def test_alert_export_has_the_list_endpoints_rows_in_its_order(api: tuple[str, Workload]) -> None:
    base, _ = api
    for filters in ({}, {"state": "active"}, {"severity": "critical", "sensor": "m001-temp"}, {"state": "cleared"}):
        listed = httpx.get(f"{base}/api/v1/alerts", params={**filters, "limit": 1000}).json()["items"]
        exported = rows_of(httpx.get(f"{base}/api/v1/export/alerts.csv", params=filters).content)
        assert listed, filters
        assert [int(r["id"]) for r in exported] == [a["id"] for a in listed], filters
        for row, alert in zip(exported, listed, strict=True):
            assert row["message"] == alert["message"] and row["state"] == alert["state"]
            assert float(row["value"]) == alert["value"]
            assert dt.datetime.fromisoformat(row["last_seen"]).timestamp() == alert["last_seen"]
            assert row["acknowledged_at"] == ""


def test_excel_flavour_has_a_bom_semicolons_and_decimal_commas(api: tuple[str, Workload]) -> None:
    base, _ = api
    response = httpx.get(
        f"{base}/api/v1/export/alerts.csv", params={"format": "excel", "decimal": "comma", "state": "active"}
    )
    body = response.content
    assert body.startswith("\ufeff".encode())
    assert b"\r\n" in body and body.count(b"\n") == body.count(b"\r\n")
    rows = rows_of(body, delimiter=";")
    listed = httpx.get(f"{base}/api/v1/alerts", params={"state": "active", "limit": 1000}).json()["items"]
    assert [float(r["value"].replace(",", ".")) for r in rows] == [a["value"] for a in listed]
    assert "°C" in rows[0]["message"] and '"hot"; check' in rows[0]["message"]


@pytest.mark.parametrize(
    ("path", "params", "word"),
    [
        ("history.csv", {"from": "0", "to": str(400 * 86400)}, "366 days"),
        ("history.csv", {"from": "yesterday"}, "ISO 8601"),
        ("history.csv", {"type": "colour"}, "type"),
        ("history.csv", {"format": "xlsx"}, "format"),
        ("alerts.csv", {"decimal": "dot"}, "decimal"),
        ("alerts.csv", {"state": "gone"}, "state"),
        ("suggestions.csv", {"min_priority": "101"}, "min_priority"),
    ],
)
def test_bad_export_parameters_are_problems(
    api: tuple[str, Workload], path: str, params: dict[str, str], word: str
) -> None:
    base, _ = api
    response = httpx.get(f"{base}/api/v1/export/{path}", params=params)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert word in response.text


def test_suggestion_export_has_the_json_endpoints_suggestions(api: tuple[str, Workload]) -> None:
    base, _ = api
    listed = httpx.get(f"{base}/api/v1/optimization/suggestions", params={"limit": 1000}).json()
    exported = httpx.get(f"{base}/api/v1/export/suggestions.csv")
    assert exported.status_code == 200
    header = exported.content.decode().split("\r\n", 1)[0].split(",")
    assert header[:3] == ["id", "kind", "priority"] and "estimated_saving_kwh" in header and "currency" in header
    rows = rows_of(exported.content)
    assert [r["id"] for r in rows] == [s["id"] for s in listed["items"]]
    assert all(r["currency"] == listed["currency"] for r in rows)


def gridwatch(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "gridwatch.cli", *args], capture_output=True, timeout=120, check=False)


def test_the_cli_writes_the_same_bytes_as_the_api(api: tuple[str, Workload], tmp_path: Path) -> None:
    base, _ = api
    span = {"from": str(START), "to": str(START + 7200)}
    served = httpx.get(
        f"{base}/api/v1/export/history.csv", params={**span, "type": "temperature", "format": "excel"}
    ).content
    out = tmp_path / "temps.csv"
    done = gridwatch(
        "export", "history", "--api-url", base, "--type", "temperature", "--from", span["from"], "--to", span["to"],
        "--format", "excel", "-o", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == served and len(rows_of(served)) == MACHINES * 120
    to_stdout = gridwatch("export", "alerts", "--api-url", base, "--state", "cleared")
    assert to_stdout.returncode == 0, to_stdout.stderr
    assert to_stdout.stdout == httpx.get(f"{base}/api/v1/export/alerts.csv", params={"state": "cleared"}).content
    # a refused export says why and leaves no file behind
    refused = gridwatch("export", "history", "--api-url", base, "--from", "0", "--to", "99999999", "-o", str(out) + "2")
    assert refused.returncode == 1 and b"366 days" in refused.stderr
    assert not list(tmp_path.glob("temps.csv2*")) and not list(tmp_path.glob(".temps.csv2*"))
    wrong = gridwatch("export", "alerts", "--api-url", base, "--type", "power")
    assert wrong.returncode == 2 and b"does not take type" in wrong.stderr
