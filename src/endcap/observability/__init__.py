"""Traces, metrics and structured logs (OpenTelemetry, configured by the OTEL_* variables)."""
