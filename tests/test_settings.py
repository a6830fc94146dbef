"""The settings loader: file < environment < flags, secrets from files, named errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.settings import ConfigError, load_settings


def test_environment_overrides_the_file_and_flags_override_both(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[checks]\ntimeout_s = 7.0\nretries = 1\n", encoding="utf-8")
    env = {"LINKWATCH_CHECKS__TIMEOUT_S": "5", "DATABASE_URL": "sqlite:///x.db"}
    s = load_settings(config, env=env, overrides={"checks": {"retries": 0}})
    assert s.checks.timeout_s == 5.0
    assert s.checks.retries == 0
    assert s.database.url == "sqlite:///x.db"


def test_secrets_come_from_files(tmp_path: Path) -> None:
    secret = tmp_path / "token"
    secret.write_text("s3cret\n", encoding="utf-8")
    s = load_settings(None, env={"LINKWATCH_WEB__TOKEN_FILE": str(secret)})
    assert s.web.token is not None
    assert s.web.token.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(s)


def test_an_unknown_environment_variable_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(None, env={"LINKWATCH_TEST_PG_URL": "x"})
    assert err.value.errors == [
        "test_pg_url: unknown key (from the environment variable LINKWATCH_TEST_PG_URL)"
    ]


def test_a_missing_secret_file_and_a_bad_pin_fail_at_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read secret file"):
        load_settings(None, env={"LINKWATCH_WEB__TOKEN_FILE": str(tmp_path / "absent")})
    with pytest.raises(ConfigError, match="bad --resolve pin"):
        load_settings(None, env={"LINKWATCH_CHECKS__RESOLVE": "host-without-ip"})
