from pathlib import Path

import pytest

from bot.settings import Settings, SettingsError


def test_defaults_work_on_a_laptop():
    s = Settings.from_env({})
    assert s.rasa_port == 5005 and s.action_port == 5055
    assert s.tracker_url == f"sqlite:///{s.var_dir / 'tracker.db'}"
    assert s.rasa_url == "http://127.0.0.1:5005"


def test_environment_overrides_with_types(tmp_path):
    s = Settings.from_env(
        {"BOT_RASA_PORT": "6000", "BOT_REPLY_DEADLINE_S": "2.5", "BOT_VAR_DIR": str(tmp_path)}
    )
    assert s.rasa_port == 6000
    assert s.reply_deadline_s == 2.5
    assert s.var_dir == Path(tmp_path).resolve()
    assert s.tracker_url == f"sqlite:///{Path(tmp_path).resolve() / 'tracker.db'}"


def test_postgres_by_one_variable():
    url = "postgresql://bot:secret@db:5432/larkspur"
    assert Settings.from_env({"BOT_TRACKER_URL": url}).tracker_url == url


@pytest.mark.parametrize(
    "env, message",
    [
        ({"BOT_RASA_PORT": "five"}, "BOT_RASA_PORT must be a whole number"),
        ({"BOT_MAX_MESSAGE_CHARS": "0"}, "BOT_MAX_MESSAGE_CHARS must be at least 1"),
        ({"BOT_REPLY_DEADLINE_S": "-1"}, "deadlines must be positive"),
    ],
)
def test_bad_values_fail_at_start_with_a_clear_message(env, message):
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)


def test_settings_are_frozen():
    with pytest.raises(Exception):
        Settings.from_env({}).rasa_port = 1
