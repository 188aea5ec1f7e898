from enum import StrEnum


class OrderKind(StrEnum):
    ESIM = "esim"
    TOPUP = "topup"

    def __str__(self) -> str:
        return str(self.value)
