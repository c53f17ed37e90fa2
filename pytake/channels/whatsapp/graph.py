"""The Graph API client: pooled httpx, pinned version, Meta's errors as exceptions."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from pytake.channels import departure
from pytake.channels.base import Download, PlatformCallError, PlatformError
from pytake.channels.whatsapp import errors
from pytake.settings import get_settings

TIMEOUT = httpx.Timeout(30.0, connect=5.0)
LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)
CHUNK = 64 * 1024


class GraphClient:
    """One per event loop: httpx pools are bound to the loop that created them."""

    def __init__(self, http: httpx.AsyncClient | None = None) -> None:
        self._http = http
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def http(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._http is None or (self._loop is not None and self._loop is not loop):
            self._http = httpx.AsyncClient(timeout=TIMEOUT, limits=LIMITS)
            self._loop = loop
        return self._http

    def url(self, path: str, base: str | None = None) -> str:
        """``base``: a number's own API address (the sandbox's), else PYTAKE_GRAPH_API_URL."""
        settings = get_settings()
        root = base or settings.graph_api_url
        return f"{root}/{settings.graph_api_version}/{path.lstrip('/')}"

    async def request(
        self,
        method: str,
        path: str,
        token: str,
        *,
        scheme: str = "Bearer",
        headers: dict[str, str] | None = None,
        base: str | None = None,
        **kwargs,
    ) -> dict:
        """``scheme``: Meta's resumable upload wants ``OAuth`` where the rest takes Bearer."""
        headers = {"Authorization": f"{scheme} {token}", **(headers or {})}
        url = self.url(path, base)
        try:
            response = await self.http.request(
                method, url, headers=headers, extensions=departure.extensions(), **kwargs
            )
        except httpx.HTTPError as exc:
            raise errors.network(exc) from exc
        if response.status_code >= 400:
            raise errors.from_response(response)
        try:
            return response.json()
        except ValueError as exc:
            raise PlatformCallError(
                PlatformError(None, "the Graph API answered something that is not JSON"),
                retryable=True,
                http_status=response.status_code,
            ) from exc

    async def download(
        self, url: str, token: str, dest: Path, max_bytes: int, base: str | None = None
    ) -> Download | None:
        """Stream ``url`` into ``dest``; None when the URL has expired (404: ask for a new one)."""
        _check_media_host(url, base)
        dest.parent.mkdir(parents=True, exist_ok=True)
        digest, size = hashlib.sha256(), 0
        fd, partial = tempfile.mkstemp(dir=dest.parent, prefix=".partial-")
        try:
            async with self.http.stream(
                "GET", url, headers={"Authorization": f"Bearer {token}"}
            ) as response:
                if response.status_code == 404:
                    return None
                if response.status_code != 200:
                    await response.aread()
                    error = errors.from_response(response)
                    # 401: the token expired (an admin renews it); 3xx: not how Meta answers.
                    error.retryable = error.retryable or response.status_code in (401, 403)
                    error.retryable = error.retryable or 300 <= response.status_code < 400
                    raise error
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > max_bytes:
                    raise _too_large(int(declared), max_bytes)
                with os.fdopen(fd, "wb") as handle:
                    fd = -1
                    async for chunk in response.aiter_bytes(CHUNK):
                        size += len(chunk)
                        if size > max_bytes:
                            raise _too_large(size, max_bytes)
                        digest.update(chunk)
                        handle.write(chunk)
                mime = response.headers.get("content-type", "").split(";")[0].strip().lower()
            os.replace(partial, dest)
            return Download(dest, mime, size, digest.hexdigest())
        except httpx.HTTPError as exc:
            raise errors.network(exc) from exc
        finally:
            if fd >= 0:
                os.close(fd)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(partial)  # left behind only when the download did not finish


def _check_media_host(url: str, base: str | None = None) -> None:
    """Only Meta's hosts (or the number's own API host): a URL is never fetched just because
    a payload or answer named it."""
    settings = get_settings()
    parts = urlsplit(url)
    graph = urlsplit(base or settings.graph_api_url)
    allowed = settings.media_download_hosts
    same_as_graph = (parts.scheme, parts.netloc.lower()) == (graph.scheme, graph.netloc.lower())
    if not same_as_graph and (parts.scheme != "https" or (parts.hostname or "") not in allowed):
        raise PlatformCallError.refused("media URL on a host that is not allowed", parts.netloc)


def _too_large(size: int, limit: int) -> PlatformCallError:
    return PlatformCallError.refused("media file too large", f"{size} bytes, limit {limit}")
