"""Kubernetes YAML: containers and pods to Pod/Deployment/Service documents (generate), and back (play)."""
