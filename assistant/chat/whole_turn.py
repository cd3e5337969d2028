"""Turns whose whole message means one thing: a request to start, or a bare number for what the previous turn
set. Each pattern is anchored at both ends: "train 3 epochs" is an edit, not a request to start."""

from __future__ import annotations

import re

from ..adjustable import NUMBER

START = (r"^(?=\S)(?:(?:yes|yep|yeah|ok|okay|sure|great|perfect|cool|fine|alright|all right|sounds good|"
         r"looks good|lgtm|that'?s? (?:fine|good|great)|好的?|行|可以|没问题|好吧|不错)[,，.。!！]?\s*)*"
         r"(?:(?:let'?s\s+)?(?:start(?: training| it| the run| the training)?|begin(?: training)?|"
         r"go(?: ahead| for it)?|run it|train(?: it)?|kick it off|do it|ship it|"
         r"开始|开始训练|(?:开始)?跑(?:起来)?|训练|开跑|就这样(?:训练)?)"
         r"(?:\s*(?:it\s+)?(?:now|please|吧|了))*)?[.!。！]?$")
"""A request to start, or an approval of the plan: "start", "go ahead", "ok, start training", "let's train", "run it
now please", "looks good, go", "sounds good", "开始训练吧", "好的，开始吧", "没问题，跑起来" (the reply points at the
Start button; only the button starts a run)."""
FILLER = (r"(?:(?:no|nope|actually|sorry|hmm|oh|wait|ok|okay|on second thought|never ?mind|算了|不对|不|哦|嗯|其实)"
          r"[,.!，。！\s]*)")
THAT = (rf"^{FILLER}*(?:(?:make|change|set|switch|put|turn) (?:that|it|this)(?: to| at| into)?|"
        rf"(?:let'?s )?(?:use|go with|try|do|say)) {NUMBER}(?: instead)?[.!]?$|"
        rf"^{FILLER}*{NUMBER} instead[.!]?$|^{FILLER}+{NUMBER}[.!]?$|"
        rf"^{FILLER}*(?:还是)?(?:用|改成|改为|换成|设成|设为|改回|改到|调到|就)\s*{NUMBER}\s*(?:吧|好了|就行|就好)?[。！!]?$")
"""A turn that is only a number for what the previous turn set: "actually make that 8", "8 instead", "no, 8",
"算了，还是用 16 吧" (`converse` gives it to the setting the previous turn set, when that was one setting)."""
IT = r"(?:it|that|this|them)"
OFF = (rf"^{FILLER}*(?:(?:turn|switch|shut) {IT}(?: back)? off(?: again)?|(?:turn|switch) off {IT}(?: again)?|"
       rf"disable {IT}(?: again)?|"
       rf"(?:let'?s )?(?:not|don'?t) (?:use|do) {IT}(?: after all)?|(?:还是)?(?:关掉|关闭|关了|禁用|去掉|不用|不要)"
       rf"(?:它|这个|那个)?\s*(?:吧|了|好了)?)[.!。！]?$")
ON = (rf"^{FILLER}*(?:(?:turn|switch) {IT}(?: back)? on|(?:turn|switch) on {IT}|(?:re-?)?enable {IT}(?: again)?|"
      rf"(?:let'?s )?(?:use|do|keep) {IT} after all|(?:还是)?(?:打开|开启|开上|启用|用上|用)(?:它|这个|那个)?"
      rf"\s*(?:吧|了|好了)?)[.!。！]?$")
"""A turn that only switches off (or on) what the previous turn switched: "turn it off", "no wait, turn that back
on", "算了，还是关掉它吧", "还是用吧" (`converse` gives it to the one yes/no setting, or QLoRA, the turn before set)."""


def whole_turn(low: str) -> tuple[float | None, bool | None]:
    """The number (`THAT`) and the switch (`OFF`, `ON`) a turn made of nothing else says, each None when not."""
    that = next((float(g) for g in m.groups() if g), None) if (m := re.search(THAT, low)) else None
    switch = False if re.search(OFF, low) else True if re.search(ON, low) else None
    return that, switch


HALF = r"halve|half|cut\s+(?:the\s+)?|减半|砍半|降一半|减少一半|(?:改|调|减|缩)?小一半"
DOUBLE = r"double|twice|翻倍|加倍|翻一倍|增加一倍|(?:改|调|加|增)?大一倍"
LOWER = r"lower|reduce|decrease|smaller|降低|调低|减小|调小|设小|改小|小一点|低一点"
RAISE = r"raise|increase|higher|larger|bigger|提高|调高|增大|调大|设大|改大|大一点|高一点"
FACTORS = ((HALF, 0.5), (DOUBLE, 2.0), (LOWER, 0.5), (RAISE, 2.0))
"""The words of a relative change and what they multiply by (lowered or raised with no number: half or twice)."""
AGAIN = tuple((rf"(?:{words})\s+(?:it|that)\b|再\s*(?:{words})|"
               rf"^(?:[^,，。.!！?？\d]{{0,12}}[,，。.!！]\s*){{0,2}}(?:那就|那)?\s*(?:{words})\s*(?:吧|一下|了)?[.!。！]?$",
               factor)
              for words, factor in FACTORS)
"""The same change once more, or once to the setting the previous turn set: "halve it again", "double that", "再减半",
"那就翻倍吧", "太大了，减半" (`converse`), with the factor each multiplies by."""


REPEAT = (r"^(?:and\s+|ok\s+|okay\s+)?(?:again|once more|one more time|(?:do|halve|double) (?:it|that) (?:again|once "
          r"more)|same again)[.!]?$|^(?:再来一次|再一次|再来|再来一遍)[。！!]?$")
"""The last scaling once more: "and again", "once more", "再来一次" (`scaled_again` says -1: the last factor)."""


def scaled_again(low: str) -> float | None:
    """The factor of a turn that scales what the previous turn set ("double it": 2; "and again": -1, the last
    scaling's factor), or None."""
    if re.search(r"\bcut\s+(?:it|that)\s+in\s+half\b", low):
        return 0.5
    if re.search(REPEAT, low):
        return -1.0
    return next((factor for pattern, factor in AGAIN if re.search(pattern, low)), None)
