"""Serving: one inference engine (base model + many adapters) and the OpenAI-compatible API."""
