"""create_app(): the Litestar application, its plugins and its lifespan."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager

from litestar import Litestar, Router
from litestar.datastructures import State
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme

from endcap import __version__
from endcap.activation.routes import ActivationController
from endcap.allow import complete_allow
from endcap.audiences.routes import AudienceCatalogController, AudienceController
from endcap.auth.dependencies import provide_principal
from endcap.auth.guards import authorize
from endcap.auth.key_changes import followed_keys
from endcap.auth.middleware import (
    PUBLIC,
    STATE_KEY_CACHE,
    STATE_SETTINGS,
    ApiKeyAuthenticationMiddleware,
)
from endcap.auth.routes import ApiKeyController, MeController
from endcap.catalog.routes import CatalogController
from endcap.config import Settings, get_settings
from endcap.consent.routes import ConsentController
from endcap.db.change_feed import following
from endcap.db.engine import create_engine, create_session_factory
from endcap.db.request_connection import STATE_ENGINE, request_connection_middleware
from endcap.db.session import STATE_SESSION_FACTORY, provide_session
from endcap.head import answer_head_as_get
from endcap.health.routes import HealthController
from endcap.idempotency.middleware import idempotency_middleware
from endcap.identity.routes import ProfileController
from endcap.ingest.routes import IngestController, JobController
from endcap.jobs.runner import run_in_process
from endcap.list_headers import join_list_headers
from endcap.marketplace.quote_changes import STATE_QUOTE_CACHE, followed_quotes
from endcap.marketplace.routes import (
    ApprovalController,
    CampaignController,
    ChannelController,
    ForecastController,
    RateCardController,
)
from endcap.observability import tracing
from endcap.observability.logs import configure_logging
from endcap.observability.requests import request_log_middleware
from endcap.partners.routes import PartnerController
from endcap.privacy.routes import ErasureController
from endcap.problems import exception_handlers
from endcap.query_params import check_query
from endcap.request_checks import CheckedRequest
from endcap.traits.routes import TraitsController

API_PREFIX = "/api/v1"


def provide_settings(state: State) -> Settings:
    settings: Settings = state[STATE_SETTINGS]
    return settings


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or get_settings()
    configure_logging(settings.log)
    telemetry = tracing.configure_telemetry() if tracing.enabled() else None

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncGenerator[None]:
        engine = create_engine(settings.database)
        if telemetry is not None:
            tracing.instrument_engine(engine, telemetry)
        app.state[STATE_ENGINE] = engine
        app.state[STATE_SESSION_FACTORY] = create_session_factory(engine)
        try:
            keys, quotes = followed_keys(settings), followed_quotes(settings)
            app.state[STATE_KEY_CACHE] = keys.cache if keys else None
            app.state[STATE_QUOTE_CACHE] = quotes.cache if quotes else None
            async with (
                following(
                    engine,
                    [f for f in (keys, quotes) if f is not None],
                    every=settings.auth.key_cache_heartbeat_seconds,
                    connect_timeout=settings.database.connect_timeout,
                ),
                run_in_process(settings),
            ):
                yield
        finally:
            await engine.dispose()
            if telemetry is not None:
                telemetry.shutdown()

    api = Router(
        path=API_PREFIX,
        route_handlers=[
            ApiKeyController,
            MeController,
            PartnerController,
            CatalogController,
            IngestController,
            JobController,
            ProfileController,
            ConsentController,
            ErasureController,
            TraitsController,
            AudienceController,
            AudienceCatalogController,
            ChannelController,
            RateCardController,
            ForecastController,
            CampaignController,
            ApprovalController,
            ActivationController,
        ],
        dependencies={"principal": Provide(provide_principal, sync_to_thread=False)},
    )
    app = Litestar(
        route_handlers=[HealthController, api],
        lifespan=[lifespan],
        state=State({STATE_SETTINGS: settings}),
        dependencies={
            "session": Provide(provide_session),
            "settings": Provide(provide_settings, sync_to_thread=False),
        },
        middleware=[
            # The server span (when telemetry is on) and the request's log line.
            DefineMiddleware(request_log_middleware, telemetry=telemetry),
            # One connection for the key look-up, the idempotency records and the handler.
            request_connection_middleware,
            DefineMiddleware(ApiKeyAuthenticationMiddleware, exclude_from_auth_key=PUBLIC),
            idempotency_middleware,  # after authentication: keys belong to the caller's API key
        ],
        guards=[authorize],
        request_class=CheckedRequest,  # checks every JSON body as it is decoded
        before_request=check_query,  # every query string (query_params.py)
        before_send=[complete_allow],
        exception_handlers=exception_handlers(),
        openapi_config=_openapi(),
        debug=settings.server.debug,
        logging_config=None,  # logging is configured once, in observability.logs
    )
    # Before routing: HEAD as GET (head.py), repeated If-Match lines as one (list_headers.py).
    app.asgi_handler = answer_head_as_get(join_list_headers(app.asgi_handler))
    return app


def _openapi() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="Endcap",
        version=__version__,
        description=(
            "Retail media on the retailer's own customer data. Brand-facing numbers are "
            "privacy-safe aggregates only. Authenticate with 'Authorization: Bearer <API key>'."
        ),
        path="/schema",
        render_plugins=[ScalarRenderPlugin(), SwaggerRenderPlugin()],
        openapi_router=Router(
            path="/schema", route_handlers=[], include_in_schema=False, opt={PUBLIC: True}
        ),
        components=Components(
            security_schemes={
                "apiKey": SecurityScheme(
                    type="http", scheme="bearer", description="an Endcap API key"
                ),
            }
        ),
        security=[{"apiKey": []}],
    )
