"""A real Keystone and a real Manila (dummy driver) on loopback.

Driven by ``tools/cloud/cloud.py``; see its docstring for the commands.
Runs on the machine's own ``python3`` with the standard library only: the
services' code lives in their own virtualenvs, and the few steps that need
their libraries run as scripts from ``tools/cloud/helpers/`` inside them.
"""
