from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.currency import Currency
from ..models.order_kind import OrderKind
from ..models.order_status import OrderStatus

if TYPE_CHECKING:
    from ..models.order_esim import OrderEsim


T = TypeVar("T", bound="Order")


@_attrs_define
class Order:
    """One order with its eSIMs.

    Attributes:
        order_id (UUID): Our id of the order. Example: 914ce31d-f1b1-43a4-82d4-95f0b9622496.
        status (OrderStatus): Where an order stands.
        kind (OrderKind): What an order buys.
        esim_id (None | UUID): The eSIM a top-up is for; `null` for an order of new eSIMs.
        reference (None | str): Your booking reference, if you sent one. Example: BK-12345.
        plan_id (str): The plan bought. Example: ae-5gb-7d.
        quantity (int): eSIMs ordered. Example: 1.
        unit_cost (float): US dollars as a JSON number with at most two decimals (`7.5`, `992.5`, `1000`); negative for
            debits in the ledger. Example: 7.5.
        total_cost (float): US dollars as a JSON number with at most two decimals (`7.5`, `992.5`, `1000`); negative for
            debits in the ledger. Example: 7.5.
        currency (Currency): Every amount is in US dollars.
        customer_email (None | str): The traveller's address, if you sent one. Example: traveller@example.com.
        created_at (datetime.datetime): When the order was placed. Example: 2026-11-22T14:22:58Z.
        esims (list[OrderEsim]): The eSIMs issued; empty unless the order is `completed`.
    """

    order_id: UUID
    status: OrderStatus
    kind: OrderKind
    esim_id: None | UUID
    reference: None | str
    plan_id: str
    quantity: int
    unit_cost: float
    total_cost: float
    currency: Currency
    customer_email: None | str
    created_at: datetime.datetime
    esims: list[OrderEsim]
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        order_id = str(self.order_id)

        status = self.status.value

        kind = self.kind.value

        esim_id: None | str
        if isinstance(self.esim_id, UUID):
            esim_id = str(self.esim_id)
        else:
            esim_id = self.esim_id

        reference: None | str
        reference = self.reference

        plan_id = self.plan_id

        quantity = self.quantity

        unit_cost = self.unit_cost

        total_cost = self.total_cost

        currency = self.currency.value

        customer_email: None | str
        customer_email = self.customer_email

        created_at = self.created_at.isoformat()

        esims = []
        for esims_item_data in self.esims:
            esims_item = esims_item_data.to_dict()
            esims.append(esims_item)

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "orderId": order_id,
                "status": status,
                "kind": kind,
                "esimId": esim_id,
                "reference": reference,
                "planId": plan_id,
                "quantity": quantity,
                "unitCost": unit_cost,
                "totalCost": total_cost,
                "currency": currency,
                "customerEmail": customer_email,
                "createdAt": created_at,
                "esims": esims,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.order_esim import OrderEsim  # noqa: PLC0415

        d = dict(src_dict)
        order_id = UUID(d.pop("orderId"))

        status = OrderStatus(d.pop("status"))

        kind = OrderKind(d.pop("kind"))

        def _parse_esim_id(data: object) -> None | UUID:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                esim_id_type_0 = UUID(data)

                return esim_id_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | UUID, data)

        esim_id = _parse_esim_id(d.pop("esimId"))

        def _parse_reference(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        reference = _parse_reference(d.pop("reference"))

        plan_id = d.pop("planId")

        quantity = d.pop("quantity")

        unit_cost = d.pop("unitCost")

        total_cost = d.pop("totalCost")

        currency = Currency(d.pop("currency"))

        def _parse_customer_email(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        customer_email = _parse_customer_email(d.pop("customerEmail"))

        created_at = datetime.datetime.fromisoformat(d.pop("createdAt"))

        esims = []
        _esims = d.pop("esims")
        for esims_item_data in _esims:
            esims_item = OrderEsim.from_dict(esims_item_data)

            esims.append(esims_item)

        order = cls(
            order_id=order_id,
            status=status,
            kind=kind,
            esim_id=esim_id,
            reference=reference,
            plan_id=plan_id,
            quantity=quantity,
            unit_cost=unit_cost,
            total_cost=total_cost,
            currency=currency,
            customer_email=customer_email,
            created_at=created_at,
            esims=esims,
        )

        order.additional_properties = d
        return order

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
