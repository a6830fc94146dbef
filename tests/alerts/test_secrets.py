"""Secrets of channel URLs never appear in logs, stored errors, `alerts list` or `alerts test`."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from service.alerts import dispatch
from service.alerts.channels import ChannelError, build_channel
from service.alerts.secrets import SecretMasker, mask, secret_fragments
from service.cli.app import run
from tests.alerts.conftest import (
    HEADER_TOKEN,
    HOOK_TOKEN,
    SECRETS,
    SMTP_PASSWORD,
    T0,
    World,
    alerts,
    channel,
    hook_url,
    mail_url,
)
from tests.support.smtp_sink import SmtpSink
from tests.support.webhook import WebhookReceiver


def _assert_clean(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text
        assert secret[:12] not in text  # not even a recognisable part of it


async def test_secrets_never_reach_logs_or_stored_errors(
    world: World, smtp: SmtpSink, hook: WebhookReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # everything, urllib3 and Apprise debug output included
    world.article("posts/a.md", "A", [("https://example.org/x", "x")])
    at = world.kill("https://example.org/x", T0)
    hook.fail(500)
    wrong = mail_url(smtp, password=SMTP_PASSWORD[:-1] + "X")  # refused by the server
    cfg = alerts({"mail": channel(wrong), "hook": channel(hook_url(hook))})
    stats = await dispatch(world.db, cfg, at, worker="w1")
    assert stats.retrying == 2
    assert smtp.auth_failures >= 1 and len(hook.requests) == 1
    # The receiver did get the secrets (they are really in use) ...
    assert HOOK_TOKEN in hook.requests[0].path
    assert hook.requests[0].headers["Authorization"] == f"Bearer {HEADER_TOKEN}"
    # ... and they appear nowhere else.
    errors = [n.error or "" for n in world.notifications()]
    assert any("500" in e for e in errors)  # the reason survives masking
    assert all(e.startswith(("channel mail:", "channel hook:")) for e in errors)
    for text in [caplog.text, *errors, *stats.errors.values()]:
        _assert_clean(text)
        assert SMTP_PASSWORD[:-1] + "X" not in text


def test_cli_list_and_test_never_print_secrets(
    tmp_path: Path, smtp: SmtpSink, hook: WebhookReceiver, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "linkwatch.toml"
    secret_file = tmp_path / "hook-url"
    secret_file.write_text(hook_url(hook) + "\n")
    config.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path}/lw.db"\n'
        f'[alerts.channels.mail]\nurl = "{mail_url(smtp)}"\n'
        f'[alerts.channels.hook]\nurl_file = "{secret_file}"\n'
    )
    assert run(["alerts", "test", "--config", str(config)]) == 0
    out = capsys.readouterr()
    assert "mail  ok" in out.out and "hook  ok" in out.out
    assert len(smtp.messages) == 1 and "test message" in smtp.messages[0]["Subject"]
    assert len(hook.delivered) == 1

    hook.fail(500)
    assert run(["alerts", "test", "hook", "--config", str(config)]) == 1
    out = capsys.readouterr()
    assert "hook  failed: channel hook:" in out.out and "500" in out.out
    assert "1 of 1 channel(s) failed" in out.err

    assert run(["alerts", "list", "--config", str(config)]) == 0
    listing = capsys.readouterr().out
    assert "hook" in listing and "mail" in listing and "failed" in listing and "test" in listing
    assert "Outbox:" in listing
    for text in (out.out, out.err, listing):
        _assert_clean(text)


def test_cli_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "linkwatch.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{tmp_path}/lw.db"\n')
    assert run(["alerts", "test", "--config", str(config)]) == 2
    assert "no alert channels configured" in capsys.readouterr().err
    config.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path}/lw.db"\n'
        '[alerts.channels.ops]\nurl = "json://127.0.0.1:9/x"\n'
    )
    assert run(["alerts", "test", "nope", "--config", str(config)]) == 2
    assert capsys.readouterr().err.strip() == "linkwatch: unknown channel 'nope'; configured: ops"
    assert run(["alerts", "list", "--config", str(config)]) == 0
    assert "No delivery attempts yet." in capsys.readouterr().out
    assert run(["alerts", "list", "--limit", "0", "--config", str(config)]) == 2
    assert capsys.readouterr().err.strip() == "linkwatch: --limit must be at least 1 (got 0)"


def test_invalid_apprise_url_names_the_channel_not_the_url() -> None:
    with pytest.raises(ChannelError) as err:
        build_channel("ops", channel(f"nosuchscheme://user:{SMTP_PASSWORD}@host/{HOOK_TOKEN}"))
    assert "channel ops: not a usable Apprise URL" in str(err.value)
    _assert_clean(str(err.value))
    with pytest.raises(ChannelError, match="no url configured"):
        build_channel("ops", channel("").model_copy(update={"url": None}))


@pytest.mark.parametrize(
    ("url", "secrets", "public"),
    [
        (
            "mailtos://me:Pa55word-xyz@smtp.example.org?to=a@b.org",
            ["Pa55word-xyz"],
            ["smtp.example.org", "a@b.org"],
        ),
        (
            "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7F",
            ["T1JJ3T3L2", "A1BRTD4JD", "TIiajkdnlazkcOXrIdevi7F"],
            [],
        ),
        (
            "discord://4174216298/JHMHI8qBe7bk2ZwO5U711o3dV_js",
            ["4174216298", "JHMHI8qBe7bk2ZwO5U711o3dV_js"],
            [],
        ),
        ("tgram://123456789:AABBccDDeeFFgg/12315544", ["123456789:AABBccDDeeFFgg", "12315544"], []),
        ("ntfys://ntfy.example.org/alerts-topic-7h2k", ["alerts-topic-7h2k"], ["ntfy.example.org"]),
        (
            "json://hooks.example.org/hook?token=abcd1234efgh&+X-Api-Key=k3y-v4lue",
            ["abcd1234efgh", "k3y-v4lue"],
            ["hooks.example.org", "/hook"],
        ),
        ("pover://u7Xq5userkey@a9Tok3nValue", ["u7Xq5userkey", "a9Tok3nValue"], []),
    ],
)
def test_masking_removes_every_credential(url: str, secrets: list[str], public: list[str]) -> None:
    masker = SecretMasker([url])
    line = f"POST to {url} failed; token was {' and '.join(secrets)}; see {' '.join(public)}"
    masked = masker.mask(line)
    for secret in secrets:
        assert secret not in masked
    for word in public:
        assert word in masked
    assert secret_fragments(url) >= set(secrets)


def test_generic_masking_of_unknown_urls_and_key_values() -> None:
    text = mask(
        "failed https://bob:hunter2hunter@mail.example.org/x?api_key=SECRETVALUE1 token: abcdef123"
    )
    assert "hunter2hunter" not in text and "SECRETVALUE1" not in text and "abcdef123" not in text
    assert "https://bob:***@mail.example.org" in text


def test_masking_filter_scrubs_library_log_records(caplog: pytest.LogCaptureFixture) -> None:
    from service.alerts.secrets import install_log_masking, register_url

    register_url("json://example.org/hook/Zq8TokenPart0001")
    install_log_masking()
    caplog.set_level(logging.DEBUG)
    logging.getLogger("urllib3.connectionpool").debug(
        '"POST %s HTTP/1.1" 500', "/hook/Zq8TokenPart0001"
    )
    logging.getLogger("apprise").warning("failed for %s", "Zq8TokenPart0001")
    assert "Zq8TokenPart0001" not in caplog.text
    assert caplog.text.count("***") == 2
