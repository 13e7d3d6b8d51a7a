"""Version of mmdeocc."""

__version__ = '0.1.0'


def parse_version_info(version_str: str) -> tuple:
    """Parse a version string like ``'1.2.3rc1'`` into a comparable tuple.

    Args:
        version_str (str): The version string.

    Returns:
        tuple: Integer components, e.g. ``(1, 2, 3)``; suffixes are dropped.
    """
    parts = []
    for piece in version_str.split('.'):
        digits = ''
        for ch in piece:
            if not ch.isdigit():
                break
            digits += ch
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


version_info = parse_version_info(__version__)
