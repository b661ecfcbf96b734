"""Pods: containers that share the network, IPC and UTS namespaces of an infra container (podman's pods)."""
