from enum import StrEnum


class TopupNotFoundErrorBodyCode(StrEnum):
    ESIM_NOT_FOUND = "esim_not_found"
    PLAN_NOT_FOUND = "plan_not_found"

    def __str__(self) -> str:
        return str(self.value)
