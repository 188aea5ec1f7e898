from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="SandboxUsage")


@_attrs_define
class SandboxUsage:
    """Data the traveller used.

    Example:
        {'mb': 500}

    Attributes:
        mb (int): Megabytes used, a whole number from 1 to 10,000,000. Example: 500.
    """

    mb: int

    def to_dict(self) -> dict[str, Any]:
        mb = self.mb

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "mb": mb,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        mb = d.pop("mb")

        sandbox_usage = cls(
            mb=mb,
        )

        return sandbox_usage
