"""Polling that costs nothing while nobody looks: each tab's refreshers tick only while that tab is shown.

Every tick is a request through Gradio's queue; on a 2-core machine six always-on timers per open page took
most of a core from the server and half of one from the browser, and a CPU training run went at half speed
while its Jobs tab was open. A tab's `tab()` returns its `Poll`s; `app.build_app` starts them when the tab is
selected (refreshing at once) and stops every other tab's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gradio as gr

from .errors import friendly


@dataclass
class Poll:
    timer: gr.Timer
    fn: Callable
    inputs: Any
    outputs: Any


def poll(every: float, fn: Callable, inputs: Any, outputs: Any) -> Poll:
    """A refresher for a tab: `fn(inputs) → outputs` every `every` seconds while its tab is shown."""
    timer = gr.Timer(every, active=False)
    timer.tick(friendly(fn), inputs, outputs, api_visibility="private", show_progress="hidden")
    return Poll(timer, fn, inputs, outputs)


def only_while_shown(tabs: dict[Any, list[Poll]]) -> None:
    """Selecting a tab starts its polls (and refreshes at once) and stops every other tab's."""
    timers = [p.timer for polls in tabs.values() for p in polls]
    if not timers:
        return
    for tab, mine in tabs.items():
        active = {id(p.timer) for p in mine}
        event = tab.select(lambda active=active: [gr.Timer(active=id(t) in active) for t in timers], None, timers,
                           api_visibility="private", show_progress="hidden")
        for p in mine:
            event = event.then(friendly(p.fn), p.inputs, p.outputs, api_visibility="private", show_progress="hidden")
