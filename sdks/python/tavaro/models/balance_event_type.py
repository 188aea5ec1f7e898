from enum import StrEnum


class BalanceEventType(StrEnum):
    BALANCE_LOW = "balance.low"

    def __str__(self) -> str:
        return str(self.value)
