"""Settings from the environment: sandbox defaults, and refusal to start when incomplete."""

from __future__ import annotations

import pytest

from channels.whatsapp import WhatsAppInput
from channels.whatsapp.config import (
    GRAPH_API_URL,
    SANDBOX_API_URL,
    WhatsAppConfig,
    WhatsAppConfigError,
    load_config,
)

PRODUCTION = {
    "WHATSAPP_ACCESS_TOKEN": "EAAG-real-token",
    "WHATSAPP_PHONE_NUMBER_ID": "106540352242922",
    "WHATSAPP_APP_SECRET": "app-secret",
    "WHATSAPP_VERIFY_TOKEN": "verify-me",
}


def test_sandbox_with_nothing_set() -> None:
    config = load_config({})
    assert config == WhatsAppConfig.sandbox_defaults()
    assert config.sandbox
    assert (config.access_token, config.phone_number_id, config.app_secret,
            config.verify_token, config.api_url) == (
        "sandbox-token", "sandbox-phone-id", "sandbox-secret", "sandbox-verify",
        SANDBOX_API_URL)
    assert config.template_name is None


def test_sandbox_accepts_overrides() -> None:
    config = load_config({"WHATSAPP_API_URL": "http://127.0.0.1:9999/v21.0/",
                          "WHATSAPP_APP_SECRET": "x", "WHATSAPP_ACCESS_TOKEN": "  "})
    assert config.sandbox and config.app_secret == "x"
    assert config.api_url == "http://127.0.0.1:9999/v21.0"


def test_production() -> None:
    config = load_config({**PRODUCTION, "WHATSAPP_TEMPLATE_NAME": "retomar_conversacion"})
    assert not config.sandbox
    assert config.api_url == GRAPH_API_URL == "https://graph.facebook.com/v21.0"
    assert config.template_name == "retomar_conversacion"
    assert config.template_language == "es"


@pytest.mark.parametrize("missing", sorted(set(PRODUCTION) - {"WHATSAPP_ACCESS_TOKEN"}))
def test_token_without_the_rest_refuses_to_start(missing: str) -> None:
    env = {k: v for k, v in PRODUCTION.items() if k != missing}
    with pytest.raises(WhatsAppConfigError, match=missing):
        load_config(env)


def test_channel_from_credentials_refuses_to_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WHATSAPP_ACCESS_TOKEN", "token")
    with pytest.raises(WhatsAppConfigError, match="WHATSAPP_APP_SECRET"):
        WhatsAppInput.from_credentials(None)


def test_channel_from_credentials_in_sandbox() -> None:
    channel = WhatsAppInput.from_credentials(None)
    assert channel.name() == "whatsapp" and channel.url_prefix() == "whatsapp"
    assert channel.config.sandbox
    assert channel.get_output_channel().name() == "whatsapp"


def test_bad_api_url() -> None:
    with pytest.raises(WhatsAppConfigError):
        load_config({"WHATSAPP_API_URL": "graph.facebook.com"})


def test_repr_hides_secrets() -> None:
    text = repr(load_config(PRODUCTION))
    assert "EAAG" not in text and "app-secret" not in text and "verify-me" not in text


@pytest.mark.parametrize("name", ["WHATSAPP_ACCESS_TOKEN", "WHATSAPP_APP_SECRET",
                                  "WHATSAPP_VERIFY_TOKEN"])
def test_real_mode_refuses_the_public_sandbox_secrets(name: str) -> None:
    sandbox_value = {"WHATSAPP_ACCESS_TOKEN": "sandbox-token",
                     "WHATSAPP_APP_SECRET": "sandbox-secret",
                     "WHATSAPP_VERIFY_TOKEN": "sandbox-verify"}[name]
    with pytest.raises(WhatsAppConfigError, match=name):
        load_config({**PRODUCTION, name: sandbox_value})


@pytest.mark.parametrize("url", ["http://graph.facebook.com/v21.0", "http://10.0.0.5:8090/v21.0",
                                 "http://stand-in.example/v21.0", "http://[::ffff:8.8.8.8]/x"])
def test_real_mode_refuses_http_off_this_machine(url: str) -> None:
    with pytest.raises(WhatsAppConfigError, match="https"):
        load_config({**PRODUCTION, "WHATSAPP_API_URL": url})


@pytest.mark.parametrize("url", ["http://127.0.0.1:8090/v21.0", "http://localhost:9/v21.0",
                                 "http://127.5.0.1/v21.0", "http://[::1]:8090/v21.0",
                                 "https://graph.example.org/v21.0"])
def test_real_mode_accepts_https_and_a_local_stand_in(url: str) -> None:
    config = load_config({**PRODUCTION, "WHATSAPP_API_URL": url})
    assert not config.sandbox and config.api_url == url


def test_sandbox_may_use_http_anywhere() -> None:
    assert load_config({"WHATSAPP_API_URL": "http://10.0.0.5:8090/v21.0"}).sandbox
