"""Operator commands (`kvmesh controlplane|gateway|db`, `tm local`): the one place commands reach servers.

`kvmesh.cli` mounts these groups by name in its lazy command table and never imports them; each
module here imports the server packages (store, controlplane, gateway, engines, local) inside its
commands, so `tm --help` stays as lean as before.
"""
