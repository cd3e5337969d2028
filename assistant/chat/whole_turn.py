"""Turns whose whole message means one thing: a request to start, or a bare number for what the previous turn
set. Each pattern is anchored at both ends: "train 3 epochs" is an edit, not a request to start."""

from __future__ import annotations

from ..adjustable import NUMBER

START = (r"^(?:(?:yes|ok|okay|sure|great|好的?|行|可以)[,，.。!！]?\s*)?(?:let'?s\s+)?(?:start(?: training| it)?|"
         r"go(?: ahead)?|run it|train(?: it)?|开始|开始训练|(?:开始)?跑|训练)(?:\s*(?:it\s+)?(?:now|please|吧|了))*"
         r"[.!。！]?$")
"""A request to start: "start", "go ahead", "ok, start training", "let's train", "run it now please", "开始训练吧",
"好的，开始吧", "跑吧"."""
FILLER = r"(?:(?:no|nope|actually|sorry|hmm|oh|wait|ok|okay|on second thought|算了|不对|不|哦|嗯|其实)[,.!，。！\s]*)"
THAT = (rf"^{FILLER}*(?:(?:make|change|set|switch|put|turn) (?:that|it|this)(?: to| at| into)?|"
        rf"(?:let'?s )?(?:use|go with|try|do|say)) {NUMBER}(?: instead)?[.!]?$|"
        rf"^{FILLER}*{NUMBER} instead[.!]?$|^{FILLER}+{NUMBER}[.!]?$|"
        rf"^{FILLER}*(?:还是)?(?:用|改成|改为|换成|设成|设为|改回|改到|调到|就)\s*{NUMBER}\s*(?:吧|好了|就行|就好)?[。！!]?$")
"""A turn that is only a number for what the previous turn set: "actually make that 8", "8 instead", "no, 8",
"算了，还是用 16 吧" (`converse` gives it to the setting the previous turn set, when that was one setting)."""
