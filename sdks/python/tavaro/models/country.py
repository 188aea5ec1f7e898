from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.geography import Geography

T = TypeVar("T", bound="Country")


@_attrs_define
class Country:
    """A country, region or the global area with plans on sale.

    Attributes:
        name (str): English name. Example: United Arab Emirates.
        code (str): ISO 3166-1 alpha-2 code for a country; a region code (`EU`, `ASIA`, `GLOBAL`, ...)
            otherwise. Use it as `country` in `GET /v1/packages`. Example: AE.
        geography (Geography): Whether an area is one country, a region, or the world.
        plan_count (int): Plans on sale in this area. Example: 6.
        from_price (float): US dollars as a JSON number with at most two decimals (`7.5`, `992.5`, `1000`); negative for
            debits in the ledger. Example: 7.5.
        networks (list[str]): Radio networks (for a region: those of its countries). Example: ['4G', 'LTE', '5G'].
        carriers (list[str]): Carriers (for a region: those of its countries). Example: ['du', 'Etisalat'].
        countries_covered (int): Countries the area spans: 1 for a country. Example: 1.
    """

    name: str
    code: str
    geography: Geography
    plan_count: int
    from_price: float
    networks: list[str]
    carriers: list[str]
    countries_covered: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        name = self.name

        code = self.code

        geography = self.geography.value

        plan_count = self.plan_count

        from_price = self.from_price

        networks = self.networks

        carriers = self.carriers

        countries_covered = self.countries_covered

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "name": name,
                "code": code,
                "geography": geography,
                "planCount": plan_count,
                "fromPrice": from_price,
                "networks": networks,
                "carriers": carriers,
                "countriesCovered": countries_covered,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        name = d.pop("name")

        code = d.pop("code")

        geography = Geography(d.pop("geography"))

        plan_count = d.pop("planCount")

        from_price = d.pop("fromPrice")

        networks = cast(list[str], d.pop("networks"))

        carriers = cast(list[str], d.pop("carriers"))

        countries_covered = d.pop("countriesCovered")

        country = cls(
            name=name,
            code=code,
            geography=geography,
            plan_count=plan_count,
            from_price=from_price,
            networks=networks,
            carriers=carriers,
            countries_covered=countries_covered,
        )

        country.additional_properties = d
        return country

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
