"""Containers: the spec, the record store, creation, operations (tasks) and the views ps and inspect show."""
