import os
import stat

import pytest

from pytake.settings import SettingsError, get_settings, normalize_database_url


def test_defaults_are_the_embedded_mode(settings_env):
    settings_env(database_url=None, redis_url=None, secret_key=None)
    settings = get_settings()
    assert settings.database_url == "sqlite:///pytake.db"
    assert settings.redis_url is None
    assert not settings.production
    assert settings.graph_api_url == "https://graph.facebook.com"
    assert settings.graph_api_version == "v26.0"
    assert settings.port == 3000


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@db/pytake", "postgresql+psycopg://u:p@db/pytake"),
        ("postgresql://u@db:5433/pytake", "postgresql+psycopg://u@db:5433/pytake"),
        ("postgresql+psycopg://u@db/x", "postgresql+psycopg://u@db/x"),
        ("sqlite:////var/lib/pytake.db", "sqlite:////var/lib/pytake.db"),
    ],
)
def test_database_urls_are_normalized(given, expected):
    assert normalize_database_url(given) == expected


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("database_url", "mysql://root@db/x", "PYTAKE_DATABASE_URL: unsupported scheme 'mysql'"),
        ("database_url", "postgresql://db", "PYTAKE_DATABASE_URL: the PostgreSQL URL names no"),
        ("database_url", "sqlite://relative.db", "PYTAKE_DATABASE_URL: use sqlite:///"),
        ("redis_url", "http://cache:6379", "PYTAKE_REDIS_URL: use redis://"),
        ("graph_api_url", "graph.facebook.com", "PYTAKE_GRAPH_API_URL: use an absolute"),
        ("graph_api_version", "26", "PYTAKE_GRAPH_API_VERSION: use Meta's form"),
        ("port", "http", "PYTAKE_PORT:"),
        ("port", "70000", "PYTAKE_PORT:"),
        ("secret_key", "short", "PYTAKE_SECRET_KEY: use at least 32"),
        ("log_level", "loud", "PYTAKE_LOG_LEVEL:"),
        ("webhook_max_bytes", "100", "PYTAKE_WEBHOOK_MAX_BYTES:"),
        ("media_max_bytes", "lots", "PYTAKE_MEDIA_MAX_BYTES:"),
        ("media_hosts", "https://cdn.example", "PYTAKE_MEDIA_HOSTS: use comma-separated host"),
        ("job_max_attempts", "0", "PYTAKE_JOB_MAX_ATTEMPTS:"),
        ("run_workers", "perhaps", "PYTAKE_RUN_WORKERS:"),
    ],
)
def test_a_wrong_value_names_its_variable_in_one_line(settings_env, name, value, fragment):
    settings_env(**{name: value})
    with pytest.raises(SettingsError) as caught:
        get_settings()
    message = str(caught.value)
    assert fragment in message
    assert "\n" not in message and "Traceback" not in message


def test_production_mode_requires_a_secret_key(settings_env):
    settings_env(redis_url="redis://127.0.0.1:6379/0", secret_key=None)
    with pytest.raises(SettingsError, match="PYTAKE_SECRET_KEY is required in production"):
        get_settings()
    settings_env(secret_key="k" * 40)
    assert get_settings().production


def test_several_workers_need_redis(settings_env):
    settings_env(workers="3", redis_url=None)
    with pytest.raises(SettingsError, match="PYTAKE_WORKERS: more than one worker needs"):
        get_settings()
    settings_env(redis_url="redis://127.0.0.1:6379/0", secret_key="k" * 40)
    assert get_settings().workers == 3


def test_the_pipeline_is_never_left_without_workers(settings_env):
    settings_env(redis_url=None, run_workers="false")
    with pytest.raises(SettingsError, match="PYTAKE_RUN_WORKERS=false needs PYTAKE_REDIS_URL"):
        get_settings()


def test_generated_secret_key_is_kept_private_and_reused(settings_env, tmp_path):
    settings_env(secret_key=None, redis_url=None, data_dir=str(tmp_path / "data"))
    first = get_settings().resolved_secret_key()
    path = tmp_path / "data" / "secret_key"
    assert len(first) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert get_settings().resolved_secret_key() == first


def test_dotenv_file_is_read(settings_env, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("PYTAKE_GRAPH_API_VERSION=v25.0\nPYTAKE_PORT=8123\n")
    monkeypatch.delenv("PYTAKE_PORT", raising=False)
    settings_env(graph_api_version=None)
    assert get_settings().graph_api_version == "v25.0"
    assert get_settings().port == 8123
    assert os.environ.get("PYTAKE_PORT") is None  # read, not exported


def test_media_is_downloaded_only_from_meta_and_the_graph_host(settings_env, tmp_path):
    settings_env(
        graph_api_url="http://127.0.0.1:9000/sandbox/graph",
        media_hosts=" Lookaside.fbsbx.com , cdn.example.net",
        data_dir=str(tmp_path),
        media_dir=None,
    )
    settings = get_settings()
    assert settings.media_download_hosts == {
        "lookaside.fbsbx.com",
        "cdn.example.net",
        "127.0.0.1:9000",
    }
    assert settings.media_root == tmp_path / "media"
