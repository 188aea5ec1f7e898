from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.esim_status import EsimStatus

T = TypeVar("T", bound="OrderEsim")


@_attrs_define
class OrderEsim:
    """One eSIM in an order response.

    Attributes:
        esim_id (UUID): For `GET /v1/esim/{esimId}`.
        iccid (str): 18–20 digits starting `89`, as the issuing network numbers the eSIM (most have
            19). The last is a Luhn check digit, except on eSIMs whose provider sends ICCIDs
            without one (Airalo, Roamify): those are passed on as sent. Example: 8901264426716552582.
        status (EsimStatus): Lifecycle of an eSIM as partners see it.
        lpa_code (str): The activation string (`LPA:1$<SM-DP+ address>$<activation code>`); the QR code
            encodes exactly this. Example: LPA:1$smdp.sim.tavaro.io$ALW4J-EM2S9-BPKY7-6NLZ5.
        smdp_address (str): SM-DP+ address, for manual installation. Example: smdp.sim.tavaro.io.
        activation_code (str): Activation code, for manual installation. Example: ALW4J-EM2S9-BPKY7-6NLZ5.
        qr_code_url (str): A PNG of the install QR code, served by the gateway at an unguessable public URL. Example:
            https://api.tavaro.io/qr/Z3L9GpeleVVuSasqPCdBDxf0Ud.png.
        ios_install_url (str): One-tap install on iOS 17.4+. Example:
            https://esimsetup.apple.com/esim_qrcode_provisioning?carddata=LPA:1$smdp.sim.tavaro.io$ALW4J-EM2S9-BPKY7-6NLZ5.
        android_install_url (str): One-tap install on Android. Example: https://esimsetup.android.com/esim_qrcode_provis
            ioning?carddata=LPA:1$smdp.sim.tavaro.io$ALW4J-EM2S9-BPKY7-6NLZ5.
    """

    esim_id: UUID
    iccid: str
    status: EsimStatus
    lpa_code: str
    smdp_address: str
    activation_code: str
    qr_code_url: str
    ios_install_url: str
    android_install_url: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        esim_id = str(self.esim_id)

        iccid = self.iccid

        status = self.status.value

        lpa_code = self.lpa_code

        smdp_address = self.smdp_address

        activation_code = self.activation_code

        qr_code_url = self.qr_code_url

        ios_install_url = self.ios_install_url

        android_install_url = self.android_install_url

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "esimId": esim_id,
                "iccid": iccid,
                "status": status,
                "lpaCode": lpa_code,
                "smdpAddress": smdp_address,
                "activationCode": activation_code,
                "qrCodeUrl": qr_code_url,
                "iosInstallUrl": ios_install_url,
                "androidInstallUrl": android_install_url,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        esim_id = UUID(d.pop("esimId"))

        iccid = d.pop("iccid")

        status = EsimStatus(d.pop("status"))

        lpa_code = d.pop("lpaCode")

        smdp_address = d.pop("smdpAddress")

        activation_code = d.pop("activationCode")

        qr_code_url = d.pop("qrCodeUrl")

        ios_install_url = d.pop("iosInstallUrl")

        android_install_url = d.pop("androidInstallUrl")

        order_esim = cls(
            esim_id=esim_id,
            iccid=iccid,
            status=status,
            lpa_code=lpa_code,
            smdp_address=smdp_address,
            activation_code=activation_code,
            qr_code_url=qr_code_url,
            ios_install_url=ios_install_url,
            android_install_url=android_install_url,
        )

        order_esim.additional_properties = d
        return order_esim

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
