"""Exports: the same StackSpec on Kubernetes (Kustomize) and Docker Swarm (a stack file).

Pure, like ``render``: a function of the spec, the catalog and the compose model. Each target
maps a setting or says, per service and key, what it could not carry and what it did instead
(``carry``); nothing is dropped silently.
"""
