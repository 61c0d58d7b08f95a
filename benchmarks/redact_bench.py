"""Time the redactor on adversarial lines built from its own pattern shapes.

Each line repeats one shape (``a=``, ``:``, ``@``, ``%3D``, base64 characters, ...) to the given size:
the inputs that make overlapping quantifiers backtrack. Prints seconds per shape and size.

    PYTHONPATH=. python benchmarks/redact_bench.py [SIZE ...]   (default: 6000 20000 100000)
"""

from __future__ import annotations

import sys
import time

from triage.report.redact import Redactor

SHAPES: tuple[str, ...] = (
    "a=", "a:", ":", "@", "a@", "%3D", "a%3D", "aB3+", "a.", "key_", "x://", "a:b@", "_pass=",
    "eyJ.", "-----BEGIN PRIVATE KEY-----", "token ", "AKIAIOSFODNN7EXAMPLE ",
)  # fmt: skip


def adversarial(shape: str, size: int) -> str:
    return (shape * (size // len(shape) + 1))[:size]


def main(sizes: list[int]) -> None:
    for size in sizes:
        worst, total = ("", 0.0), 0.0
        for shape in SHAPES:
            start = time.perf_counter()
            Redactor().text(adversarial(shape, size))
            spent = time.perf_counter() - start
            total += spent
            worst = max(worst, (shape, spent), key=lambda w: w[1])
        print(f"{size:>7} chars: {total:.3f} s for {len(SHAPES)} shapes, worst {worst[0]!r} {worst[1]:.3f} s")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [6000, 20000, 100000])
