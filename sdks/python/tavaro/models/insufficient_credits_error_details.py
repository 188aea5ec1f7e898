from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.currency import Currency

T = TypeVar("T", bound="InsufficientCreditsErrorDetails")


@_attrs_define
class InsufficientCreditsErrorDetails:
    """
    Attributes:
        required (float): US dollars as a JSON number with at most two decimals (`7.5`, `992.5`, `1000`); negative for
            debits in the ledger. Example: 7.5.
        balance (float): US dollars as a JSON number with at most two decimals (`7.5`, `992.5`, `1000`); negative for
            debits in the ledger. Example: 7.5.
        currency (Currency): Every amount is in US dollars.
    """

    required: float
    balance: float
    currency: Currency
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        required = self.required

        balance = self.balance

        currency = self.currency.value

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "required": required,
                "balance": balance,
                "currency": currency,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        required = d.pop("required")

        balance = d.pop("balance")

        currency = Currency(d.pop("currency"))

        insufficient_credits_error_details = cls(
            required=required,
            balance=balance,
            currency=currency,
        )

        insufficient_credits_error_details.additional_properties = d
        return insufficient_credits_error_details

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
