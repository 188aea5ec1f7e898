from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.currency import Currency

T = TypeVar("T", bound="Quote")


@_attrs_define
class Quote:
    """What an order would cost, and whether your balance covers it.

    Attributes:
        plan_id (str): The plan. Example: ae-5gb-7d.
        quantity (int): eSIMs. Example: 10.
        unit_cost (float): US dollars as a JSON number with at most two decimals (`7.5`, `992.5`, `1000`); negative for
            debits in the ledger. Example: 7.5.
        total_cost (float): US dollars as a JSON number with at most two decimals (`7.5`, `992.5`, `1000`); negative for
            debits in the ledger. Example: 7.5.
        currency (Currency): Every amount is in US dollars.
        balance (float): US dollars as a JSON number with at most two decimals (`7.5`, `992.5`, `1000`); negative for
            debits in the ledger. Example: 7.5.
        sufficient (bool): Whether `balance` covers `totalCost`.
    """

    plan_id: str
    quantity: int
    unit_cost: float
    total_cost: float
    currency: Currency
    balance: float
    sufficient: bool
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        plan_id = self.plan_id

        quantity = self.quantity

        unit_cost = self.unit_cost

        total_cost = self.total_cost

        currency = self.currency.value

        balance = self.balance

        sufficient = self.sufficient

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "planId": plan_id,
                "quantity": quantity,
                "unitCost": unit_cost,
                "totalCost": total_cost,
                "currency": currency,
                "balance": balance,
                "sufficient": sufficient,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        plan_id = d.pop("planId")

        quantity = d.pop("quantity")

        unit_cost = d.pop("unitCost")

        total_cost = d.pop("totalCost")

        currency = Currency(d.pop("currency"))

        balance = d.pop("balance")

        sufficient = d.pop("sufficient")

        quote = cls(
            plan_id=plan_id,
            quantity=quantity,
            unit_cost=unit_cost,
            total_cost=total_cost,
            currency=currency,
            balance=balance,
            sufficient=sufficient,
        )

        quote.additional_properties = d
        return quote

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
