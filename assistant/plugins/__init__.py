"""The plugin registry: tasks, data formats, metrics, base models, exporters and CLI commands.

Plugins are Python packages that declare an entry point in the group `tailor` naming a module with
`@hookimpl` functions (`spec.py` lists the hooks). They are loaded with pluggy. Tailor's own registrations
are plugins too (`BUILTINS`), loaded first through the same code path. `TAILOR_PLUGINS` chooses which
installed plugins load (unset: all; `none`: only the built-ins; or a comma-separated list of names).

A plugin that fails to import, whose hook raises, or that registers something invalid (a bad name, a name
already taken, a task naming a metric nobody registered) is disabled as a whole — none of its registrations
are used — and `problems()` gives the one-line reason, shown by `tailor plugins list` and the Settings tab.
Tailor never downloads or installs a plugin: they are code the user installed with pip.
"""

from __future__ import annotations

import importlib
import threading
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

from .records import Command, DataFormat, Exporter, Invalid, Metric, TaskRecipe
from .spec import PROJECT, hookimpl

__all__ = ["BUILTINS", "Command", "DataFormat", "Exporter", "Invalid", "Metric", "Plugin", "Plugins",
           "TaskRecipe", "get", "hookimpl", "reset"]

BUILTINS = ("assistant.plugins.builtin", "assistant.cli", "assistant.sweep_cli")
"""Tailor's own registrations, as plugin modules."""
KINDS = ("tasks", "formats", "metrics", "models", "exporters", "commands")
BUILTIN = "tailor (built-in)"


@dataclass
class Plugin:
    """One plugin as loaded: where it came from, what it added, or why it is disabled."""

    name: str
    version: str
    source: str
    """`built-in`, or the entry point (`tailor_ner = tailor_ner.plugin` from distribution tailor-ner)."""
    adds: dict[str, list[str]] = field(default_factory=dict)
    error: str = ""

    @property
    def builtin(self) -> bool:
        return self.source == "built-in"

    def summary(self) -> str:
        return "; ".join(f"{kind} {', '.join(names)}" for kind, names in self.adds.items() if names) or "nothing"


@dataclass
class Plugins:
    """Everything registered, by kind and name, and who registered it."""

    tasks: dict[str, TaskRecipe] = field(default_factory=dict)
    formats: dict[str, DataFormat] = field(default_factory=dict)
    metrics: dict[str, Metric] = field(default_factory=dict)
    models: dict[str, Any] = field(default_factory=dict)
    """Catalog entries (`assistant.models.catalog.CatalogModel`) by name, in registration order."""
    exporters: dict[str, Exporter] = field(default_factory=dict)
    commands: dict[str, Command] = field(default_factory=dict)
    plugins: list[Plugin] = field(default_factory=list)
    owner: dict[tuple[str, str], Plugin] = field(default_factory=dict)
    """(kind, name) → the plugin that registered it."""

    def problems(self) -> list[str]:
        """One line per disabled plugin."""
        return [f"plugin {p.name} disabled: {p.error}" for p in self.plugins if p.error]

    def task_order(self) -> list[TaskRecipe]:
        """Tasks in the order their patterns are tried: highest priority first, then registration order."""
        return sorted(self.tasks.values(), key=lambda t: -t.priority)

    def format_order(self) -> list[DataFormat]:
        return sorted(self.formats.values(), key=lambda f: -f.priority)

    def used_by(self, plan: Any) -> dict[str, str]:
        """The installed plugins (not the built-ins) a plan relies on: {plugin name: version}."""
        wanted = [("tasks", plan.task.type), ("formats", plan.data.format), ("models", plan.base_model.name),
                  *(("metrics", m) for m in plan.evaluation.metrics)]
        out = {}
        for key in wanted:
            p = self.owner.get(key)
            if p is not None and not p.builtin:
                out[p.name] = p.version
        return out

    def answers_are_labels(self, task_type: str | None) -> bool:
        """Whether the registered task's answers are labels from a fixed set (baselines, stratified splits)."""
        recipe = self.tasks.get(task_type or "")
        return bool(recipe and recipe.labels)

    def exporter(self, name: str) -> Exporter:
        """The registered exporter of that name, or an error listing the ones there are."""
        from ..errors import TailorError

        if name not in self.exporters:
            raise TailorError(f"no exporter named {name!r}; exporters: {', '.join(self.exporters)}")
        return self.exporters[name]

    def higher_is_better(self, metric: str) -> bool:
        """How a stored metric sorts best-first: as its registration says; losses (train_loss, eval_loss) and
        other unregistered names ending in `loss` are lower-is-better."""
        m = self.metrics.get(metric)
        return m.higher_is_better if m is not None else not metric.endswith("loss")

    def missing(self, used: dict[str, str]) -> list[str]:
        """Of the plugins a plan recorded ({name: version}), those not loaded now, as `name version`."""
        loaded = {p.name for p in self.plugins if not p.error}
        return [f"{name} {version}" for name, version in sorted(used.items()) if name not in loaded]


