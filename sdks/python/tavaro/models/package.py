from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.currency import Currency
from ..models.geography import Geography

if TYPE_CHECKING:
    from ..models.coverage import Coverage
    from ..models.throttle import Throttle


T = TypeVar("T", bound="Package")


@_attrs_define
class Package:
    """A plan on sale, at your markup.

    Attributes:
        plan_id (str): What you order with (`planId` of `POST /v1/order`). Example: ae-5gb-7d.
        name (str): Display name. Example: UAE 5GB 7 days.
        country (str): The area it is sold in: a country code, or a region code for regional and global
            plans. Example: AE.
        geography (Geography): Whether an area is one country, a region, or the world.
        days (int): Validity in days from activation. Example: 7.
        data (str): Data allowance for people: `5GB`, `512MB`, or `Unlimited`. Example: 5GB.
        data_mb (int | None): Data allowance in MB; `null` for unlimited plans. Example: 5120.
        price (float): US dollars as a JSON number with at most two decimals (`7.5`, `992.5`, `1000`); negative for
            debits in the ledger. Example: 7.5.
        currency (Currency): Every amount is in US dollars.
        activation (str): When validity starts (`first-use`: when the eSIM first connects). Example: first-use.
        hotspot (bool): Tethering allowed.
        data_roaming (bool): Data roaming included.
        top_up (bool): Top-ups available.
        networks (list[str]): Radio networks. Example: ['4G', '5G'].
        carriers (list[str]): Carriers. Example: ['du', 'Etisalat'].
        coverage (list[Coverage]): The countries it works in.
        throttle (None | Throttle):
    """

    plan_id: str
    name: str
    country: str
    geography: Geography
    days: int
    data: str
    data_mb: int | None
    price: float
    currency: Currency
    activation: str
    hotspot: bool
    data_roaming: bool
    top_up: bool
    networks: list[str]
    carriers: list[str]
    coverage: list[Coverage]
    throttle: None | Throttle
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.throttle import Throttle  # noqa: PLC0415

        plan_id = self.plan_id

        name = self.name

        country = self.country

        geography = self.geography.value

        days = self.days

        data = self.data

        data_mb: int | None
        data_mb = self.data_mb

        price = self.price

        currency = self.currency.value

        activation = self.activation

        hotspot = self.hotspot

        data_roaming = self.data_roaming

        top_up = self.top_up

        networks = self.networks

        carriers = self.carriers

        coverage = []
        for coverage_item_data in self.coverage:
            coverage_item = coverage_item_data.to_dict()
            coverage.append(coverage_item)

        throttle: dict[str, Any] | None
        if isinstance(self.throttle, Throttle):
            throttle = self.throttle.to_dict()
        else:
            throttle = self.throttle

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "planId": plan_id,
                "name": name,
                "country": country,
                "geography": geography,
                "days": days,
                "data": data,
                "dataMb": data_mb,
                "price": price,
                "currency": currency,
                "activation": activation,
                "hotspot": hotspot,
                "dataRoaming": data_roaming,
                "topUp": top_up,
                "networks": networks,
                "carriers": carriers,
                "coverage": coverage,
                "throttle": throttle,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.coverage import Coverage  # noqa: PLC0415
        from ..models.throttle import Throttle  # noqa: PLC0415

        d = dict(src_dict)
        plan_id = d.pop("planId")

        name = d.pop("name")

        country = d.pop("country")

        geography = Geography(d.pop("geography"))

        days = d.pop("days")

        data = d.pop("data")

        def _parse_data_mb(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        data_mb = _parse_data_mb(d.pop("dataMb"))

        price = d.pop("price")

        currency = Currency(d.pop("currency"))

        activation = d.pop("activation")

        hotspot = d.pop("hotspot")

        data_roaming = d.pop("dataRoaming")

        top_up = d.pop("topUp")

        networks = cast(list[str], d.pop("networks"))

        carriers = cast(list[str], d.pop("carriers"))

        coverage = []
        _coverage = d.pop("coverage")
        for coverage_item_data in _coverage:
            coverage_item = Coverage.from_dict(coverage_item_data)

            coverage.append(coverage_item)

        def _parse_throttle(data: object) -> None | Throttle:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                throttle_type_1 = Throttle.from_dict(data)

                return throttle_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | Throttle, data)

        throttle = _parse_throttle(d.pop("throttle"))

        package = cls(
            plan_id=plan_id,
            name=name,
            country=country,
            geography=geography,
            days=days,
            data=data,
            data_mb=data_mb,
            price=price,
            currency=currency,
            activation=activation,
            hotspot=hotspot,
            data_roaming=data_roaming,
            top_up=top_up,
            networks=networks,
            carriers=carriers,
            coverage=coverage,
            throttle=throttle,
        )

        package.additional_properties = d
        return package

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
