from enum import StrEnum


class CountryNotFoundErrorBodyCode(StrEnum):
    COUNTRY_NOT_FOUND = "country_not_found"

    def __str__(self) -> str:
        return str(self.value)
