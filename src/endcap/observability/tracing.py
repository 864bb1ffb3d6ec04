"""OpenTelemetry set-up, chosen by the standard OTEL_* variables.

``OTEL_TRACES_EXPORTER`` / ``OTEL_METRICS_EXPORTER``: ``none`` (the default),
``console``, or ``otlp`` (needs the ``otlp`` extra; endpoint from
``OTEL_EXPORTER_OTLP_ENDPOINT``). ``OTEL_SERVICE_NAME`` and
``OTEL_RESOURCE_ATTRIBUTES`` name the service. ``OTEL_SDK_DISABLED=true``
turns instrumentation off altogether.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from typing import Any

from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from opentelemetry.metrics import MeterProvider as MeterProviderAPI
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    ConsoleMetricExporter,
    MetricReader,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from sqlalchemy.ext.asyncio import AsyncEngine

DEFAULT_SERVICE_NAME = "endcap"


@dataclass(frozen=True, slots=True)
class Telemetry:
    tracer_provider: TracerProvider
    meter_provider: MeterProviderAPI
    exporting_traces: bool

    def shutdown(self) -> None:
        self.tracer_provider.shutdown()
        if isinstance(self.meter_provider, MeterProvider):
            self.meter_provider.shutdown()


def enabled() -> bool:
    return os.environ.get("OTEL_SDK_DISABLED", "false").strip().lower() != "true"


def _exporter_name(variable: str) -> str:
    return os.environ.get(variable, "none").strip().lower() or "none"


def _span_exporter(name: str) -> SpanExporter | None:
    if name == "console":
        return ConsoleSpanExporter()
    if name == "otlp":
        module = importlib.import_module("opentelemetry.exporter.otlp.proto.http.trace_exporter")
        exporter: SpanExporter = module.OTLPSpanExporter()
        return exporter
    if name == "none":
        return None
    raise ValueError(f"OTEL_TRACES_EXPORTER={name!r} is not supported (none, console, otlp)")


def _metric_reader(name: str) -> MetricReader | None:
    if name == "console":
        return PeriodicExportingMetricReader(ConsoleMetricExporter())
    if name == "otlp":
        module = importlib.import_module("opentelemetry.exporter.otlp.proto.http.metric_exporter")
        return PeriodicExportingMetricReader(module.OTLPMetricExporter())
    if name == "none":
        return None
    raise ValueError(f"OTEL_METRICS_EXPORTER={name!r} is not supported (none, console, otlp)")


def configure_telemetry() -> Telemetry:
    """Providers for this process; spans are made (for log correlation) even with no exporter."""
    attributes: dict[str, Any] = {}
    if "OTEL_SERVICE_NAME" not in os.environ:
        attributes["service.name"] = DEFAULT_SERVICE_NAME
    resource = Resource.create(attributes)
    tracer_provider = TracerProvider(resource=resource)
    span_exporter = _span_exporter(_exporter_name("OTEL_TRACES_EXPORTER"))
    if span_exporter is not None:
        tracer_provider.add_span_processor(BatchSpanProcessor(span_exporter))
    reader = _metric_reader(_exporter_name("OTEL_METRICS_EXPORTER"))
    # With no reader nobody can read a measurement, yet the SDK still aggregated every
    # request's histograms: about a tenth of a booking's Python calls (bench_booking).
    meter_provider: MeterProviderAPI = (
        MeterProvider(resource=resource, metric_readers=[reader]) if reader else NoOpMeterProvider()
    )
    HTTPXClientInstrumentor().instrument(
        tracer_provider=tracer_provider, meter_provider=meter_provider
    )
    return Telemetry(
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
        exporting_traces=span_exporter is not None,
    )


def instrument_engine(engine: AsyncEngine, telemetry: Telemetry) -> None:
    """SQL spans, when traces go somewhere: with no exporter nobody sees them, and a
    span per statement costs more than a cheap query does (tests/perf/bench_api.py)."""
    if not telemetry.exporting_traces:
        return
    SQLAlchemyInstrumentor().instrument(
        engine=engine.sync_engine,
        tracer_provider=telemetry.tracer_provider,
        meter_provider=telemetry.meter_provider,
        enable_commenter=False,
    )
