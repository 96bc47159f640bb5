"""Lifecycle events for integrators: the envelope every event is published in, and the bus
they are published to (docs/events.md)."""
