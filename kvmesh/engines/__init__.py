"""Inference engines: providers (embedded llama.cpp, vLLM, external) and the deployment controller."""
