"""Padding-free input resolutions of NvGaze's convolution stack.

A resolution is valid when every ``valid`` convolution covers its input exactly
(``(n - k) % s == 0`` at every layer), so no pixel is dropped at the border.
``padding_free_resolutions`` lists them as NvGaze's ``get_padding_free_resolution`` does, and
``check_resolution`` fails with the valid values nearest to the one asked for.
"""

from __future__ import annotations

from collections.abc import Sequence


def padding_free_resolutions(
    strides: Sequence[int],
    kernel_sizes: Sequence[int],
    min_resolution: int = 0,
    max_resolution: int = 500,
) -> list[int]:
    """Input sizes (one dimension) at which every layer covers its input exactly."""
    if len(strides) != len(kernel_sizes):
        raise ValueError("strides and kernel_sizes need the same length")
    out: list[int] = []
    final = 1
    while True:
        n = final
        for s, k in zip(reversed(strides), reversed(kernel_sizes), strict=True):
            n = k + s * (n - 1)
        if n > max_resolution:
            return out
        if n >= min_resolution:
            out.append(n)
        final += 1


def layer_sizes(resolution: int, strides: Sequence[int], kernel_sizes: Sequence[int]) -> list[int]:
    """Output size of each layer for one input dimension (``valid`` convolutions)."""
    sizes = []
    n = resolution
    for s, k in zip(strides, kernel_sizes, strict=True):
        n = (n - k) // s + 1
        sizes.append(n)
    return sizes


def is_padding_free(resolution: int, strides: Sequence[int], kernel_sizes: Sequence[int]) -> bool:
    """True when no layer drops input pixels at the border."""
    n = resolution
    for s, k in zip(strides, kernel_sizes, strict=True):
        if n < k or (n - k) % s:
            return False
        n = (n - k) // s + 1
    return True


def check_resolution(
    resolution: Sequence[int],
    strides: Sequence[int],
    kernel_sizes: Sequence[int],
    key: str = "input_resolution",
) -> None:
    """Raise ``ValueError`` naming the nearest valid resolutions when a dimension is not padding-free."""
    for axis, n in zip(("width", "height"), resolution, strict=True):
        if is_padding_free(n, strides, kernel_sizes):
            continue
        valid = padding_free_resolutions(strides, kernel_sizes, 0, max(4 * n, 64))
        near = sorted(valid, key=lambda v: (abs(v - n), v))[:4]
        raise ValueError(
            f"{key} {axis} {n} is not padding-free for strides {list(strides)} and kernel_sizes "
            f"{list(kernel_sizes)}; valid {axis}s near it: {sorted(near)} "
            f"(all up to {max(4 * n, 64)}: {valid[:12]}{' ...' if len(valid) > 12 else ''})"
        )
