"""What runs a container: the OCI spec and seccomp profile, runc, the shim client, logs and attach."""
