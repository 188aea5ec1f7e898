from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="Coverage")


@_attrs_define
class Coverage:
    """One country a plan works in.

    Attributes:
        code (str): ISO 3166-1 alpha-2 code. Example: AE.
        name (str): English name. Example: United Arab Emirates.
        networks (list[str]): Radio networks. Example: ['4G', '5G'].
        carriers (list[str]): Carriers. Example: ['du', 'Etisalat'].
    """

    code: str
    name: str
    networks: list[str]
    carriers: list[str]
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        code = self.code

        name = self.name

        networks = self.networks

        carriers = self.carriers

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "code": code,
                "name": name,
                "networks": networks,
                "carriers": carriers,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        code = d.pop("code")

        name = d.pop("name")

        networks = cast(list[str], d.pop("networks"))

        carriers = cast(list[str], d.pop("carriers"))

        coverage = cls(
            code=code,
            name=name,
            networks=networks,
            carriers=carriers,
        )

        coverage.additional_properties = d
        return coverage

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
