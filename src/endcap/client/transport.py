"""The client's transport: one httpx connection, problem answers as exceptions, models."""

from __future__ import annotations

import json
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx
from pydantic import BaseModel

from endcap.auth.schemas import Me

M = TypeVar("M", bound=BaseModel)
# A server down, going down or too slow, as httpx says it: the connection refused or
# dropped, or no answer in time.
NOT_REACHED = (httpx.NetworkError, httpx.TimeoutException, httpx.RemoteProtocolError)


class EndcapAPIError(Exception):
    """An RFC 9457 problem answer: ``status``, ``type``, ``detail`` and the whole ``problem``."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        self.type = str(problem.get("type", ""))
        self.detail = str(problem.get("detail", ""))
        super().__init__(f"{status} {self.type}: {self.detail}")


class Transport:
    """The HTTP side every group of calls shares: the connection, raw requests, problem
    answers raised as :class:`EndcapAPIError`, and models read from the answers."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(
            base_url=base_url, headers=headers, timeout=timeout, transport=transport
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- raw access -------------------------------------------------------------------------

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send a request and return the response, raising EndcapAPIError on a problem answer."""
        response = self._http.request(method, path, **kwargs)
        if response.is_success:
            return response
        try:
            problem = response.json()
        except ValueError:
            problem = {"detail": response.text}
        raise EndcapAPIError(response.status_code, problem if isinstance(problem, dict) else {})

    def _get(self, path: str, model: type[M], **params: Any) -> M:
        query = {k: str(v) for k, v in params.items() if v is not None}
        return model.model_validate(self.request("GET", path, params=query).json())

    def _post(
        self,
        path: str,
        model: type[M],
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> M:
        return model.model_validate(self.request("POST", path, json=body, headers=headers).json())

    def _list(self, path: str, model: type[M], **params: Any) -> list[M]:
        query = {k: str(v) for k, v in params.items() if v is not None}
        return [model.model_validate(x) for x in self.request("GET", path, params=query).json()]

    # -- health and identity ----------------------------------------------------------------

    def ready(self) -> bool:
        """Whether the server is up and its database answers: False on a problem answer and
        when the server cannot be reached or does not answer within the client's timeout.
        A URL httpx cannot use (say, no scheme) still raises."""
        try:
            self.request("GET", "/health/ready")
        except (EndcapAPIError, *NOT_REACHED):
            return False
        return True

    def me(self) -> Me:
        return self._get("/api/v1/me", Me)


def request_headers(
    *, revision: int | None = None, idempotency_key: str | None = None
) -> dict[str, str]:
    """If-Match for ``revision`` and Idempotency-Key, each only when given."""
    headers = {"If-Match": f'"{revision}"'} if revision is not None else {}
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    return headers


def jsonable(body: dict[str, Any]) -> dict[str, Any]:
    """Dates, ids and decimals as the strings the API reads."""
    return json.loads(json.dumps(body, default=str))  # type: ignore[no-any-return]
