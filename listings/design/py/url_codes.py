"""3.1 URL shortener: the code generator in Python, the same keyed Feistel
permutation and base62 encoding as the Rust service, so both give the same
code for the same id and key (the tests compare them)."""

import hashlib
import hmac

# ANCHOR: codes
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
CODE_LEN = 7
SPACE = 62**CODE_LEN
ROUNDS = 4


def base62(n: int) -> str:
    """`n` (below SPACE) as exactly seven characters, zero-padded."""
    if not 0 <= n < SPACE:
        raise ValueError(f"{n} is outside 0..62**{CODE_LEN}")
    digits = []
    for _ in range(CODE_LEN):
        n, digit = divmod(n, 62)
        digits.append(ALPHABET[digit])
    return "".join(reversed(digits))


class Permutation:
    """A keyed bijection on range(domain): a balanced Feistel network with
    HMAC-SHA256 rounds, cycle-walking back into the domain."""

    def __init__(self, key: bytes, domain: int) -> None:
        self.key = key
        self.domain = domain
        self.half_bits = max(1, ((domain - 1).bit_length() + 1) // 2)
        self.mask = (1 << self.half_bits) - 1

    def _round(self, i: int, half: int) -> int:
        message = bytes([i]) + half.to_bytes(8, "big")
        digest = hmac.new(self.key, message, hashlib.sha256).digest()
        return int.from_bytes(digest[:8], "big") & self.mask

    def _block(self, x: int, inverse: bool) -> int:
        left, right = x >> self.half_bits, x & self.mask
        for i in range(ROUNDS):
            if inverse:
                r = ROUNDS - 1 - i
                left, right = right ^ self._round(r, left), left
            else:
                left, right = right, left ^ self._round(i, right)
        return (left << self.half_bits) | right

    def _walk(self, x: int, inverse: bool) -> int:
        if not 0 <= x < self.domain:
            raise ValueError(f"{x} is outside 0..{self.domain}")
        y = self._block(x, inverse)
        while y >= self.domain:
            y = self._block(y, inverse)
        return y

    def forward(self, x: int) -> int:
        return self._walk(x, inverse=False)

    def backward(self, y: int) -> int:
        return self._walk(y, inverse=True)


# ANCHOR_END: codes

DEMO_KEY = b"demo key: not a secret"


def main() -> None:
    ids = Permutation(DEMO_KEY, SPACE)
    print("ids 1..=5 and their codes (a keyed Feistel permutation):")
    for i in range(1, 6):
        p = ids.forward(i)
        print(f"  {i} -> {p:>13} -> {base62(p)}")


if __name__ == "__main__":
    main()
