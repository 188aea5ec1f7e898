from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.currency import Currency

T = TypeVar("T", bound="Balance")


@_attrs_define
class Balance:
    """Your prepaid credits.

    Attributes:
        balance (float): US dollars as a JSON number with at most two decimals (`7.5`, `992.5`, `1000`); negative for
            debits in the ledger. Example: 7.5.
        currency (Currency): Every amount is in US dollars.
        updated_at (datetime.datetime): When it last changed. Example: 2026-11-22T14:22:58Z.
    """

    balance: float
    currency: Currency
    updated_at: datetime.datetime
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        balance = self.balance

        currency = self.currency.value

        updated_at = self.updated_at.isoformat()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "balance": balance,
                "currency": currency,
                "updatedAt": updated_at,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        balance = d.pop("balance")

        currency = Currency(d.pop("currency"))

        updated_at = datetime.datetime.fromisoformat(d.pop("updatedAt"))

        balance = cls(
            balance=balance,
            currency=currency,
            updated_at=updated_at,
        )

        balance.additional_properties = d
        return balance

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
