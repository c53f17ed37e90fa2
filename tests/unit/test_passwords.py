import pytest

from pytake.auth import passwords
from pytake.auth.errors import AccessError


def test_hash_is_argon2id_and_verifies():
    hashed = passwords.hash_password("correct horse battery")
    assert hashed.startswith("$argon2id$")
    assert passwords.verify_password(hashed, "correct horse battery")
    assert not passwords.verify_password(hashed, "correct horse batterY")
    assert hashed != passwords.hash_password("correct horse battery")  # salted


def test_missing_or_garbage_hash_never_verifies():
    assert not passwords.verify_password(None, "pytake-timing-equalizer")
    assert not passwords.verify_password("not-a-hash", "anything")


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("short1", "password.too_short"),
        ("a" * 257, "password.too_long"),
        ("Ana.Silva@Acme.com", "password.is_email"),
        ("ana.silva@acme.com", "password.is_email"),
        ("ANA.SILVA", "password.too_short"),
        ("aaaaaaaaaaaa", "password.too_simple"),
        ("abababababab", "password.too_simple"),
    ],
)
def test_password_rule(password, code):
    with pytest.raises(AccessError) as caught:
        passwords.check_password_rule(password, "ana.silva@acme.com")
    assert caught.value.code == code


def test_password_equal_to_the_mail_local_part_is_refused():
    with pytest.raises(AccessError, match="password.is_email"):
        passwords.check_password_rule("anasilva12", "anasilva12@acme.com")
    passwords.check_password_rule("a long passphrase", "ana@acme.com")
