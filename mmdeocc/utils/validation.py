"""Argument checks shared by the modules."""
from typing import Any, Collection, Type


def check_choice(name: str,
                 value: Any,
                 choices: Collection[Any],
                 error: Type[Exception] = ValueError) -> None:
    """Raise ``error`` when ``value`` is not one of ``choices``.

    Args:
        name (str): Argument name for the message.
        value (Any): The given value.
        choices (Collection): Allowed values (shown as given, so pass a
            sorted list for sets and dicts).
        error (type): Exception class raised.

    Raises:
        Exception: ``error('<name> must be one of <choices>, got <value>')``.
    """
    if value not in choices:
        raise error(f'{name} must be one of {choices}, got {value!r}')
