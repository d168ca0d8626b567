"""Human-readable quantities shared by the CLI and the web UI."""

from __future__ import annotations


def human_bytes(size: float) -> str:
    """``1536`` → ``"1.5 KiB"`` (IEC units)."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"


def format_metric(value: object) -> str:
    """A metric value for a table cell: six significant digits, whatever was stored.

    Records written before metrics were range-checked may hold integers beyond the float range (``10**400``);
    they are shown in scientific notation from their digits instead of raising ``OverflowError``.

    Args:
        value: a stored metric: an int, a float, ``None`` (NaN or infinity at logging time), or anything else a
            damaged record may hold.

    Returns:
        The text for the cell; ``""`` for ``None``.

    Example:
        >>> format_metric(0.934512), format_metric(10**400), format_metric(None)
        ('0.934512', '1e+400', '')
    """
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    try:
        return f"{value:.6g}"
    except OverflowError:
        assert isinstance(value, int)  # floats always format
        # str() refuses ints over 4,300 digits (CPython's int_max_str_digits).
        digits = str(abs(value)) if value.bit_length() < 14000 else ""
        if not digits:
            return "-huge" if value < 0 else "huge"
        mantissa = f"{digits[0]}.{digits[1:6]}".rstrip("0").rstrip(".")
        return f"{'-' if value < 0 else ''}{mantissa}e+{len(digits) - 1}"
