from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.esim_status import EsimStatus

T = TypeVar("T", bound="Esim")


@_attrs_define
class Esim:
    """An eSIM's status, usage and install details.

    Attributes:
        esim_id (UUID): Our id of the eSIM. Example: 9c9b5647-05fa-403c-99e2-26f0be9cb0dd.
        iccid (str): 18–20 digits starting `89`, as the issuing network numbers the eSIM (most have
            19). The last is a Luhn check digit, except on eSIMs whose provider sends ICCIDs
            without one (Airalo, Roamify): those are passed on as sent. Example: 8901264426716552582.
        order_id (UUID): The order that bought it. Example: 914ce31d-f1b1-43a4-82d4-95f0b9622496.
        plan_id (str): Its plan. Example: ae-5gb-7d.
        status (EsimStatus): Lifecycle of an eSIM as partners see it.
        data_total_mb (int | None): Data included, in MB; `null` for unlimited plans. Example: 5120.
        data_used_mb (int): Data used so far, in MB. Example: 500.
        data_remaining_mb (int | None): Data left, in MB; `null` for unlimited plans. Example: 4620.
        activated_at (datetime.datetime | None): First use; `null` until then. Example: 2026-11-23T08:00:00Z.
        expires_at (datetime.datetime | None): End of validity: activation + the plan's `days`; `null` until first use.
            Example: 2026-11-30T08:00:00Z.
        lpa_code (str): The activation string the QR code encodes. Example:
            LPA:1$smdp.sim.tavaro.io$ALW4J-EM2S9-BPKY7-6NLZ5.
        qr_code_url (str): A PNG of the install QR code, public at an unguessable URL. Example:
            https://api.tavaro.io/qr/Z3L9GpeleVVuSasqPCdBDxf0Ud.png.
        ios_install_url (str): One-tap install on iOS 17.4+. Example:
            https://esimsetup.apple.com/esim_qrcode_provisioning?carddata=LPA:1$smdp.sim.tavaro.io$ALW4J-EM2S9-BPKY7-6NLZ5.
        android_install_url (str): One-tap install on Android. Example: https://esimsetup.android.com/esim_qrcode_provis
            ioning?carddata=LPA:1$smdp.sim.tavaro.io$ALW4J-EM2S9-BPKY7-6NLZ5.
        created_at (datetime.datetime): When it was issued. Example: 2026-11-22T14:22:58Z.
        usage_updated_at (datetime.datetime | None): When the usage figures were last read from the provider; `null`
            until the first
            read. Older than a minute or so when the provider could not be reached: the figures
            are the last it gave. Example: 2026-11-23T09:12:04Z.
        topup_order_ids (list[UUID]): The orders that topped it up (kind `topup`), oldest first; see
            `GET /v1/orders/{orderId}` for how each ended.
    """

    esim_id: UUID
    iccid: str
    order_id: UUID
    plan_id: str
    status: EsimStatus
    data_total_mb: int | None
    data_used_mb: int
    data_remaining_mb: int | None
    activated_at: datetime.datetime | None
    expires_at: datetime.datetime | None
    lpa_code: str
    qr_code_url: str
    ios_install_url: str
    android_install_url: str
    created_at: datetime.datetime
    usage_updated_at: datetime.datetime | None
    topup_order_ids: list[UUID]
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        esim_id = str(self.esim_id)

        iccid = self.iccid

        order_id = str(self.order_id)

        plan_id = self.plan_id

        status = self.status.value

        data_total_mb: int | None
        data_total_mb = self.data_total_mb

        data_used_mb = self.data_used_mb

        data_remaining_mb: int | None
        data_remaining_mb = self.data_remaining_mb

        activated_at: None | str
        if isinstance(self.activated_at, datetime.datetime):
            activated_at = self.activated_at.isoformat()
        else:
            activated_at = self.activated_at

        expires_at: None | str
        if isinstance(self.expires_at, datetime.datetime):
            expires_at = self.expires_at.isoformat()
        else:
            expires_at = self.expires_at

        lpa_code = self.lpa_code

        qr_code_url = self.qr_code_url

        ios_install_url = self.ios_install_url

        android_install_url = self.android_install_url

        created_at = self.created_at.isoformat()

        usage_updated_at: None | str
        if isinstance(self.usage_updated_at, datetime.datetime):
            usage_updated_at = self.usage_updated_at.isoformat()
        else:
            usage_updated_at = self.usage_updated_at

        topup_order_ids = []
        for topup_order_ids_item_data in self.topup_order_ids:
            topup_order_ids_item = str(topup_order_ids_item_data)
            topup_order_ids.append(topup_order_ids_item)

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "esimId": esim_id,
                "iccid": iccid,
                "orderId": order_id,
                "planId": plan_id,
                "status": status,
                "dataTotalMb": data_total_mb,
                "dataUsedMb": data_used_mb,
                "dataRemainingMb": data_remaining_mb,
                "activatedAt": activated_at,
                "expiresAt": expires_at,
                "lpaCode": lpa_code,
                "qrCodeUrl": qr_code_url,
                "iosInstallUrl": ios_install_url,
                "androidInstallUrl": android_install_url,
                "createdAt": created_at,
                "usageUpdatedAt": usage_updated_at,
                "topupOrderIds": topup_order_ids,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        esim_id = UUID(d.pop("esimId"))

        iccid = d.pop("iccid")

        order_id = UUID(d.pop("orderId"))

        plan_id = d.pop("planId")

        status = EsimStatus(d.pop("status"))

        def _parse_data_total_mb(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        data_total_mb = _parse_data_total_mb(d.pop("dataTotalMb"))

        data_used_mb = d.pop("dataUsedMb")

        def _parse_data_remaining_mb(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        data_remaining_mb = _parse_data_remaining_mb(d.pop("dataRemainingMb"))

        def _parse_activated_at(data: object) -> datetime.datetime | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                activated_at_type_0 = datetime.datetime.fromisoformat(data)

                return activated_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None, data)

        activated_at = _parse_activated_at(d.pop("activatedAt"))

        def _parse_expires_at(data: object) -> datetime.datetime | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                expires_at_type_0 = datetime.datetime.fromisoformat(data)

                return expires_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None, data)

        expires_at = _parse_expires_at(d.pop("expiresAt"))

        lpa_code = d.pop("lpaCode")

        qr_code_url = d.pop("qrCodeUrl")

        ios_install_url = d.pop("iosInstallUrl")

        android_install_url = d.pop("androidInstallUrl")

        created_at = datetime.datetime.fromisoformat(d.pop("createdAt"))

        def _parse_usage_updated_at(data: object) -> datetime.datetime | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                usage_updated_at_type_0 = datetime.datetime.fromisoformat(data)

                return usage_updated_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None, data)

        usage_updated_at = _parse_usage_updated_at(d.pop("usageUpdatedAt"))

        topup_order_ids = []
        _topup_order_ids = d.pop("topupOrderIds")
        for topup_order_ids_item_data in _topup_order_ids:
            topup_order_ids_item = UUID(topup_order_ids_item_data)

            topup_order_ids.append(topup_order_ids_item)

        esim = cls(
            esim_id=esim_id,
            iccid=iccid,
            order_id=order_id,
            plan_id=plan_id,
            status=status,
            data_total_mb=data_total_mb,
            data_used_mb=data_used_mb,
            data_remaining_mb=data_remaining_mb,
            activated_at=activated_at,
            expires_at=expires_at,
            lpa_code=lpa_code,
            qr_code_url=qr_code_url,
            ios_install_url=ios_install_url,
            android_install_url=android_install_url,
            created_at=created_at,
            usage_updated_at=usage_updated_at,
            topup_order_ids=topup_order_ids,
        )

        esim.additional_properties = d
        return esim

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
