"""kvmesh: a self-hostable LLM serving platform that speaks the Tensormesh protocol."""

__version__ = "0.1.0"
