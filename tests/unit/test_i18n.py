import json
import re
import string
from pathlib import Path

import pytest

from pytake.i18n import LANGUAGES, catalog, from_accept_language, normalize_language, translate

PACKAGE = Path(__file__).resolve().parents[2] / "pytake"
# Literal keys passed to the translation helpers anywhere in the package.
_KEY_USE = re.compile(
    r"""(?:\bt|_text|translate|AccessError|NotAllowed|field|submit_button|empty_state|shell|"""
    r"""_stat|message)\(\s*["']([a-z_]+\.[a-z_.]+)["']"""
)


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_language_has_every_key_with_the_same_placeholders():
    reference = catalog("en")
    for language in LANGUAGES:
        other = catalog(language)
        assert set(other) == set(reference), language
        for key, text in reference.items():
            assert _placeholders(other[key]) == _placeholders(text), (language, key)
            assert other[key].strip(), (language, key)


def test_catalog_files_are_sorted_json_without_duplicates():
    for language in LANGUAGES:
        path = PACKAGE / "i18n" / "locales" / f"{language}.json"
        pairs = json.loads(path.read_text(encoding="utf-8"), object_pairs_hook=list)
        keys = [key for key, _ in pairs]
        assert len(keys) == len(set(keys)), language


def test_every_key_used_in_the_code_exists():
    used = set()
    for source in PACKAGE.rglob("*.py"):
        used |= set(_KEY_USE.findall(source.read_text(encoding="utf-8")))
    assert used, "the pattern found no keys: it is broken"
    missing = sorted(key for key in used if key not in catalog("en"))
    assert not missing


def test_dynamic_key_families_are_complete():
    from pytake.models import ConversationStatus, Role

    for role in Role:
        assert f"role.{role.value}" in catalog("en")
    for status in ConversationStatus:
        assert f"status.{status.value}" in catalog("en")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("pt-BR,pt;q=0.9,en-US;q=0.8", "pt-BR"),
        ("en-US,en;q=0.9", "en"),
        ("fr-FR,fr;q=0.9,pt;q=0.5", "pt-BR"),
        ("de-DE", "en"),
        ("", "en"),
        (None, "en"),
        ("pt;q=abc,en;q=0.5", "en"),
        ("*", "en"),
    ],
)
def test_browser_language(header, expected):
    assert from_accept_language(header) == expected


@pytest.mark.parametrize(
    ("value", "expected"), [("pt_br", "pt-BR"), ("PT", "pt-BR"), ("en-GB", "en"), ("xx", "en")]
)
def test_normalize_language(value, expected):
    assert normalize_language(value) == expected


def test_translate_formats_and_falls_back():
    assert translate("auth.throttled", "pt-BR", minutes=3).endswith("3 min.")
    assert translate("no.such.key", "pt-BR") == "no.such.key"


def test_a_term_parameter_is_translated_with_its_message():
    from pytake.i18n import Term

    field = Term("template_field.body")
    assert translate("template_draft.required", "pt-BR", field=field) == "Preencha o campo corpo."
    assert translate("template_draft.required", "en", field=field) == "Fill in the body."
    assert translate("template_draft.required", "en", field="body") == "Fill in the body."


def test_chatbot_and_notice_key_families_are_complete():
    """The builder, the conversation view and notices build these keys from stored values."""
    from pytake.flows import answers, definition
    from pytake.services import flows, preferences

    families = {
        "flows.kind": definition.KINDS,
        "flows.trigger": flows.TRIGGERS,
        "flows.op": definition.OPERATORS + definition.OPERATORS_NUMERIC,
        "flows.check": answers.KINDS,
        "flows.test_kind": definition.CONDITION_TESTS,
        "flows.media": ("none", *definition.MEDIA_KINDS),
        "flows.method": definition.HTTP_METHODS,
        "flows.branch": definition.TARGETS,
        # Why a run ended: the engine's reasons and the people's.
        "flows.reason": (
            *("end", "handoff", "resolved", "loop", "too_long", "broken"),
            *("agent_took", "agent_replied", "opted_out", "flow_deleted", "replaced"),
        ),
        # What a tab, a push or an e-mail tells (services.notices, services.alerts).
        "notice": preferences.KINDS,
        # The notification preferences page.
        "preferences.kind": (*preferences.KINDS, *(f"{k}.hint" for k in preferences.KINDS)),
        "preferences.channel": preferences.CHANNELS,
        "preferences.delay": preferences.MAIL_DELAYS,
        "devices": ("push_denied", "push_unsupported", "push_failed"),
        # The trail the agent reads: steps taken and what happened on the way.
        "flows.trail": (
            *definition.KINDS,
            *("answer", "ignored", "not_sent", "not_labelled", "no_answer"),
        ),
    }
    missing = [
        f"{family}.{value}"
        for family, values in families.items()
        for value in values
        if f"{family}.{value}" not in catalog("en")
    ]
    assert not missing
