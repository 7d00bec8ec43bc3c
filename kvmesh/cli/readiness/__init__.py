"""Readiness of the next request: local state (`local`, no network) and live checks (`live`).

`tm auth status`, `tm init`, `tm doctor` and `tm infer doctor` all read it from here; the command
modules only choose what to show.
"""
