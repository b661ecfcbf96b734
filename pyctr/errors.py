"""Typed errors raised by the library (layer 0: imports nothing from pyctr).

Every error belongs to one category (NotFound, Conflict, InvalidArgument, ...)
that a front end maps in one place: the command line to an exit code (each
error carries the one podman would use), the service to an HTTP status.
"""

EXIT_ENGINE = 125  # pyctr itself failed
EXIT_CANNOT_INVOKE = 126  # the container command could not be invoked
EXIT_NOT_FOUND = 127  # the container command was not found


class PyctrError(Exception):
    """Base of every error the library raises on purpose."""

    exit_code = EXIT_ENGINE
    http_status = 500

    def __init__(self, message: str, *, hint: str | None = None):
        super().__init__(message)
        self.hint = hint


# -- categories ---------------------------------------------------------------------------------

class NotFound(PyctrError):
    """The object named (image, container, volume, registry content) does not exist."""

    http_status = 404


class Conflict(PyctrError):
    """The object exists, but its state forbids the operation (a name taken, an image in use, a running container)."""

    http_status = 409


class InvalidArgument(PyctrError):
    """A flag, argument or spec value the library cannot accept."""

    http_status = 400


class Ambiguous(PyctrError):
    """A short ID or name matches more than one object."""

    http_status = 400


class ConfigError(PyctrError):
    """A configuration file (registries.conf, auth.json, ...) cannot be read or parsed."""


class RegistryError(PyctrError):
    """The registry answered with an error, or could not be reached."""

    def __init__(self, message: str, *, status: int | None = None, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.status = status


class StoreError(PyctrError):
    """The local store is unusable (permissions, full disk, corruption)."""


class RuntimeFailure(PyctrError):
    """runc refused or failed; the message is runc's own."""


# -- images and registries ----------------------------------------------------------------------

class InvalidReference(InvalidArgument):
    """An image reference that cannot be parsed."""


class ImageNotFound(NotFound):
    """No image in the local store matches the name or ID."""


class ImageInUse(Conflict):
    """An image cannot be removed because something still uses it."""


class ManifestUnknown(RegistryError, NotFound):
    """The registry does not know the tag or digest."""

    http_status = 404


class BlobUnknown(RegistryError, NotFound):
    """The registry does not have a blob its manifest names."""

    http_status = 404


class AuthenticationRequired(RegistryError):
    """The registry refused our credentials (or their absence)."""

    http_status = 401


class UnsupportedMediaType(PyctrError):
    """A manifest or layer in a format pyctr does not handle."""


class DigestMismatch(PyctrError):
    """Downloaded or unpacked content does not match its digest or size."""


class NoMatchingPlatform(NotFound):
    """An image index has no manifest for the requested platform."""


class UnsafeArchive(InvalidArgument):
    """A layer tarball tried to write outside its directory, or is malformed."""


# -- containers and volumes ---------------------------------------------------------------------

class ContainerNotFound(NotFound):
    """No container matches the name or ID."""


class VolumeNotFound(NotFound):
    """No volume has that name."""


class NameInUse(Conflict):
    """A container (or volume) name is already taken."""


class ContainerStateError(Conflict):
    """The container is not in a state that allows the operation (running, not running, ...)."""


class CommandNotFound(PyctrError):
    """The container's command does not exist (exit 127, as podman)."""

    exit_code = EXIT_NOT_FOUND


class CommandNotInvokable(PyctrError):
    """The container's command exists but cannot be run (exit 126, as podman)."""

    exit_code = EXIT_CANNOT_INVOKE
