"""`python -m kvmesh` runs the same CLI as `tm`."""

from kvmesh.cli import main

main()
