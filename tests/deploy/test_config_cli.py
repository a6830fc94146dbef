"""`linkwatch config check|show|reference`: what an operator sees for good and bad files."""

from __future__ import annotations

import json
import shutil
import tomllib
from pathlib import Path

import pytest

from service.cli.app import run
from service.config_tools import (
    BEGIN,
    END,
    check_config,
    key_lines,
    reference_markdown,
    reference_rows,
)
from service.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def write(tmp_path: Path, text: str, name: str = "linkwatch.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- check


def test_valid_files_are_ok(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    secret = write(tmp_path, "s3cr3t\n", "token")
    shipped = tmp_path / "shipped.toml"
    shutil.copy(ROOT / "config" / "linkwatch.toml", shipped)
    for path in (
        shipped,
        write(tmp_path, f'[web]\nenabled = true\ntoken_file = "{secret}"\n'),
    ):
        code, out, err = cli(capsys, "config", "check", str(path))
        assert (code, err) == (0, ""), (path, err)
        assert out.strip() == f"{path}: ok"


def test_unknown_key_is_reported_with_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "# my config\n\n[checks]\ntimeout_s = 5\ntimout_s = 3\n")
    code, out, err = cli(capsys, "config", "check", str(path))
    assert code == 2 and out == ""
    assert f"{path}:5: checks.timout_s: unknown key" in err.splitlines()
    assert err.splitlines()[-1] == f"linkwatch: {path}: 1 error"


def test_unknown_section_points_at_its_header(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, 'log_level = "INFO"\n\n[chekcs]\ntimeout_s = 5\n')
    code, _, err = cli(capsys, "config", "check", str(path))
    assert code == 2
    assert f"{path}:3: chekcs: unknown key" in err


def test_wrong_type_and_range(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(
        tmp_path,
        '[checks]\nconcurrency = 4\ntimeout_s = "soon"\n\n[web]\nport = 70000\n',
    )
    code, _, err = cli(capsys, "config", "check", str(path))
    assert code == 2
    lines = err.splitlines()
    assert any(
        line.startswith(f"{path}:3: checks.timeout_s: Input should be a valid number")
        for line in lines
    )
    assert any(
        line.startswith(f"{path}:6: web.port: Input should be less than or equal to 65535")
        for line in lines
    )
    assert lines[-1] == f"linkwatch: {path}: 2 errors"


def test_missing_secret_file_and_other_errors_in_one_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "absent"
    path = write(
        tmp_path,
        f'[wayback]\naccess_key_file = "{missing}"\n\n[monitor]\ntick_s = -1\n',
    )
    code, _, err = cli(capsys, "config", "check", str(path))
    assert code == 2
    assert (
        f"{path}:2: wayback.access_key_file: cannot read secret file '{missing}': "
        "No such file or directory" in err
    )
    assert f"{path}:5: monitor.tick_s: Input should be greater than 0" in err


def test_invalid_toml_reports_the_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "[checks]\ntimeout_s = 5\nretries = \n")
    code, _, err = cli(capsys, "config", "check", str(path))
    assert code == 2
    assert err.startswith(f"{path}:3: (syntax): not valid TOML")
    assert "Traceback" not in err


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "config", "check", str(tmp_path / "nope.toml"))
    assert code == 2
    assert f"{tmp_path / 'nope.toml'}: no such configuration file" in err


def test_errors_inside_arrays_of_tables_and_multiline_values(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[checks]\nresolve = [\n  "a.example:127.0.0.2",\n  "b.example:not-an-ip",\n]\n\n'
        '[[articles]]\nsource = "a.md"\n\n[[articles]]\ntags = ["x"]\n\n'
        '[[articles]]\nsource = "c.md"\npublished = "someday"\n\n'
        '[alerts.channels.ops]\nurl = "json://127.0.0.1/"\nevents = ["broken", "exploded"]\n',
    )
    found = {(p.key, p.line) for p in check_config(path)}
    assert ("checks.resolve", 2) in found  # the line that opens the multi-line array
    assert ("articles.1.source", 10) in found  # a missing key: its [[articles]] header
    assert ("articles.2.published", 15) in found
    assert ("alerts.channels.ops.events", 19) in found


def test_default_file_comes_from_linkwatch_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "[web]\nport = 0\n")
    monkeypatch.setenv("LINKWATCH_CONFIG", str(path))
    code, _, err = cli(capsys, "config", "check")
    assert code == 2
    assert f"{path}:2: web.port" in err


def test_env_is_applied_only_on_request(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "[checks]\ntimeout_s = 5\n")
    monkeypatch.setenv("LINKWATCH_CHECKS__RETRIES", "many")
    assert cli(capsys, "config", "check", str(path))[0] == 0
    code, _, err = cli(capsys, "config", "check", "--env", str(path))
    assert code == 2
    # Not in the file: no line, but the variable it came from.
    assert (
        f"{path}: checks.retries: Input should be a valid integer, "
        "unable to parse string as an integer (from $LINKWATCH_CHECKS__RETRIES)" in err
    )


