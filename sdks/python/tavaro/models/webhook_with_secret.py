from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.endpoint_status import EndpointStatus
from ..models.event_type import EventType

T = TypeVar("T", bound="WebhookWithSecret")


@_attrs_define
class WebhookWithSecret:
    """An endpoint with its signing secret: the answer to a creation or a rotation, the only
    time the secret is shown.

        Attributes:
            webhook_id (UUID): Its id. Example: 3f0c7a52-8a0e-4d59-a4f4-3e9d2c4f7b10.
            url (str): Where deliveries are POSTed. Example: https://example.com/hooks.
            events (list[EventType] | None): The event types it receives; `null`: every type. Example: ['order.completed',
                'order.failed'].
            description (None | str): Your note. Example: Bookings backend.
            status (EndpointStatus): Whether an endpoint receives deliveries.
            created_at (datetime.datetime): When it was created. Example: 2026-12-15T10:00:00Z.
            secret (str): The signing secret (Standard Webhooks: `whsec_` + base64 of 32 random bytes). Shown
                only here: keep it where your receiver reads it. Example: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwMfKQ9r8GKYo=.
    """

    webhook_id: UUID
    url: str
    events: list[EventType] | None
    description: None | str
    status: EndpointStatus
    created_at: datetime.datetime
    secret: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        webhook_id = str(self.webhook_id)

        url = self.url

        events: list[str] | None
        if isinstance(self.events, list):
            events = []
            for events_type_0_item_data in self.events:
                events_type_0_item = events_type_0_item_data.value
                events.append(events_type_0_item)

        else:
            events = self.events

        description: None | str
        description = self.description

        status = self.status.value

        created_at = self.created_at.isoformat()

        secret = self.secret

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "webhookId": webhook_id,
                "url": url,
                "events": events,
                "description": description,
                "status": status,
                "createdAt": created_at,
                "secret": secret,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        webhook_id = UUID(d.pop("webhookId"))

        url = d.pop("url")

        def _parse_events(data: object) -> list[EventType] | None:
            if data is None:
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                events_type_0 = []
                _events_type_0 = data
                for events_type_0_item_data in _events_type_0:
                    events_type_0_item = EventType(events_type_0_item_data)

                    events_type_0.append(events_type_0_item)

                return events_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[EventType] | None, data)

        events = _parse_events(d.pop("events"))

        def _parse_description(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        description = _parse_description(d.pop("description"))

        status = EndpointStatus(d.pop("status"))

        created_at = datetime.datetime.fromisoformat(d.pop("createdAt"))

        secret = d.pop("secret")

        webhook_with_secret = cls(
            webhook_id=webhook_id,
            url=url,
            events=events,
            description=description,
            status=status,
            created_at=created_at,
            secret=secret,
        )

        webhook_with_secret.additional_properties = d
        return webhook_with_secret

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
