from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="Throttle")


@_attrs_define
class Throttle:
    """A fair-use policy on an unlimited plan.

    Attributes:
        after_mb (int): Full-speed data before throttling, in MB. Example: 2048.
        speed_kbps (int): Speed once throttled. Example: 512.
        description (str): What the traveller experiences. Example: Full speed for the first 2 GB each day, then 512
            kbps until midnight (UTC)..
    """

    after_mb: int
    speed_kbps: int
    description: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        after_mb = self.after_mb

        speed_kbps = self.speed_kbps

        description = self.description

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "afterMb": after_mb,
                "speedKbps": speed_kbps,
                "description": description,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        after_mb = d.pop("afterMb")

        speed_kbps = d.pop("speedKbps")

        description = d.pop("description")

        throttle = cls(
            after_mb=after_mb,
            speed_kbps=speed_kbps,
            description=description,
        )

        throttle.additional_properties = d
        return throttle

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
