from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.mode import Mode
from ..models.webhook_test_event_type import WebhookTestEventType

if TYPE_CHECKING:
    from ..models.webhook import Webhook


T = TypeVar("T", bound="WebhookTestEvent")


@_attrs_define
class WebhookTestEvent:
    """The body of a `webhook.test` event, signed per Standard Webhooks.

    Attributes:
        id (str): `evt_` and 32 hex digits; the same on every attempt (dedupe on it). Example:
            evt_6f1c2d3e4f5a40718293a4b5c6d7e8f9.
        type_ (WebhookTestEventType): What happened.
        created_at (datetime.datetime): When it happened. Example: 2026-12-15T10:00:00Z.
        mode (Mode): Whether a key, and everything done with it, is real or a test.
        data (None | Webhook): The endpoint as `GET /v1/webhooks/{webhookId}` answers it; `null` in `GET /v1/events`
            once the endpoint is deleted.
    """

    id: str
    type_: WebhookTestEventType
    created_at: datetime.datetime
    mode: Mode
    data: None | Webhook
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.webhook import Webhook  # noqa: PLC0415

        id = self.id

        type_ = self.type_.value

        created_at = self.created_at.isoformat()

        mode = self.mode.value

        data: dict[str, Any] | None
        if isinstance(self.data, Webhook):
            data = self.data.to_dict()
        else:
            data = self.data

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
        from ..models.webhook import Webhook  # noqa: PLC0415

        d = dict(src_dict)
        id = d.pop("id")

        type_ = WebhookTestEventType(d.pop("type"))

        created_at = datetime.datetime.fromisoformat(d.pop("createdAt"))

        mode = Mode(d.pop("mode"))

        def _parse_data(data: object) -> None | Webhook:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                data_type_0 = Webhook.from_dict(data)

                return data_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | Webhook, data)

        data = _parse_data(d.pop("data"))

        webhook_test_event = cls(
            id=id,
            type_=type_,
            created_at=created_at,
            mode=mode,
            data=data,
        )

        webhook_test_event.additional_properties = d
        return webhook_test_event

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
