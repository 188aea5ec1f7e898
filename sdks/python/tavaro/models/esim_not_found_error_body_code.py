from enum import StrEnum


class EsimNotFoundErrorBodyCode(StrEnum):
    ESIM_NOT_FOUND = "esim_not_found"

    def __str__(self) -> str:
        return str(self.value)
