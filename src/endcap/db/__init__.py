"""Engine, session and shared column types."""
