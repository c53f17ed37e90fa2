"""``GraphSimulator``: a Starlette app answering PyTake's Graph API calls the way Meta does.

It records what it was sent for tests to assert on, and can be told to fail or stall the
next calls, which is how retries, token expiry and media URL expiry get exercised without
Meta. Every URL it hands out is built from ``base_url``, so it can be mounted under a prefix.
The message template endpoints live in ``graph_templates``.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import random
import re
import secrets
import time
from collections.abc import Callable, Collection, Mapping
from typing import Any
from urllib.parse import urlencode

import httpx
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pytake.sandbox import payloads
from pytake.sandbox.graph_rules import (
    APP,
    APP_ID,
    KINDS,
    RESUMABLE_TYPES,
    TEMPLATE_REFUSALS,
    UPLOAD_LIMITS,
    GraphError,
    Handler,
    Media,
    Number,
    _after,
    _bearer,
    _check_product,
    _check_send,
    _cursor,
    _Fault,
    _fields,
    _json_object,
    _missing,
    _numeric_id,
    _page_size,
    _recipient,
    _require,
    _stored_template,
    graph_error,
)
from pytake.sandbox.graph_templates import TemplateEndpoints

VERSION = re.compile(r"v\d+\.0")
MEDIA_URL_SECONDS = 300


class GraphSimulator(TemplateEndpoints):
    """The Graph API for PyTake's calls, with the knobs tests need."""

    def __init__(
        self, base_url: str = "http://graph.simulator", *, clock: Callable[[], float] = time.time
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.clock = clock
        self.numbers: dict[str, Number] = {}
        # Each accepted send body, plus the "wamid", "phone_number_id" and arrival time "at".
        self.sent: list[dict] = []
        self.read_marks: list[str] = []
        self.typing: list[str] = []
        self.uploads: list[dict] = []
        self.calls: collections.Counter[str] = collections.Counter()
        self._media: dict[str, Media] = {}
        self._urls: dict[str, tuple[str, float]] = {}
        self._templates: dict[str, list[dict]] = collections.defaultdict(list)
        # Resumable uploads: open sessions, and the handles of finished ones with their file.
        self._upload_sessions: dict[str, dict] = {}
        self.examples: dict[str, Media] = {}
        # When each template was edited while approved (Meta's edit limits).
        self.template_edits: dict[str, list[float]] = collections.defaultdict(list)
        self._unsubscribed: set[str] = set()  # WABAs whose webhooks no app receives
        # Told of each accepted send ("message") and submitted template ("template").
        self.listener: Callable[[str, dict], None] | None = None
        # Queued by (kind of call, node): a node's own come before those for any node.
        self._faults: dict[tuple[str, str | None], collections.deque[_Fault]] = (
            collections.defaultdict(collections.deque)
        )
        self._chaos: dict[str, tuple[list[tuple[float, _Fault]], random.Random]] = {}
        self._phone_number_endpoint = self._endpoint("phone_number", self._phone_number)
        self._media_url_endpoint = self._endpoint("media_url", self._media_url)
        self._upload_data_endpoint = self._endpoint("app_upload", self._upload_data)
        self._edit_template_endpoint = self._endpoint("template_edit", self._edit_template)
        self.app = Starlette(
            routes=[
                Route(
                    "/_media/{token}",
                    self._endpoint("media_download", self._download, versioned=False),
                    methods=["GET"],
                ),
                Route(
                    "/{version}/{node}/messages",
                    self._endpoint("messages", self._messages),
                    methods=["POST"],
                ),
                Route(
                    "/{version}/{node}/media",
                    self._endpoint("upload", self._upload),
                    methods=["POST"],
                ),
                Route(
                    "/{version}/{node}/message_templates",
                    self._endpoint("templates", self._templates_endpoint),
                    methods=["GET", "POST", "DELETE"],
                ),
                Route(
                    "/{version}/{node}/phone_numbers",
                    self._endpoint("phone_numbers", self._phone_numbers),
                    methods=["GET"],
                ),
                Route(
                    "/{version}/{node}/subscribed_apps",
                    self._endpoint("subscribed_apps", self._subscribed_apps),
                    methods=["GET", "POST", "DELETE"],
                ),
                Route(
                    "/{version}/{node}/uploads",
                    self._endpoint("app_upload", self._upload_session),
                    methods=["POST"],
                ),
                Route("/{version}/{node}", self._get_node, methods=["GET"]),
                Route("/{version}/{node}", self._post_node, methods=["POST"]),
                Route(
                    "/{version}/{node}",
                    self._endpoint("media_delete", self._delete_media),
                    methods=["DELETE"],
                ),
            ]
        )

    # State and control, for tests and the sandbox.

    def add_number(
        self,
        phone_number_id: str,
        waba_id: str,
        display_number: str,
        access_token: str,
        app_secret: str,
        verified_name: str = "PyTake Sandbox",
    ) -> None:
        self.numbers[phone_number_id] = Number(
            phone_number_id, waba_id, display_number, access_token, app_secret, verified_name
        )

    def unsubscribe(self, waba_id: str) -> None:
        """No app receives the account's webhooks any more (``POST subscribed_apps`` undoes it)."""
        self._unsubscribed.add(waba_id)

    def add_media(self, content: bytes, mime_type: str) -> str:
        """Media a customer sent: the webhook names the id, PyTake downloads it from here."""
        media_id = _numeric_id()
        self._media[media_id] = Media(content, mime_type)
        return media_id

    def media(self, media_id: str) -> Media | None:
        """A file the customer sent, or PyTake uploaded (its id in a send names it)."""
        return self._media.get(media_id)

    def add_template(self, waba_id: str, template: dict) -> str:
        """Register a template (APPROVED unless it says otherwise); returns its id."""
        stored = _stored_template(template)
        self._templates[waba_id].append(stored)
        return stored["id"]

    def set_template_status(self, waba_id: str, name: str, language: str, status: str) -> str:
        """Meta's review outcome; returns the template id for the status webhook."""
        template = self.find_template(waba_id, name, language)
        if template is None:
            raise KeyError(f"no template {name}/{language} in WABA {waba_id}")
        template["status"] = status.upper()
        return template["id"]

    def fail_next(
        self,
        code: int,
        *,
        count: int = 1,
        path: str = "messages",
        retry_after: int | None = None,
        node: str | None = None,
    ) -> None:
        """The next ``count`` calls of kind ``path`` answer Meta's error for ``code``
        (with a ``Retry-After`` header when given); with ``node``, only calls on that node
        (a phone number's sends, say), so one tenant's scenario never reaches another's.

        Downloads are not Graph calls: they answer a bare 404 for code 404, else 500.
        """
        if path != "media_download" and code not in payloads.ERRORS:
            raise ValueError(f"error {code} is not in payloads.ERRORS")
        self._queue(path, [_Fault(code, retry_after=retry_after)] * count, node)

    def timeout_next(
        self,
        count: int = 1,
        *,
        path: str = "messages",
        delay: float = 30.0,
        node: str | None = None,
    ) -> None:
        """The next ``count`` calls of kind ``path`` (on ``node``, if given) are carried
        out, then stall ``delay`` seconds before answering: past a client's timeout, as Meta
        may act on a call the client gave up on."""
        self._queue(path, [_Fault(None, delay)] * count, node)

    def chaos(
        self,
        errors: Mapping[int, float],
        *,
        timeouts: float = 0.0,
        delay: float = 35.0,
        path: str = "messages",
        seed: int | None = None,
    ) -> None:
        """From now on, each call of kind ``path`` fails at random: with Meta's error ``code``
        at the share ``errors[code]``, or stalls ``delay`` seconds at the share ``timeouts``
        (as ``timeout_next``). Queued faults come first; an empty ``errors`` and no timeouts
        end it."""
        unknown = set(errors) - set(payloads.ERRORS)
        if unknown:
            raise ValueError(f"errors {sorted(unknown)} are not in payloads.ERRORS")
        shares = [*errors.values(), timeouts]
        if any(share < 0 for share in shares) or sum(shares) > 1:
            raise ValueError("each share is at least 0 and together they are at most 1")
        self._queue(path, [])
        table = [(share, _Fault(code)) for code, share in errors.items() if share]
        if timeouts:
            table.append((timeouts, _Fault(None, delay)))
        if table:
            self._chaos[path] = (table, random.Random(seed))  # noqa: S311 (not security)
        else:
            self._chaos.pop(path, None)

    def _next_fault(self, kind: str, node: str | None) -> _Fault | None:
        for key in ((kind, node), (kind, None)) if node is not None else ((kind, None),):
            queue = self._faults.get(key)
            if queue:
                return queue.popleft()
        if kind not in self._chaos:
            return None
        table, draw = self._chaos[kind]
        point = draw.random()
        for share, fault in table:
            if point < share:
                return fault
            point -= share
        return None

    def expire_media_urls(self) -> None:
        self._urls.clear()

    def _tell(self, kind: str, record: dict) -> None:
        if self.listener is not None:
            self.listener(kind, record)

    def _queue(self, path: str, faults: list[_Fault], node: str | None = None) -> None:
        if path not in KINDS:
            raise ValueError(f"unknown path {path!r}; use one of {sorted(KINDS)}")
        if faults:
            self._faults[(path, node)].extend(faults)

    async def post_webhook(
        self,
        url: str,
        payload: dict | bytes,
        app_secret: str,
        *,
        client: httpx.AsyncClient | None = None,
        signature: str | None = None,
    ) -> httpx.Response:
        """Deliver a webhook as Meta does: escaped JSON, signed over exactly those bytes.

        ``signature`` overrides the computed one, to test rejection.
        """
        body = payload if isinstance(payload, bytes) else payloads.encode(payload)
        headers = {
            "Content-Type": "application/json",
            "X-Hub-Signature-256": signature or payloads.sign(body, app_secret),
        }
        if client is None:
            async with httpx.AsyncClient() as own:
                return await own.post(url, content=body, headers=headers)
        return await client.post(url, content=body, headers=headers)

    # Plumbing shared by every endpoint.

    def _endpoint(self, kind: str, handler: Handler, *, versioned: bool = True) -> Handler:
        async def endpoint(request: Request) -> Response:
            self.calls[kind] += 1
            try:
                version = request.path_params.get("version", "")
                if versioned and not VERSION.fullmatch(version):
                    raise _missing(version)
                fault = self._next_fault(kind, request.path_params.get("node"))
                if fault is not None and fault.code is not None:
                    return self._failure(kind, fault)
                response = await handler(request)
                if fault is not None:
                    # Acted on, then silent: what a client that gives up cannot tell apart
                    # from a call that never arrived.
                    await asyncio.sleep(fault.delay)
                return response
            except GraphError as exc:
                return graph_error(exc.code, exc.details, exc.retry_after)

        return endpoint

    @staticmethod
    def _failure(kind: str, fault: _Fault) -> Response:
        if kind == "media_download":
            return Response(status_code=404 if fault.code == 404 else 500)
        raise GraphError(fault.code, retry_after=fault.retry_after)

    def _known_number(self, phone_number_id: str) -> Number:
        number = self.numbers.get(phone_number_id)
        if number is None:
            raise _missing(phone_number_id)
        return number

    @staticmethod
    def _authorize(request: Request, numbers: Collection[Number]) -> None:
        if _bearer(request) not in {number.access_token for number in numbers}:
            raise GraphError(190)

    def _path_number(self, request: Request) -> Number:
        number = self._known_number(request.path_params["node"])
        self._authorize(request, [number])
        return number

    def _authorize_media(self, request: Request) -> None:
        """Any number's token reaches media, unless ``phone_number_id`` names one."""
        phone_number_id = request.query_params.get("phone_number_id")
        if phone_number_id:
            self._authorize(request, [self._known_number(phone_number_id)])
        else:
            self._authorize(request, self.numbers.values())

    def find_template(self, waba_id: str, name: str, language: str) -> dict | None:
        return next(
            (t for t in self._templates[waba_id] if (t["name"], t["language"]) == (name, language)),
            None,
        )

    # Endpoints.

    async def _messages(self, request: Request) -> Response:
        number = self._path_number(request)
        body = await _json_object(request)
        if body.get("status") == "read":
            _check_product(body)
            message_id = _require(body, "message_id")
            self.read_marks.append(message_id)
            self._tell(
                "read", {"phone_number_id": number.phone_number_id, "message_id": message_id}
            )
            if body.get("typing_indicator"):
                self.typing.append(message_id)
            return JSONResponse({"success": True})
        _check_send(body)
        if body["type"] == "template":
            self._check_template(number.waba_id, body["template"])
        wamid = payloads.new_wamid()
        self.sent.append(
            {
                **body,
                "wamid": wamid,
                "phone_number_id": number.phone_number_id,
                "at": self.clock(),
            }
        )
        self._tell("message", self.sent[-1])
        return JSONResponse(
            {
                "messaging_product": "whatsapp",
                "contacts": [_recipient(body)],
                "messages": [{"id": wamid}],
            }
        )

    def _check_template(self, waba_id: str, template: dict) -> None:
        name = _require(template, "name", "template.")
        language = _require(template, "language", "template.")
        if not isinstance(language, dict):
            raise GraphError(131009, "Param template.language must be an object.")
        code = _require(language, "code", "template.language.")
        found = self.find_template(waba_id, name, code)
        if found is None or found["status"] not in ("APPROVED", *TEMPLATE_REFUSALS):
            raise GraphError(132001, f"template name ({name}) does not exist in {code}")
        if found["status"] in TEMPLATE_REFUSALS:
            raise GraphError(TEMPLATE_REFUSALS[found["status"]])

    async def _upload(self, request: Request) -> Response:
        number = self._path_number(request)
        async with request.form() as form:
            _check_product(form)
            file = form.get("file")
            if not isinstance(file, UploadFile):
                raise GraphError(131008, "The parameter file is required.")
            mime_type = str(form.get("type") or file.content_type or "")
            content = await file.read()
        limit = UPLOAD_LIMITS.get(mime_type.split(";")[0].strip().lower())
        if limit is None:
            raise GraphError(131053, f"Param file must be a supported type, not {mime_type!r}.")
        if len(content) > limit:
            raise GraphError(131053, f"{mime_type} files may be at most {limit} bytes.")
        media_id = self.add_media(content, mime_type)
        self.uploads.append(
            {
                "id": media_id,
                "phone_number_id": number.phone_number_id,
                "mime_type": mime_type,
                "filename": file.filename,
                "file_size": len(content),
            }
        )
        return JSONResponse({"id": media_id})

    async def _media_url(self, request: Request) -> Response:
        self._authorize_media(request)
        media_id = request.path_params["node"]
        media = self._media.get(media_id)
        if media is None:
            raise _missing(media_id)
        token = secrets.token_urlsafe(24)
        self._urls[token] = (media_id, self.clock() + MEDIA_URL_SECONDS)
        return JSONResponse(
            {
                "messaging_product": "whatsapp",
                "url": f"{self.base_url}/_media/{token}",
                "mime_type": media.mime_type,
                "sha256": media.sha256,
                "file_size": len(media.content),
                "id": media_id,
            }
        )

    async def _download(self, request: Request) -> Response:
        """The lookaside download: bare statuses, as it is not a Graph endpoint."""
        if _bearer(request) not in {number.access_token for number in self.numbers.values()}:
            return Response(status_code=401)
        media_id, expires_at = self._urls.get(request.path_params["token"], ("", 0.0))
        media = self._media.get(media_id)
        if media is None or self.clock() >= expires_at:
            return Response(status_code=404)
        return Response(media.content, media_type=media.mime_type)

    async def _delete_media(self, request: Request) -> Response:
        self._authorize_media(request)
        media_id = request.path_params["node"]
        if self._media.pop(media_id, None) is None:
            raise _missing(media_id)
        return JSONResponse({"success": True})

    def _account(self, request: Request) -> tuple[str, list[Number]]:
        """The WABA the path names and its numbers; any of their tokens may read it."""
        waba_id = request.path_params["node"]
        numbers = [number for number in self.numbers.values() if number.waba_id == waba_id]
        if not numbers:
            raise _missing(waba_id)
        self._authorize(request, numbers)
        return waba_id, numbers

    async def _get_node(self, request: Request) -> Response:
        """``GET /{id}``: a phone number or a media file, told apart by what the id is."""
        if request.path_params["node"] in self.numbers:
            return await self._phone_number_endpoint(request)
        return await self._media_url_endpoint(request)

    async def _post_node(self, request: Request) -> Response:
        """``POST /{id}``: an upload session's bytes, or a template's edit."""
        if request.path_params["node"].startswith("upload:"):
            return await self._upload_data_endpoint(request)
        return await self._edit_template_endpoint(request)

    async def _upload_session(self, request: Request) -> Response:
        """``POST /{app-id}/uploads``: describe the file, get an ``upload:`` session id (with
        its ``sig`` query, as Meta's ids carry)."""
        app = request.path_params["node"]
        if app != APP_ID:
            raise _missing(app)
        token = _bearer(request) or request.query_params.get("access_token")
        if token not in {number.access_token for number in self.numbers.values()}:
            raise GraphError(190)
        query = request.query_params
        name, length, kind = (query.get(k, "") for k in ("file_name", "file_length", "file_type"))
        if not name:
            raise GraphError(100, "The parameter file_name is required.")
        if not length.isdigit() or int(length) < 1:
            raise GraphError(100, "Param file_length must be a positive integer.")
        if kind not in RESUMABLE_TYPES:
            raise GraphError(100, f"Param file_type must be one of {sorted(RESUMABLE_TYPES)}.")
        session, sig = secrets.token_urlsafe(18), secrets.token_urlsafe(12)
        self._upload_sessions[session] = {"sig": sig, "length": int(length), "type": kind}
        return JSONResponse({"id": f"upload:{session}?sig={sig}"})

    async def _upload_data(self, request: Request) -> Response:
        """``POST /upload:{session}``: the token as ``OAuth``, ``file_offset: 0`` and exactly
        the bytes announced; the handle is remembered for template examples."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme != "OAuth" or token not in {n.access_token for n in self.numbers.values()}:
            raise GraphError(190)
        node = request.path_params["node"]
        session = self._upload_sessions.get(node.removeprefix("upload:"))
        if session is None or request.query_params.get("sig") != session["sig"]:
            raise _missing(node)
        if request.headers.get("file_offset") != "0":
            raise GraphError(100, "The file_offset header is required; 0 starts an upload.")
        content = await request.body()
        if len(content) != session["length"]:
            raise GraphError(100, f"Expected {session['length']} bytes, got {len(content)}.")
        del self._upload_sessions[node.removeprefix("upload:")]
        handle = "4::" + base64.b64encode(secrets.token_bytes(24)).decode()
        self.examples[handle] = Media(content, session["type"])
        return JSONResponse({"h": handle})

    async def _phone_number(self, request: Request) -> Response:
        number = self._path_number(request)
        return JSONResponse(_fields(request, number.node(), "WhatsAppBusinessPhoneNumber"))

    async def _phone_numbers(self, request: Request) -> Response:
        waba_id, numbers = self._account(request)
        nodes = [
            _fields(request, number.node(), "WhatsAppBusinessPhoneNumber") for number in numbers
        ]
        return self._page(request, nodes, f"{waba_id}/phone_numbers")

    async def _subscribed_apps(self, request: Request) -> Response:
        """The app subscribed to the WABA's webhooks: listed, subscribed or unsubscribed."""
        waba_id, _ = self._account(request)
        if request.method == "POST":
            self._unsubscribed.discard(waba_id)
        elif request.method == "DELETE":
            self._unsubscribed.add(waba_id)
        else:
            subscribed = waba_id not in self._unsubscribed
            return JSONResponse(
                {"data": [{"whatsapp_business_api_data": APP}] if subscribed else []}
            )
        return JSONResponse({"success": True})

    def _page(self, request: Request, items: list[dict], path: str) -> Response:
        """One page of a Graph list, with the cursors and ``next`` link Meta adds."""
        limit = _page_size(request.query_params.get("limit"))
        start = _after(request.query_params.get("after"))
        page = items[start : start + limit]
        if not page:
            return JSONResponse({"data": []})
        last = start + len(page) - 1
        paging: dict[str, Any] = {"cursors": {"before": _cursor(start), "after": _cursor(last)}}
        if last + 1 < len(items):
            query = urlencode({"limit": limit, "after": _cursor(last)})
            version = request.path_params["version"]
            paging["next"] = f"{self.base_url}/{version}/{path}?{query}"
        return JSONResponse({"data": page, "paging": paging})
