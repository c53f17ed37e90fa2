"""Meta's request bodies and the explanations of its errors, without a server."""

import time
from email.utils import formatdate

import httpx
import pytest

from pytake.auth.errors import AccessError
from pytake.channels.base import ContactRef, OutboundMessage, PlatformCallError
from pytake.channels.whatsapp import errors, outbound
from pytake.services.explain import explain


def test_a_customer_known_only_by_username_is_addressed_by_bsuid():
    message = OutboundMessage(
        ContactRef(scoped_id="GB.2039485726"), "text", {"body": "hi", "preview_url": False}
    )
    body = outbound.body(message)
    assert body["recipient"] == "GB.2039485726" and "to" not in body


def test_the_first_link_turns_the_preview_on():
    assert outbound.check("text", {"body": "see https://acme.test/x"})["preview_url"] is True
    assert outbound.check("text", {"body": "no link here"})["preview_url"] is False


def test_list_sections_need_titles_when_there_are_several():
    rows = [{"id": "a", "title": "A"}]
    with pytest.raises(AccessError):
        outbound.check(
            "interactive",
            {"kind": "list", "body": "b", "button": "Go", "sections": [{"rows": rows}] * 2},
        )


@pytest.mark.parametrize(
    ("code", "status", "throttle", "retryable"),
    [(130429, 429, "number", True), (131056, 400, "recipient", True), (190, 401, None, False)],
)
def test_graph_errors_carry_what_the_sender_needs(code, status, throttle, retryable):
    response = httpx.Response(
        status,
        json={"error": {"code": code, "message": "x"}},
        headers={"Retry-After": "9"},
    )
    error = errors.from_response(response)
    assert (error.throttle, error.retryable, error.retry_after) == (throttle, retryable, 9.0)
    assert error.credentials_rejected is (code == 190)


@pytest.mark.parametrize(
    ("header", "wait"),
    [
        ("12", 12.0),
        ("0.5", 0.5),
        ("-3", 0.0),
        ("999999", 3600.0),
        ("nan", None),
        ("soon", None),
        ("", None),
        ("in 30 s", 30.0),  # an HTTP date, made when the test runs
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # past
    ],
)
def test_retry_after_in_seconds_or_as_an_http_date(header, wait):
    if header == "in 30 s":
        header = formatdate(time.time() + 30, usegmt=True)
    response = httpx.Response(429, text="Too Many Requests", headers={"Retry-After": header})
    error = errors.from_response(response)
    assert error.retryable and error.throttle == "number"  # a bare 429 slows the number too
    if wait is None:
        assert error.retry_after is None
    else:
        assert error.retry_after == pytest.approx(wait, abs=1.5)


def test_a_timeout_after_sending_is_ambiguous_but_a_refused_connection_is_not():
    request = httpx.Request("POST", "https://graph.test")
    assert errors.network(httpx.ReadTimeout("t", request=request)).ambiguous
    assert not errors.network(httpx.ConnectError("c", request=request)).ambiguous
    assert isinstance(errors.network(httpx.ConnectTimeout("c", request=request)), PlatformCallError)


@pytest.mark.parametrize("language", ["en", "pt-BR"])
def test_every_explained_code_reads_as_words_in_both_languages(language):
    from pytake.i18n import catalog

    codes = [
        int(k.split(".")[1])
        for k in catalog("en")
        if k.startswith("explain.") and k.split(".")[1].isdigit() and not k.endswith("_next")
    ]
    assert 131047 in codes and 190 in codes
    for code in codes:
        explained = explain("failed", {"errors": [{"code": code, "title": "t"}]}, language)
        assert not explained["reason"].startswith("explain.")
        assert not explained["next"].startswith("explain.")
    unknown = explain("failed", {"errors": [{"code": 999999, "title": "Odd thing"}]}, language)
    assert "999999" in unknown["reason"] and "Odd thing" in unknown["reason"]
    assert explain("unknown", None, language)["retry"] is True
