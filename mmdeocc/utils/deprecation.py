"""Old import paths that keep working for one release, with a warning."""
import importlib
import warnings
from typing import Any, Dict


def warn_moved(old: str, new: str) -> None:
    """Warn that module ``old`` moved to ``new``.

    Args:
        old (str): The deprecated dotted module path.
        new (str): Where its names live now.
    """
    warnings.warn(
        f'{old} is deprecated and will be removed in the next release; '
        f'import from {new} instead', DeprecationWarning, stacklevel=3)


def moved_attribute(package: str, name: str, moved: Dict[str, str]) -> Any:
    """Resolve a name that moved out of ``package`` (a module ``__getattr__``).

    Args:
        package (str): The package whose ``__getattr__`` is asked.
        name (str): The attribute asked for.
        moved (dict[str, str]): Moved name -> the module that has it now,
            or ``'module:new_name'`` when it was also renamed.

    Returns:
        Any: The object, after a :class:`DeprecationWarning`.

    Raises:
        AttributeError: ``name`` is not a moved name.
    """
    if name not in moved:
        raise AttributeError(f'module {package!r} has no attribute {name!r}')
    module, _, new_name = moved[name].partition(':')
    new_name = new_name or name
    warnings.warn(
        f'{package}.{name} is deprecated and will be removed in the next '
        f'release; use {module}.{new_name} instead',
        DeprecationWarning, stacklevel=3)
    return getattr(importlib.import_module(module), new_name)
