"""The message template endpoints of the Graph API simulator: list, create, edit and delete
a WhatsApp Business Account's templates, with the rules Meta applies (names, categories,
media headers' uploaded examples, edit limits of approved templates).

Mixed into ``GraphSimulator``, whose state (templates per account, uploads, numbers) and
plumbing (authorization, paging, listeners) they use.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from pytake.sandbox.graph_rules import (
    EDIT_GAP_SECONDS,
    EDIT_WINDOW_SECONDS,
    EDITS_IN_WINDOW,
    HEADER_EXAMPLE_TYPES,
    TEMPLATE_CATEGORIES,
    TEMPLATE_EDITABLE,
    TEMPLATE_NAME,
    GraphError,
    _json_object,
    _missing,
    _require,
    _stored_template,
)


class TemplateEndpoints:
    """``/{waba-id}/message_templates`` and ``POST /{template-id}``."""

    async def _templates_endpoint(self, request: Request) -> Response:
        waba_id, _ = self._account(request)
        if request.method == "POST":
            return self._create_template(waba_id, await _json_object(request))
        if request.method == "DELETE":
            return self._delete_template(request, waba_id)
        return self._list_templates(request, waba_id)

    def _delete_template(self, request: Request, waba_id: str) -> Response:
        """Every language of the name, or the one ``hsm_id`` names; disabled ones stay."""
        name, one = request.query_params.get("name"), request.query_params.get("hsm_id")
        doomed = [
            t
            for t in self._templates[waba_id]
            if t["name"] == name and (one is None or t["id"] == one)
        ]
        if not doomed:
            raise GraphError(100, f"Template {name} does not exist.")
        if any(t["status"] == "DISABLED" for t in doomed):
            raise GraphError(100, "A disabled template cannot be deleted.")
        self._templates[waba_id] = [t for t in self._templates[waba_id] if t not in doomed]
        return JSONResponse({"success": True})

    def _list_templates(self, request: Request, waba_id: str) -> Response:
        return self._page(request, self._templates[waba_id], f"{waba_id}/message_templates")

    def _create_template(self, waba_id: str, body: dict) -> Response:
        name = _require(body, "name")
        language = _require(body, "language")
        category = str(_require(body, "category")).upper()
        components = _require(body, "components")
        if not isinstance(name, str) or not TEMPLATE_NAME.fullmatch(name):
            raise GraphError(131009, "Param name: lowercase letters, digits and _, up to 512.")
        if category not in TEMPLATE_CATEGORIES:
            raise GraphError(131009, f"Param category: one of {sorted(TEMPLATE_CATEGORIES)}.")
        self._check_components(components, category)
        if self.find_template(waba_id, name, language) is not None:
            raise GraphError(131009, f"Template {name} already exists in {language}.")
        template_id = self.add_template(
            waba_id, {**body, "category": category, "status": "PENDING"}
        )
        self._tell("template", {**self.find_template(waba_id, name, language), "waba_id": waba_id})
        return JSONResponse({"id": template_id, "status": "PENDING", "category": category})

    def _check_components(self, components: object, category: str) -> None:
        """A list of typed components; a media header's example names a handle of this
        simulator's uploads, of a type that header takes."""
        if not isinstance(components, list) or not all(
            isinstance(component, dict) and component.get("type") for component in components
        ):
            raise GraphError(131009, "Param components must be a list of objects with a type.")
        if category == "AUTHENTICATION" and any(c.get("text") for c in components):
            raise GraphError(131009, "Authentication templates take Meta's text, not their own.")
        cards = [
            inner
            for component in components
            if str(component["type"]).upper() == "CAROUSEL"
            for card in component.get("cards") or []
            for inner in (card.get("components") or [] if isinstance(card, dict) else [])
        ]
        if cards and not all(isinstance(inner, dict) for inner in cards):
            raise GraphError(131009, "Param cards must hold objects.")
        for component in [*components, *cards]:
            header_format = str(component.get("format", "")).upper()
            is_header = str(component.get("type", "")).upper() == "HEADER"
            if not is_header or header_format not in HEADER_EXAMPLE_TYPES:
                continue
            example = component.get("example")
            handles = example.get("header_handle") if isinstance(example, dict) else None
            known = self.examples.get(handles[0]) if isinstance(handles, list) and handles else None
            if known is None:
                raise GraphError(131009, f"A {header_format} header needs an uploaded example.")
            if known.mime_type not in HEADER_EXAMPLE_TYPES[header_format]:
                raise GraphError(
                    131009, f"A {header_format} header cannot show a {known.mime_type}."
                )

    async def _edit_template(self, request: Request) -> Response:
        """``POST /{template-id}``: only approved, rejected or paused templates; an approved
        one once a day and ten times in 30 days, its category kept. It goes back to review."""
        template_id = request.path_params["node"]
        found = next(
            (
                (waba_id, template)
                for waba_id, listed in self._templates.items()
                for template in listed
                if template["id"] == template_id
            ),
            None,
        )
        if found is None:
            raise _missing(template_id)
        waba_id, template = found
        self._authorize(request, [n for n in self.numbers.values() if n.waba_id == waba_id])
        body = await _json_object(request)
        status = template["status"]
        if status not in TEMPLATE_EDITABLE:
            raise GraphError(100, f"A template in status {status} cannot be edited.")
        category = str(body.get("category") or template["category"]).upper()
        if category not in TEMPLATE_CATEGORIES:
            raise GraphError(131009, f"Param category: one of {sorted(TEMPLATE_CATEGORIES)}.")
        if status == "APPROVED" and category != template["category"]:
            raise GraphError(100, "The category of an approved template cannot be edited.")
        if "components" in body:
            self._check_components(body["components"], category)
        now = self.clock()
        if status == "APPROVED":
            recent = [t for t in self.template_edits[template_id] if now - t < EDIT_WINDOW_SECONDS]
            if recent and now - max(recent) < EDIT_GAP_SECONDS:
                raise GraphError(100, "An approved template can be edited once in 24 hours.")
            if len(recent) >= EDITS_IN_WINDOW:
                raise GraphError(100, "An approved template can be edited 10 times in 30 days.")
            self.template_edits[template_id] = [*recent, now]
        edited = _stored_template({**template, **body, "category": category, "status": "PENDING"})
        template.update(edited)
        self._tell("template", {**template, "waba_id": waba_id})
        return JSONResponse({"success": True})
