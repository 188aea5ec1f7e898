#!/usr/bin/env python3
"""Well-formed but bogus API keys for bench/auth-flood, one a line.

  bogus_keys.py unknown COUNT              random lookup ids: parse, pass the checksum, exist nowhere
  bogus_keys.py wrong-secret COUNT KEY     KEY's real lookup id with random secrets (valid checksums)

Same format and checksum as src/auth/key.rs: tvr_<12 base62>_<32 base62><CRC-32 as 6 base62>.
"""

import secrets
import sys
import zlib

B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def checksum(body: str) -> str:
    n = zlib.crc32(body.encode())
    digits = []
    for _ in range(6):
        digits.append(B62[n % 62])
        n //= 62
    return "".join(reversed(digits))


def random_b62(n: int) -> str:
    return "".join(secrets.choice(B62) for _ in range(n))


def key(lookup_id: str) -> str:
    body = f"tvr_{lookup_id}_{random_b62(32)}"
    return body + checksum(body)


if __name__ == "__main__":
    mode, count = sys.argv[1], int(sys.argv[2])
    if mode == "unknown":
        lookups = (random_b62(12) for _ in range(count))
    elif mode == "wrong-secret":
        real = sys.argv[3]
        assert real.startswith("tvr_") and len(real) == 55, "a real key is 55 characters"
        lookups = (real[4:16] for _ in range(count))
    else:
        sys.exit(__doc__)
    sys.stdout.write("".join(key(lookup) + "\n" for lookup in lookups))
