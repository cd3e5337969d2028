"""The registry's user-facing error."""

from ..errors import TailorError


class RegistryError(TailorError):
    """A registry operation was refused; the message says why and what to do."""
