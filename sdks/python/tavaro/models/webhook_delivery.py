from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.delivery_status import DeliveryStatus
from ..models.event_type import EventType

T = TypeVar("T", bound="WebhookDelivery")


@_attrs_define
class WebhookDelivery:
    """One event's delivery to one endpoint.

    Attributes:
        delivery_id (UUID): Its id. Example: 5b7d3c0e-2b8f-4a53-9c64-8d1e0f2a7c31.
        event_id (str): The event delivered (also the `webhook-id` header of every attempt). Example:
            evt_6f1c2d3e4f5a40718293a4b5c6d7e8f9.
        event_type (EventType): Every event type partners can subscribe to (API.md "Webhooks").
        status (DeliveryStatus): The state of one delivery of an event to an endpoint.
        attempts (int): Attempts made so far. Example: 1.
        last_response_status (int | None): The HTTP status of the last attempt's answer; `null` before the first, or
            when no
            answer came (time-out, refused connection). Example: 200.
        next_attempt_at (datetime.datetime | None): When the next attempt is due; `null` unless `pending`. Example:
            2026-12-15T10:00:05Z.
        created_at (datetime.datetime): When the event was queued for this endpoint. Example: 2026-12-15T10:00:00Z.
    """

    delivery_id: UUID
    event_id: str
    event_type: EventType
    status: DeliveryStatus
    attempts: int
    last_response_status: int | None
    next_attempt_at: datetime.datetime | None
    created_at: datetime.datetime
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        delivery_id = str(self.delivery_id)

        event_id = self.event_id

        event_type = self.event_type.value

        status = self.status.value

        attempts = self.attempts

        last_response_status: int | None
        last_response_status = self.last_response_status

        next_attempt_at: None | str
        if isinstance(self.next_attempt_at, datetime.datetime):
            next_attempt_at = self.next_attempt_at.isoformat()
        else:
            next_attempt_at = self.next_attempt_at

        created_at = self.created_at.isoformat()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "deliveryId": delivery_id,
                "eventId": event_id,
                "eventType": event_type,
                "status": status,
                "attempts": attempts,
                "lastResponseStatus": last_response_status,
                "nextAttemptAt": next_attempt_at,
                "createdAt": created_at,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        delivery_id = UUID(d.pop("deliveryId"))

        event_id = d.pop("eventId")

        event_type = EventType(d.pop("eventType"))

        status = DeliveryStatus(d.pop("status"))

        attempts = d.pop("attempts")

        def _parse_last_response_status(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        last_response_status = _parse_last_response_status(d.pop("lastResponseStatus"))

        def _parse_next_attempt_at(data: object) -> datetime.datetime | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                next_attempt_at_type_0 = datetime.datetime.fromisoformat(data)

                return next_attempt_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None, data)

        next_attempt_at = _parse_next_attempt_at(d.pop("nextAttemptAt"))

        created_at = datetime.datetime.fromisoformat(d.pop("createdAt"))

        webhook_delivery = cls(
            delivery_id=delivery_id,
            event_id=event_id,
            event_type=event_type,
            status=status,
            attempts=attempts,
            last_response_status=last_response_status,
            next_attempt_at=next_attempt_at,
            created_at=created_at,
        )

        webhook_delivery.additional_properties = d
        return webhook_delivery

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
