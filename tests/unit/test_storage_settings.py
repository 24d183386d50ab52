"""The conversation log's settings (bot/settings.py): where it lives, and the salt for senders."""

from pathlib import Path

import pytest

from bot.settings import Settings, SettingsError


def test_the_conversation_log_is_a_sqlite_file_apart_from_the_tracker_unless_told(tmp_path):
    s = Settings.from_env({"BOT_VAR_DIR": str(tmp_path)})
    assert s.log_url == f"sqlite:///{Path(tmp_path).resolve() / 'conversations.db'}"
    assert s.log_url != s.tracker_url and s.log_mask_pii is True
    url = "postgresql://bot:secret@db:5432/larkspur"
    s = Settings.from_env({"BOT_LOG_URL": url, "BOT_LOG_MASK_PII": "false"})
    assert s.log_url == url and s.log_mask_pii is False


def test_the_sender_salt_is_made_once_kept_private_and_never_made_by_a_reader(tmp_path):
    reader = Settings.from_env({"BOT_VAR_DIR": str(tmp_path)})
    assert reader.sender_salt(create=False) is None
    assert not (tmp_path / "log_salt").exists()

    salt = reader.sender_salt()
    assert len(salt) == 64
    assert (tmp_path / "log_salt").stat().st_mode & 0o777 == 0o600
    # Another process (the CLI, a restarted server) reads the same key.
    assert Settings.from_env({"BOT_VAR_DIR": str(tmp_path)}).sender_salt(create=False) == salt
    assert Settings.from_env({"BOT_VAR_DIR": str(tmp_path)}).sender_salt() == salt
    assert [p.name for p in tmp_path.iterdir()] == ["log_salt"]  # nothing left aside


def test_a_salt_from_the_environment_wins_and_no_file_is_made(tmp_path):
    s = Settings.from_env({"BOT_VAR_DIR": str(tmp_path), "BOT_LOG_SALT": "from-a-vault"})
    assert s.sender_salt() == "from-a-vault"
    assert not (tmp_path / "log_salt").exists()


def test_an_emptied_salt_file_stops_the_bot_instead_of_hashing_with_nothing(tmp_path):
    (tmp_path / "log_salt").write_text("\n")
    with pytest.raises(SettingsError, match="log_salt is empty"):
        Settings.from_env({"BOT_VAR_DIR": str(tmp_path)}).sender_salt()


def test_the_log_deadline_must_be_positive():
    with pytest.raises(SettingsError, match="deadlines must be positive"):
        Settings.from_env({"BOT_LOG_DEADLINE_S": "0"})
