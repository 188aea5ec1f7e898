from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.event_type import EventType
from ..models.mode import Mode

if TYPE_CHECKING:
    from ..models.event_data import EventData


T = TypeVar("T", bound="Event")


@_attrs_define
class Event:
    """An event: the body of every webhook delivery, signed per Standard Webhooks (headers
    `webhook-id`: this `id`; `webhook-timestamp`; `webhook-signature`).

        Example:
            {'createdAt': '2026-12-15T10:00:00Z', 'data': {'createdAt': '2026-12-15T09:59:58Z', 'currency': 'USD',
                'customerEmail': None, 'esimId': None, 'esims': [], 'kind': 'esim', 'orderId':
                '914ce31d-f1b1-43a4-82d4-95f0b9622496', 'planId': 'ae-5gb-7d', 'quantity': 1, 'reference': 'BK-12345', 'status':
                'completed', 'totalCost': 7.5, 'unitCost': 7.5}, 'id': 'evt_6f1c2d3e4f5a40718293a4b5c6d7e8f9', 'mode': 'live',
                'type': 'order.completed'}

        Attributes:
            id (str): `evt_` and 32 hex digits; the same on every attempt (dedupe on it). Example:
                evt_6f1c2d3e4f5a40718293a4b5c6d7e8f9.
            type_ (EventType): Every event type partners can subscribe to (API.md "Webhooks").
            created_at (datetime.datetime): When it happened. Example: 2026-12-15T10:00:00Z.
            mode (Mode): Whether a key, and everything done with it, is real or a test.
            data (EventData): The object the API returned for the subject when the event was first sent: an
                order (`order.*`, `topup.*`, `refund.*`: `GET /v1/orders/{orderId}`), an eSIM
                (`esim.*`: `GET /v1/esim/{esimId}`), the balance (`balance.low`: `GET
                /v1/balance`), an endpoint (`webhook.test`: `GET /v1/webhooks/{webhookId}`).
    """

    id: str
    type_: EventType
    created_at: datetime.datetime
    mode: Mode
    data: EventData
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        id = self.id

        type_ = self.type_.value

        created_at = self.created_at.isoformat()

        mode = self.mode.value

        data = self.data.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "id": id,
                "type": type_,
                "createdAt": created_at,
                "mode": mode,
                "data": data,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.event_data import EventData  # noqa: PLC0415

        d = dict(src_dict)
        id = d.pop("id")

        type_ = EventType(d.pop("type"))

        created_at = datetime.datetime.fromisoformat(d.pop("createdAt"))

        mode = Mode(d.pop("mode"))

        data = EventData.from_dict(d.pop("data"))

        event = cls(
            id=id,
            type_=type_,
            created_at=created_at,
            mode=mode,
            data=data,
        )

        event.additional_properties = d
        return event

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
