"""The registry's user-facing error."""


class RegistryError(Exception):
    """A registry operation was refused; the message says why and what to do."""
