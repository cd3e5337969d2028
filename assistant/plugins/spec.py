"""The hooks a plugin may implement. Each returns a list of registrations and does no work.

A plugin is a module (named by an entry point in the group `tailor`) with functions marked `@hookimpl`:

    from assistant.plugins import Metric, hookimpl

    @hookimpl
    def register_metrics():
        return [Metric("entity_f1", corpus=entity_f1)]

Tailor's own tasks, formats, metrics, base models, exporters and commands are registered by the same hooks
(`BUILTINS` in `assistant/plugins/__init__.py`).
"""

from __future__ import annotations

import pluggy

PROJECT = "tailor"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_tasks():
    """Task recipes: `TaskRecipe` records (name, the words that signal it, the instruction, default metrics,
    the suggested answer)."""


@hookspec
def register_formats():
    """Data formats: `DataFormat` records (detect, map, row → example; optionally a reader for own suffixes)."""


@hookspec
def register_metrics():
    """Metrics: `Metric` records (per-example and/or corpus function, higher-is-better)."""


@hookspec
def register_models():
    """Base models for the catalog: `assistant.models.catalog.CatalogModel` records (hub id, size, shape,
    licence, languages, chat template family)."""


@hookspec
def register_exporters():
    """Exporters: `Exporter` records (a name and a function from a registered adapter to files)."""


@hookspec
def register_commands():
    """CLI commands: `Command` records (name, help, arguments, run)."""
