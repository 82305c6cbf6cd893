"""Settings from defaults, a TOML file, TERTULIA_* variables and flags, in that order."""

from __future__ import annotations

from pathlib import Path

import pytest

from tertulia import config
from tertulia.config import ConfigError, Settings


def test_defaults_are_the_original_systems_address() -> None:
    settings = config.load(env={})
    assert (settings.host, settings.port) == ("127.0.0.1", 5000)
    assert settings.max_message_bytes == 512 and settings.default_room == "#lobby"


def test_flags_beat_environment_beat_file(tmp_path: Path) -> None:
    path = tmp_path / "t.toml"
    path.write_text('port = 6000\nserver_name = "file"\nlog-level = "debug"\n')
    env = {"TERTULIA_PORT": "7000", "TERTULIA_CONFIG": str(path)}
    assert config.load(env=env).port == 7000
    assert config.load(env=env).server_name == "file"
    assert config.load(env=env).log_level == "debug"
    assert config.load({"port": 8000}, env=env).port == 8000
    assert config.load(env={"TERTULIA_PORT": "7000"}, config_file=str(path)).server_name == "file"


def test_a_server_table_and_typed_values(tmp_path: Path) -> None:
    path = tmp_path / "t.toml"
    path.write_text(
        '[server]\npersistent_rooms = ["#a", "#b"]\nlog_json = true\nidle_flush = 0.5\n'
    )
    settings = config.load(env={}, config_file=str(path))
    assert settings.persistent_rooms == ("#a", "#b") and settings.log_json is True
    assert settings.idle_flush == 0.5
    assert settings.limits().persistent_rooms == ("#lobby", "#a", "#b")
    env = {"TERTULIA_PERSISTENT_ROOMS": "#x, #y", "TERTULIA_LOG_JSON": "yes"}
    from_env = config.load(env=env)
    assert from_env.persistent_rooms == ("#x", "#y") and from_env.log_json is True


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"env": {"TERTULIA_PORT": "many"}}, "TERTULIA_PORT: bad value 'many' for port"),
        ({"env": {"TERTULIA_LOG_JSON": "perhaps"}}, "bad value 'perhaps' for log_json"),
        ({"env": {}, "flags": {"port": 70000}}, "between 0 and 65535"),
        ({"env": {}, "flags": {"max_line_bytes": 100}}, "max_line_bytes must not be below"),
        ({"env": {}, "flags": {"log_level": "loud"}}, "unknown log level 'loud'"),
        ({"env": {}, "config_file": "/nonexistent/t.toml"}, "cannot read /nonexistent/t.toml"),
    ],
)
def test_bad_values_are_one_clear_line(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config.load(**kwargs)  # type: ignore[arg-type]
    assert message in caught.value.render()


def test_bad_files(tmp_path: Path) -> None:
    unknown = tmp_path / "u.toml"
    unknown.write_text("colour = 'red'\n")
    with pytest.raises(ConfigError, match="unknown setting 'colour'"):
        config.load(env={}, config_file=str(unknown))
    broken = tmp_path / "b.toml"
    broken.write_text("port = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        config.load(env={}, config_file=str(broken))
    wrong = tmp_path / "w.toml"
    wrong.write_text("port = true\n")
    with pytest.raises(ConfigError, match="bad value True for port"):
        config.load(env={}, config_file=str(wrong))


def test_every_setting_has_help() -> None:
    for field in config.FIELDS.values():
        assert field.metadata.get("help"), field.name
    assert isinstance(Settings(), Settings)
