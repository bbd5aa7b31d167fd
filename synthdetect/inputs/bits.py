"""An MSB-first bit reader for the codec headers read without decoding: AV1's ``f(n)``, ``ns(n)``
and ``uvlc()`` (``inputs.avif``), H.265's ``u(n)``, ``ue(v)`` and ``se(v)`` (``inputs.heif``).
``ValueError`` past the end of the data or on an over-long code.  Pure Python."""

from __future__ import annotations


class Bits:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def u(self, n: int) -> int:
        """The next ``n`` bits as an unsigned integer (AV1's ``f(n)``)."""
        v = 0
        for _ in range(n):
            byte = self.pos >> 3
            if byte >= len(self.data):
                raise ValueError("header too short")
            v = (v << 1) | ((self.data[byte] >> (7 - (self.pos & 7))) & 1)
            self.pos += 1
        return v

    f = u

    def ns(self, n: int) -> int:
        """AV1's non-symmetric unsigned code of a value below ``n``."""
        w = n.bit_length()  # FloorLog2(n) + 1
        m = (1 << w) - n
        v = self.u(w - 1)
        return v if v < m else (v << 1) - m + self.u(1)

    def _leading_zeros(self) -> int:
        zeros = 0
        while not self.u(1):
            zeros += 1
            if zeros >= 32:
                raise ValueError("variable-length code too long")
        return zeros

    def uvlc(self) -> int:
        """AV1's variable-length unsigned code."""
        zeros = self._leading_zeros()
        return self.u(zeros) + (1 << zeros) - 1

    ue = uvlc  # H.265's Exp-Golomb ue(v) is the same code

    def se(self) -> int:
        """H.265's signed Exp-Golomb code."""
        k = self.ue()
        return (k + 1) // 2 if k & 1 else -(k // 2)
