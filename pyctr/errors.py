"""Typed errors raised by the library (layer 0: imports nothing from pyctr).

Only the command line turns them into messages and exit codes; each error
carries the exit code podman would use, so that mapping stays in one place.
"""

EXIT_ENGINE = 125  # pyctr itself failed
EXIT_CANNOT_INVOKE = 126  # the container command could not be invoked
EXIT_NOT_FOUND = 127  # the container command was not found


class PyctrError(Exception):
    """Base of every error the library raises on purpose."""

    exit_code = EXIT_ENGINE

    def __init__(self, message: str, *, hint: str | None = None):
        super().__init__(message)
        self.hint = hint


class InvalidReference(PyctrError):
    """An image reference that cannot be parsed."""


class ImageNotFound(PyctrError):
    """No image in the local store matches the name or ID."""


class RegistryError(PyctrError):
    """The registry answered with an error, or could not be reached."""

    def __init__(self, message: str, *, status: int | None = None, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.status = status


class ManifestUnknown(RegistryError):
    """The registry does not know the tag or digest."""


class AuthenticationRequired(RegistryError):
    """The registry refused our credentials (or their absence)."""


class UnsupportedMediaType(PyctrError):
    """A manifest or layer in a format pyctr does not handle."""


class DigestMismatch(PyctrError):
    """Downloaded or unpacked content does not match its digest or size."""


class NoMatchingPlatform(PyctrError):
    """An image index has no manifest for the requested platform."""


class UnsafeArchive(PyctrError):
    """A layer tarball tried to write outside its directory, or is malformed."""


class ImageInUse(PyctrError):
    """An image cannot be removed because something still uses it."""


class InvalidArgument(PyctrError):
    """A flag or argument value the library cannot accept."""


class StoreError(PyctrError):
    """The local store is unusable (permissions, full disk, corruption)."""


class ContainerNotFound(PyctrError):
    """No container matches the name or ID."""


class NameInUse(PyctrError):
    """A container name is already taken."""


class ContainerStateError(PyctrError):
    """The container is not in a state that allows the operation (running, not running, ...)."""


class RuntimeFailure(PyctrError):
    """runc refused or failed; the message is runc's own."""


class CommandNotFound(PyctrError):
    """The container's command does not exist (exit 127, as podman)."""

    exit_code = EXIT_NOT_FOUND


class CommandNotInvokable(PyctrError):
    """The container's command exists but cannot be run (exit 126, as podman)."""

    exit_code = EXIT_CANNOT_INVOKE