_lock = threading.Lock()
_cache: dict[str | None, Plugins] = {}


def get() -> Plugins:
    """The registry for this process (loaded once per TAILOR_PLUGINS value)."""
    from ..config import environment

    selection = environment().plugins
    with _lock:
        if selection not in _cache:
            _cache[selection] = load(selection)
        return _cache[selection]


def reset() -> None:
    """Forget the loaded registry (tests that install or choose plugins)."""
    with _lock:
        _cache.clear()


def chosen(name: str, selection: str | None) -> bool:
    if selection is None or selection.strip().lower() in ("", "all"):
        return True
    wanted = {s.strip() for s in selection.split(",")}
    return name in wanted and "none" not in wanted


def load(selection: str | None = None) -> Plugins:
    import pluggy

    from . import spec

    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(spec)
    out = Plugins()
    candidates: list[tuple[Plugin, Any]] = []
    for module_name in BUILTINS:
        candidates.append((Plugin(module_name, _version("tailor"), "built-in"), importlib.import_module(module_name)))
    for ep in _entry_points():
        dist = getattr(ep, "dist", None)
        plugin = Plugin(ep.name, dist.version if dist else "?",
                        f"entry point {ep.name} = {ep.value}" + (f" (from {dist.name})" if dist else ""))
        if not chosen(ep.name, selection):
            continue
        if any(p.name == ep.name for p, _ in candidates):
            plugin.error = f"another plugin is already named {ep.name!r}"
            out.plugins.append(plugin)
            continue
        try:
            candidates.append((plugin, ep.load()))
        except Exception as e:  # anything a broken package raises on import
            plugin.error = f"failed to import: {type(e).__name__}: {_line(e)}"
            out.plugins.append(plugin)
    for plugin, module in candidates:
        try:
            pm.register(module, name=plugin.name)
            pm.check_pending()  # a @hookimpl no spec names (a misspelt hook) would otherwise be ignored silently
        except Exception as e:  # pluggy's validation: a hook that is not in the spec, a wrong signature
            if pm.is_registered(module):
                pm.unregister(module)
            plugin.error = f"not a valid plugin: {_line(e)}"
            out.plugins.append(plugin)
            continue
        _collect(pm, plugin, out)
        out.plugins.append(plugin)
    _check_references(out)
    broken = [p for p in out.plugins if p.builtin and p.error]
    if broken:  # Tailor's own registrations are wrong: a bug to fix, not a plugin to disable
        raise RuntimeError(f"built-in plugin {broken[0].name}: {broken[0].error}")
    return out


