import io

import pytest

from pytake import cli
from pytake.cli import common


def test_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit) as caught:
        cli.main(["--help"])
    assert caught.value.code == 0
    out = capsys.readouterr().out
    for command in ("run", "migrate", "check", "init", "user"):
        assert command in out


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["init", "--org", "Acme"],
        ["user", "add", "--org", "Acme", "--email", "a@b.co"],
        ["user", "frobnicate"],
        ["run", "--port", "eighty"],
    ],
)
def test_bad_arguments_exit_2_with_usage(argv, capsys):
    with pytest.raises(SystemExit) as caught:
        cli.main(argv)
    assert caught.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_bad_setting_is_one_line_and_exit_2(settings_env, capsys):
    settings_env(database_url="mysql://x/y")
    assert cli.main(["migrate"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("pytake: error: PYTAKE_DATABASE_URL:")
    assert err.count("\n") == 1


def test_password_sources(monkeypatch):
    monkeypatch.delenv(common.PASSWORD_ENV, raising=False)
    assert common.read_password("given", confirm=True) == "given"
    monkeypatch.setenv(common.PASSWORD_ENV, "from-env")
    assert common.read_password(None, confirm=True) == "from-env"
    monkeypatch.setattr("sys.stdin", io.StringIO("from-stdin\n"))
    assert common.read_password("-", confirm=True) == "from-stdin"
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    with pytest.raises(common.CommandError):
        common.read_password("-", confirm=True)
