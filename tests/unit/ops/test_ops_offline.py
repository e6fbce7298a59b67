"""The SRE commands' offline parts: redaction, configuration view and validation, dead-letter files and targets."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import msgspec
import pytest
from gridwatch.cli import app
from gridwatch.common.settings import CommonSettings
from gridwatch.ops import configview, dlq
from gridwatch.ops.redact import redact
from typer.testing import CliRunner


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("redis://:s3cret@redis:6379/0", "redis://:****@redis:6379/0"),
        (
            "postgresql://gw:p%40ss@db:5432/gridwatch?sslmode=require",
            "postgresql://gw:****@db:5432/gridwatch?sslmode=require",
        ),
        ("host=db user=gw password='a b' dbname=x", "host=db user=gw password=**** dbname=x"),
        ("redis://redis:6379/0", "redis://redis:6379/0"),
    ],
)
def test_redact_hides_passwords_only(text: str, shown: str) -> None:
    assert redact(text) == shown


def test_config_show_names_variables_masks_secrets_and_tells_the_source(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDWATCH_REDIS_PASSWORD", "hunter2")
    monkeypatch.setenv("GRIDWATCH_PROC_Z_ANOMALY", "7.5")
    found = {s.env: s for s in configview.show("processor")}
    assert found["GRIDWATCH_REDIS_PASSWORD"].value == "****"
    assert found["GRIDWATCH_REDIS_PASSWORD"].source == "env"
    assert found["GRIDWATCH_PROC_Z_ANOMALY"].value == 7.5  # an alias is the whole variable name
    assert found["GRIDWATCH_PROC_Z_ANOMALY"].source == "env"
    assert found["GRIDWATCH_KAFKA_BOOTSTRAP"].source == "default"
    assert "hunter2" not in json.dumps([s.value for s in found.values()], default=str)


def test_every_variable_config_show_names_is_one_the_workload_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Setting each shown variable (to its own shown value) must mark it as coming from the env: no invented names."""
    for workload in ("processor", "history", "api", "forecaster"):
        for s in configview.show(workload):
            if s.source == "default" and isinstance(s.value, int | float | str) and not isinstance(s.value, bool):
                if s.value in ("", "****"):
                    continue
                monkeypatch.setenv(s.env, str(s.value))
                again = {x.env: x for x in configview.show(workload)}
                assert again[s.env].source == "env", (workload, s.env)
                monkeypatch.delenv(s.env)


def test_config_validate_names_the_bad_variable_and_never_echoes_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDWATCH_PARTITIONS", "many")
    monkeypatch.setenv("GRIDWATCH_PROC_WARNING_PROBABILITY", "2")
    problems = {p.env: p for p in configview.validate("processor")}
    assert set(problems) == {"GRIDWATCH_PARTITIONS", "GRIDWATCH_PROC_WARNING_PROBABILITY"}
    assert problems["GRIDWATCH_PARTITIONS"].value == "many"
    monkeypatch.delenv("GRIDWATCH_PARTITIONS")
    monkeypatch.delenv("GRIDWATCH_PROC_WARNING_PROBABILITY")
    monkeypatch.setenv("GRIDWATCH_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("GRIDWATCH_KAFKA_SASL_USERNAME", "gw")
    (problem,) = configview.validate("history")
    assert problem.env == "(settings)" and "GRIDWATCH_KAFKA_SASL_PASSWORD" in problem.message
    assert configview.validate("history") != []
    monkeypatch.setenv("GRIDWATCH_KAFKA_SASL_PASSWORD", "x")
    assert configview.validate("history") == []


def test_config_cli_exit_codes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["config", "validate", "api"]).exit_code == 0
    assert runner.invoke(app, ["config", "validate", "nope"]).exit_code == 2
    env_file = tmp_path / "site.env"
    env_file.write_text("GRIDWATCH_SITE=Bad_Name\n")
    bad = runner.invoke(app, ["config", "validate", "history", "--env-file", str(env_file)])
    assert bad.exit_code == 2 and "GRIDWATCH_SITE" in bad.output
    shown = runner.invoke(app, ["config", "show", "history", "--json"])
    assert shown.exit_code == 0 and json.loads(shown.output)["GRIDWATCH_SITE"] == {
        "value": "local",
        "source": "default",
    }


def _letter(payload: bytes) -> dlq.DeadLetter:
    return dlq.DeadLetter(2, 41, 1_700_000_000_000, "k", "timestamp out of range", "s.readings", 1, 9, payload)


def test_dead_letters_round_trip_through_the_json_lines_file(tmp_path: Path) -> None:
    settings = CommonSettings(site="s")
    batch = {"msg": "readings", "schema_version": 1, "values": [1.5]}
    letters = [_letter(msgspec.msgpack.encode(batch)), _letter(b'{"a": 1}'), _letter(b"\xff\x00garbage")]
    assert [x.encoding for x in letters] == ["msgpack", "json", "binary"]
    path = tmp_path / "fixed.jsonl"
    lines = [x.as_json() for x in letters]
    lines[0]["payload"]["values"] = [2.5]  # what a person fixing a letter does
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    replays = dlq.from_file(settings, path)
    assert msgspec.msgpack.decode(replays[0].payload) == {**batch, "values": [2.5]}
    assert json.loads(replays[1].payload) == {"a": 1}
    assert replays[2].payload == b"\xff\x00garbage"
    assert {r.topic for r in replays} == {"s.readings"} and {r.origin for r in replays} == {"2:41"}
    assert lines[2]["payload_b64"] == base64.b64encode(b"\xff\x00garbage").decode()


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ("{not json", "fixed.jsonl:2"),
        ('{"origin_topic": "s.readings"}', "neither payload nor payload_b64"),
        ('{"origin_topic": "s.dlq", "payload": {}}', "dead-letter topic itself"),
        ('{"origin_topic": "other.readings", "payload": {}}', "not one of site s's topics"),
        ('{"payload": {}}', "pass --to"),
        ('{"origin_topic": "s.readings", "payload_b64": "***"}', "fixed.jsonl:2"),
    ],
)
def test_a_bad_replay_file_names_the_line_and_publishes_nothing(tmp_path: Path, line: str, error: str) -> None:
    path = tmp_path / "fixed.jsonl"
    path.write_text('{"origin_topic": "s.readings", "payload": {"ok": true}}\n' + line + "\n")
    with pytest.raises(dlq.DlqError, match=error.replace(".", r"\.")):
        dlq.from_file(CommonSettings(site="s"), path)


def test_replay_needs_exactly_one_selection() -> None:
    result = CliRunner().invoke(app, ["dlq", "replay", "--reason", "x", "--offset", "0:1"])
    assert result.exit_code == 2 and "exactly one" in result.output