def test_key_lines_handles_dotted_keys_and_inline_tables() -> None:
    text = (
        'log_level = "INFO"\n'
        "checks.timeout_s = 4\n"
        "[alerts]\n"
        'channels = { ops = { url = "json://x/" } }\n'
        "[monitor]\n"
        "suspect_retry_h = [\n  1.0,\n  6.0,\n]\n"
        "tick_s = 3\n"
    )
    lines = key_lines(text)
    assert lines[("log_level",)] == 1
    assert lines[("checks", "timeout_s")] == 2
    assert lines[("alerts", "channels", "ops", "url")] == 4
    assert lines[("monitor", "suspect_retry_h")] == 6
    assert lines[("monitor", "tick_s")] == 10


# --------------------------------------------------------------------------- show


SECRETS = {
    "DATABASE_URL": "postgresql+psycopg://linkwatch:pg-Pa55word@db.internal:5432/linkwatch",
    "LINKWATCH_ALERTS__CHANNELS__OPS__URL": "mailtos://bob:mail-Pa55@smtp.example.org?to=me@example.org",
    "LINKWATCH_WEB__TOKEN": "web-T0ken",
    "LINKWATCH_WAYBACK__ACCESS_KEY": "ia-Acce55",
}


def test_show_masks_every_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    secret_file = write(tmp_path, "ia-Secr3t\n", "wb_secret")
    path = write(
        tmp_path, f'[wayback]\nsecret_key_file = "{secret_file}"\n[checks]\ntimeout_s = 7.5\n'
    )
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    code, out, err = cli(capsys, "config", "show", str(path))
    assert (code, err) == (0, "")
    code, out_json, _ = cli(capsys, "config", "show", "--json", str(path))
    assert code == 0
    for text in (out, out_json):
        for secret in ("pg-Pa55word", "mail-Pa55", "bob", "web-T0ken", "ia-Acce55", "ia-Secr3t"):
            assert secret not in text
    data = json.loads(out_json)
    assert (
        data["database"]["url"] == "postgresql+psycopg://linkwatch:***@db.internal:5432/linkwatch"
    )
    assert data["alerts"]["channels"]["ops"]["url"] == "mailtos://***"
    assert data["web"]["token"] == "***"
    assert data["wayback"]["secret_key"] == "***"
    assert data["checks"]["timeout_s"] == 7.5  # from the file
    # The TOML form is valid TOML with the same content (unset keys are comments).
    parsed = tomllib.loads(out)
    assert parsed["database"] == data["database"]
    assert parsed["alerts"]["channels"] == data["alerts"]["channels"]
    assert "# reminder_days = (not set)" in out


def test_show_round_trips_through_the_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cli(capsys, "config", "show", str(ROOT / "config" / "linkwatch.toml"))
    assert code == 0
    again = write(tmp_path, out)
    assert check_config(again) == []
    from service.settings import load_settings

    assert load_settings(again, env={}) == load_settings(ROOT / "config" / "linkwatch.toml", env={})


def test_show_invalid_config_is_one_line_per_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "[web]\nport = -1\n")
    code, out, err = cli(capsys, "config", "show", str(path))
    assert code == 2 and out == ""
    assert "web.port" in err and "Traceback" not in err


# --------------------------------------------------------------------------- reference


def _leaf_fields(model: type, prefix: str = "") -> list[str]:
    from pydantic import BaseModel

    out = []
    for name, info in model.model_fields.items():  # type: ignore[attr-defined]
        ann = info.annotation
        args = getattr(ann, "__args__", ())
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            out += _leaf_fields(ann, f"{prefix}{name}.")
        elif args and isinstance(args[-1], type) and issubclass(args[-1], BaseModel):
            inner = (
                f"{prefix}{name}.<name>." if str(ann).startswith("dict") else f"{prefix}{name}[]."
            )
            out += _leaf_fields(args[-1], inner)
        else:
            out.append(prefix + name)
    return out


def test_every_settings_field_is_documented() -> None:
    doc = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    block = doc.split(BEGIN, 1)[1].split(END, 1)[0].strip("\n") + "\n"
    assert block == reference_markdown(), (
        "docs/configuration.md is out of date: run "
        ".venv/bin/python -m service.config_tools docs/configuration.md"
    )
    rows = {row.key: row for row in reference_rows()}
    for key in _leaf_fields(Settings):
        assert f"| `{key}`" in block, f"{key} is not documented"
        assert rows[key].description, f"{key} has no description: add description= or a NOTES entry"
    assert rows["checks.timeout_s"].env == "LINKWATCH_CHECKS__TIMEOUT_S"
    assert rows["checks.timeout_s"].default == "`20.0`"
    assert rows["alerts.channels.<name>.url"].env == "LINKWATCH_ALERTS__CHANNELS__<NAME>__URL"
    assert rows["web.token"].secret


def test_reference_command_prints_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "config", "reference")
    assert code == 0
    assert out == reference_markdown()
