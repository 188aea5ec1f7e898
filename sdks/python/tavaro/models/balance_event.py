from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.balance_event_type import BalanceEventType
from ..models.mode import Mode

if TYPE_CHECKING:
    from ..models.balance import Balance


T = TypeVar("T", bound="BalanceEvent")


@_attrs_define
class BalanceEvent:
    """The body of a `balance.low` event, signed per Standard Webhooks.

    Attributes:
        id (str): `evt_` and 32 hex digits; the same on every attempt (dedupe on it). Example:
            evt_6f1c2d3e4f5a40718293a4b5c6d7e8f9.
        type_ (BalanceEventType): What happened.
        created_at (datetime.datetime): When it happened. Example: 2026-12-15T10:00:00Z.
        mode (Mode): Whether a key, and everything done with it, is real or a test.
        data (Balance): Your prepaid credits.
    """

    id: str
    type_: BalanceEventType
    created_at: datetime.datetime
    mode: Mode
    data: Balance
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
        from ..models.balance import Balance  # noqa: PLC0415

        d = dict(src_dict)
        id = d.pop("id")

        type_ = BalanceEventType(d.pop("type"))

        created_at = datetime.datetime.fromisoformat(d.pop("createdAt"))

        mode = Mode(d.pop("mode"))

        data = Balance.from_dict(d.pop("data"))

        balance_event = cls(
            id=id,
            type_=type_,
            created_at=created_at,
            mode=mode,
            data=data,
        )

        balance_event.additional_properties = d
        return balance_event

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
