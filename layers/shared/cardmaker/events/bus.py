"""Publishing lifecycle events to the EventBridge bus (``LifecycleBus``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from cardmaker.errors import EventNotPublished
from cardmaker.events.envelope import LifecycleEvent


class EventsClient(Protocol):
    """The part of boto3's EventBridge client the bus uses."""

    def put_events(self, *, Entries: list[dict[str, Any]]) -> Mapping[str, Any]: ...


class EventBridgeBus:
    """One ``PutEvents`` per event. EventBridge answers 200 even when it refused an entry: its
    ``FailedEntryCount`` is checked, and a refused entry raises, so that the stream record is
    retried (and, after the bounded retries, lands in the failure queue)."""

    def __init__(self, client: EventsClient, bus_name: str) -> None:
        self._client = client
        self._bus_name = bus_name

    def publish(self, event: LifecycleEvent) -> None:
        answer = self._client.put_events(Entries=[event.entry(self._bus_name)])
        if answer.get("FailedEntryCount", 0):
            entry = (answer.get("Entries") or [{}])[0]
            raise EventNotPublished(event.event_id, str(entry.get("ErrorCode") or "unknown"))
