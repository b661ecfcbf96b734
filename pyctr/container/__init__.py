"""Containers: the spec and its flags, the record store, creation, operations (tasks), the OCI mapping."""