def _collect(pm: Any, plugin: Plugin, out: Plugins) -> None:
    """Call each of the plugin's hooks; keep its registrations only if every one is valid."""
    got: dict[str, list[Any]] = {}
    try:
        for kind in KINDS:
            hook = getattr(pm.hook, f"register_{kind}")
            for impl in hook.get_hookimpls():
                if impl.plugin_name == plugin.name:
                    result = impl.function()
                    if result is None or isinstance(result, (str, bytes, dict)) or not hasattr(result, "__iter__"):
                        raise Invalid(f"register_{kind} must return a list, got {type(result).__name__}")
                    got.setdefault(kind, []).extend(result)
        for kind, items in got.items():
            for item in items:
                _check(kind, item)
                table = getattr(out, kind)
                if item.name in table or sum(i.name == item.name for i in items) > 1:
                    who = out.owner.get((kind, item.name))
                    raise Invalid(f"{kind[:-1]} {item.name!r} is already registered"
                                  + (f" by {who.name}" if who else " twice"))
    except Exception as e:  # a hook that raises, or an invalid registration: the whole plugin is disabled
        pm.unregister(name=plugin.name)
        plugin.error = _line(e) if isinstance(e, Invalid) else f"a hook failed: {type(e).__name__}: {_line(e)}"
        return
    for kind, items in got.items():
        table = getattr(out, kind)
        for item in items:
            table[item.name] = item
            out.owner[(kind, item.name)] = plugin
        plugin.adds[kind] = [i.name for i in items]


def _check(kind: str, item: Any) -> None:
    from ..models.catalog import CatalogModel

    expected = {"tasks": TaskRecipe, "formats": DataFormat, "metrics": Metric, "models": CatalogModel,
                "exporters": Exporter, "commands": Command}[kind]
    if not isinstance(item, expected):
        raise Invalid(f"register_{kind} returned a {type(item).__name__}, not a {expected.__name__}")
    item.check()


def _check_references(out: Plugins) -> None:
    """A task's default metrics and a format's implied task must exist; else its plugin is disabled."""
    for plugin in [p for p in out.plugins if not p.error]:
        bad = [f"task {t!r} names metric {m!r}, which no plugin registers"
               for t in plugin.adds.get("tasks", []) for m in out.tasks[t].metrics if m not in out.metrics]
        bad += [f"format {f!r} implies task {out.formats[f].task!r}, which no plugin registers"
                for f in plugin.adds.get("formats", []) if out.formats[f].task not in (None, *out.tasks)]
        if bad:
            plugin.error = bad[0]
            for kind, names in plugin.adds.items():
                for name in names:
                    getattr(out, kind).pop(name, None)
                    out.owner.pop((kind, name), None)
            plugin.adds = {}


def add_commands(subparsers) -> list[str]:
    """Add every registered command to `tailor`'s argparse `subparsers`, each with its own arguments. A command
    whose arguments fail to build or whose help does not print, or whose name is taken (`serve`, which the web
    app adds), is left out and the others go on: one line each, returned, says which plugin's and why."""
    import argparse

    loaded, problems = get(), []
    for command in loaded.commands.values():
        owner = loaded.owner.get(("commands", command.name))
        who = f"plugin {owner.name}'s" if owner is not None else "the"
        if command.name in subparsers.choices:
            problems.append(f"{who} command {command.name!r} left out: `tailor {command.name}` is already a command")
            continue
        try:  # on a parser of its own first, so a failure leaves nothing half-added
            trial = argparse.ArgumentParser(prog=f"tailor {command.name}")
            if command.arguments is not None:
                command.arguments(trial)
            trial.format_help()
        except Exception as e:  # noqa: BLE001 - a plugin's code may fail in any way
            problems.append(f"{who} command {command.name!r} left out: its arguments failed: "
                            f"{type(e).__name__}: {_line(e)}")
            continue
        # a command's help is plain words ("95% intervals" would be an argparse format, and fail on --help)
        p = subparsers.add_parser(command.name, help=command.help.replace("%", "%%"))
        if command.arguments is not None:
            command.arguments(p)
        p.set_defaults(func=command.run)
    return problems


def _entry_points() -> list[Any]:
    try:
        return sorted(metadata.entry_points(group=PROJECT), key=lambda ep: ep.name)
    except Exception:  # a broken distribution's metadata must not stop Tailor
        return []


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "?"


def _line(e: BaseException) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return text[:300]
