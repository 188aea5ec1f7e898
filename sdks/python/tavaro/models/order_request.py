from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="OrderRequest")


@_attrs_define
class OrderRequest:
    """An order: which plan, how many eSIMs, and optionally the traveller's address and your booking reference. Unknown
    fields are refused (400).

        Example:
            {'customerEmail': 'traveller@example.com', 'planId': 'ae-5gb-7d', 'quantity': 1, 'reference': 'BK-12345'}

        Attributes:
            plan_id (str): A `planId` from `GET /v1/packages`: 1 to 64 of `a-z`, `0-9` and `-` (surrounding
                spaces are ignored). Example: ae-5gb-7d.
            quantity (int | Unset): How many eSIMs of this plan; 1 when left out. Never `null`. Example: 1.
            customer_email (None | str | Unset): The traveller's address, kept with the order. Example:
                traveller@example.com.
            reference (None | str | Unset): Your booking reference, to find the order again (`GET /v1/orders?reference=`).
                Example: BK-12345.
    """

    plan_id: str
    quantity: int | Unset = UNSET
    customer_email: None | str | Unset = UNSET
    reference: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        plan_id = self.plan_id

        quantity = self.quantity

        customer_email: None | str | Unset
        if isinstance(self.customer_email, Unset):
            customer_email = UNSET
        else:
            customer_email = self.customer_email

        reference: None | str | Unset
        if isinstance(self.reference, Unset):
            reference = UNSET
        else:
            reference = self.reference

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "planId": plan_id,
            }
        )
        if quantity is not UNSET:
            field_dict["quantity"] = quantity
        if customer_email is not UNSET:
            field_dict["customerEmail"] = customer_email
        if reference is not UNSET:
            field_dict["reference"] = reference

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        plan_id = d.pop("planId")

        quantity = d.pop("quantity", UNSET)

        def _parse_customer_email(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        customer_email = _parse_customer_email(d.pop("customerEmail", UNSET))

        def _parse_reference(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        reference = _parse_reference(d.pop("reference", UNSET))

        order_request = cls(
            plan_id=plan_id,
            quantity=quantity,
            customer_email=customer_email,
            reference=reference,
        )

        return order_request
