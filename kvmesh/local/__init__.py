"""The local stack: `tm local up|down|status|logs` and `make demo` (Control Plane, Gateway, model)."""
