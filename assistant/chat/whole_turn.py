"""Turns whose whole message means one thing: a request to start, or a bare number for what the previous turn
set. Each pattern is anchored at both ends: "train 3 epochs" is an edit, not a request to start."""

from __future__ import annotations

import re

from ..adjustable import NUMBER
from .sweep_words import LIST
from .sweep_words import NUMBER as VALUED

START = (r"^(?=\S)(?:(?:yes|yep|yeah|ok|okay|sure|great|perfect|cool|fine|alright|all right|sounds good|"
         r"looks (?:good|great|fine|perfect)|lgtm|that'?s? (?:fine|good|great)|that works|works for me|fine by me|"
         r"sounds great|"
         r"(?:keep|leave) (?:it|that|everything|it all)(?: (?:that way|as is|as it is|like that|the same|unchanged))?|"
         r"fine as is|sounds right|looks right|that'?s right|thanks|thank you|thx|cheers|settled|deal|decided|"
         r"(?:i\s+)?trust\s+you|听你的|相信你|按你的来|"
         r"好的?|行|可以|没问题|好吧|不错|保持不变|谢谢|多谢|感谢|完美|很好|太好了|(?:那)?就这样(?:吧)?|就这么(?:办|定))"
         r"(?:了|啊|呀)?"
         r"\s*[,，.。!！—–-]?\s*)*"
         r"(?:(?:and\s+|then\s+|so\s+)?(?:let'?s\s+)?(?:start(?: training| it| the run| the training)?|"
         r"begin(?: training)?|"
         r"go(?: ahead(?: and (?:train|start|run)(?: it)?)?| for it)?|run it|train(?: it)?|kick it off|do it|ship it|"
         r"launch(?: it| the run| the training| training)?|fire (?:it off|away)|"
         r"开始|开始训练|(?:开始)?跑(?:起来)?|训练|开跑|就这样(?:训练)?|启动(?:训练)?|就这么(?:办|定了?|来)|照这个来)"
         r"(?:\s*(?:it\s+)?(?:now|please|吧|了))*)?[.!。！]?$|"
         r"^(?:so\s+|ok\s+|okay\s+)?(?:should|can|could|shall)\s+(?:i|we)\s+(?:start|begin|go|run\s+it|train(?:\s+it)?|"
         r"kick\s+it\s+off)(?:\s+(?:now|then|training))?\s*\??$|"
         r"^(?:so\s+|ok\s+|okay\s+)?(?:is|are)\s+(?:it|this|that|the\s+plan|everything|we)\s+(?:ready|good\s+to\s+go|all\s+set)"
         r"(?:\s+to\s+(?:train|start|go|run))?(?:\s+now)?\s*\??$|"
         r"^(?:现在)?(?:可以|能)(?:开始|开跑|训练|跑)(?:训练)?了?(?:吗|么)\s*[?？]?$|^(?:准备好|可以)了(?:吗|么)\s*[?？]?$")
"""A request to start, or an approval of the plan: "start", "go ahead", "ok, start training", "let's train", "run it
now please", "looks good, go", "sounds good", "开始训练吧", "好的，开始吧", "没问题，跑起来"; or a question whether to
("should I start?", "is it ready?", "可以开始了吗？"), which the same reply answers (it points at the Start button
when the plan is ready, and says what is missing when not; only the button starts a run)."""
ADOPT = (r"^(?:(?:ok(?:ay)?|fine|sure|yes|yeah|yep|alright|all\s+right|great|cool|perfect|good|got\s+it|makes\s+sense|"
         r"sounds\s+(?:good|great|right)|that\s+makes\s+sense|convinced|good\s+point)[,.!\s]*)*"
         r"(?:(?:then|so)\s+)?(?:let'?s\s+|please\s+|just\s+)?(?:do|use|go\s+(?:with|for)|try|take|switch\s+to|apply|make|"
         r"change\s+(?:it|to)|set)\s+(?:that|it|this|those|them|that\s+one|the\s+(?:lower|higher|smaller|larger|bigger|"
         r"faster|first|second)\s+one)(?:\s+(?:then|instead|please))*[.!]?$|"
         r"^(?:yes|yeah|ok(?:ay)?|sure)[,\s]+(?:please|do\s+that|change\s+it|switch)[.!]?$|"
         r"^(?:好|好的|行|可以|嗯|那|ok)?[，,。\s]*(?:那就|就|那)?(?:这么办|按你说的(?:来|办|改)?|照你说的(?:来|办|改)?|"
         r"用(?:它|这个|那个)|换(?:成)?(?:它|这个|那个)|改(?:成)?(?:它|这个|那个)|改吧|就这样改|听你的)[吧。！!]*$")
"""A turn that takes up what the previous one asked about ("would rank 8 be faster?", then "ok, do that then",
"let's go with that", "那就用这个"): the values that question named (`converse`)."""
FILLER = (r"(?:(?:no|nope|actually|sorry|hmm|oh|wait|ok|okay|on second thought|never ?mind|算了|不对|不|哦|嗯|其实|"
          r"等等|等一下|please|请|麻烦(?:你)?|帮我)"
          r"[,.!，。！\s]*)")
CLAUSE = r"^(?:[^,，。.!！?？\d—–]{0,30}(?:[,，。.!！]|\s[—–])\s*){0,2}"
"""Up to two short clauses before a follow-up: "that's a bit low, bump it up", "太大了，减半"."""
JUDGED_THEN = r"^(?:[^,，。.!！?？\d—–]{0,30}(?:[,，。.!！]|\s[—–])\s*){1,2}"
"""The same, at least one: a bare number after it is for what the previous turn set ("hmm, that's a lot. 4")."""
THAT = (rf"{CLAUSE}{FILLER}*(?:just |then |and )?"
        rf"(?:(?:make|change|set|switch|put|turn|keep|leave) (?:that|it|this)(?: to| at| into)?|"
        rf"(?:let'?s )?(?:use|go with|try|do|say)) {NUMBER}(?: instead| then)?[.!]?$|"
        rf"^{FILLER}*(?:i\s+meant?|我(?:说|指)的是|我是说)\s*{NUMBER}[.!。！]?$|"
        rf"^{FILLER}*{NUMBER} instead[.!]?$|^{FILLER}+{NUMBER}[.!]?$|{CLAUSE}{FILLER}*{NUMBER} it is[.!]?$|"
        rf"{JUDGED_THEN}{FILLER}*{NUMBER}\s*(?:吧)?[.!。！]?$|"
        rf"^{FILLER}*(?:what about|how about|or maybe|or|maybe|perhaps) {NUMBER}(?: instead)?\s*[?.!]?$|"
        rf"{CLAUSE}{FILLER}*(?:(?:let'?s |please )?(?:go|set it|put it|change it|bring it|take it|drop it|move it)\s+)?"
        rf"back\s+(?:down\s+|up\s+)?to\s+{NUMBER}(?: please)?[.!]?$|"
        rf"{CLAUSE}{FILLER}*(?:let'?s |please )?(?:drop|lower|reduce|cut|decrease|raise|increase|bump|lift|move|bring|"
        rf"take|push|knock|turn|dial)(?: (?:that|it|this))?(?: (?:down|up|back))? to {NUMBER}"
        rf"(?: please| instead)?[.!]?$|"
        rf"{CLAUSE}{FILLER}*(?:还是|那就|那|就)?(?:降到|降为|降低到|减到|减少到|提到|提高到|升到|加到|增加到|调低到|调高到|"
        rf"调整到|调整为|减为|增为)\s*{NUMBER}\s*(?:吧|好了|就行|就好)?[。！!]?$|"
        rf"{CLAUSE}{FILLER}*(?:还是|那就|那|就)?(?:用|改成|改为|换成|设成|设为|改回|改到|调到|就)\s*{NUMBER}\s*(?:吧|好了|就行|就好)?[。！!]?$|"
        rf"{CLAUSE}{FILLER}*(?:还是|(?:应该)?是)\s*{NUMBER}\s*(?:吧|好了|就行|就好|才对)?[。！!]?$|"
        rf"{CLAUSE}{FILLER}*还是\s*{NUMBER}\s*(?:吧|好了|就行|就好)[。！!]?$|"
        rf"{CLAUSE}{FILLER}*{NUMBER}\s*(?:(?:was|is|would\s+be|seems|'s)\s+)?(?:better|fine|right)"
        rf"(?: after all)?[.!]?$|"
        rf"{CLAUSE}{FILLER}*(?:还是\s*)?{NUMBER}\s*(?:更好|比较好|好一些|好一点|好点|就挺好|才对)[。！!]?$")
"""A turn that is only a number for what the previous turn set: "actually make that 8", "8 instead", "no, 8",
"lower that to 2", "降到 2", "算了，还是用 16 吧", "nope, 8 was better", "不，8 更好" (`converse` gives it to the
setting the previous turn set, when that was one setting)."""
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


COUNTS = {"one": 1, "a": 1, "an": 1, "two": 2, "a couple": 2, "a couple of": 2, "three": 3, "一": 1, "两": 2,
          "二": 2, "三": 3}
ADDED = (r"^(?:(?:ok|okay|hmm|actually|and|then|plus|so)[,.!\s]*)*(?:just\s+)?(?P<n>\d+|one|two|three|a couple|an?)\s+"
         r"(?P<w>more|less|fewer|extra)(?:\s+(?:please|then))?[.!]?$|"
         r"^(?:再)?(?P<zw>多|加|少|减)\s*(?P<zn>\d+|一|两|二|三)\s*(?:个)?(?:吧)?[。！!]?$")
"""A count more or fewer of what the previous turn set: "one more", "two less", "再加一个", "少一个"."""


def whole_turn(low: str) -> tuple[float | None, bool | None, float | None]:
    """The number (`THAT`), the switch (`OFF`, `ON`) and the count added (`ADDED`) a turn made of nothing else
    says, each None when not. A percentage is a share ("make it 15% instead" after "hold out 20%": 0.15)."""
    low = re.sub(r"(?<![\d.])(\d+(?:\.\d+)?)\s*%", lambda m: f"{float(m.group(1)) / 100:g}", low)
    that = next((float(g) for g in m.groups() if g), None) if (m := re.search(THAT, low)) else None
    switch = False if re.search(OFF, low) else True if re.search(ON, low) else None
    added = None
    if m := re.search(ADDED, low):
        count, word = (m["n"], m["w"]) if m["n"] else (m["zn"], m["zw"])
        amount = float(count) if count[0].isdigit() else COUNTS[count]
        added = -amount if word in ("less", "fewer", "少", "减") else amount
    return that, switch, added


BOTH = r"\bboth\b|\bthem\b|\beach\b|\ball\s+of\s+them\b|两个|两项|它们|都(?=\s*(?:翻倍|加倍|减半))"
"""A follow-up about every setting the previous turn set ("double both", "halve them", "两个都翻倍")."""
HALF = r"halve|half|cut\s+(?:the\s+)?|减半|砍半|降一半|减少一半|(?:改|调|减|缩)?小一半"
DOUBLE = r"double|twice|翻倍|加倍|翻一倍|增加一倍|加一倍|(?:改|调|加|增)?大一倍"
LOWER = (r"lower|reduce|decrease|smaller|shorter|down\b(?!\s+to\b)|(?:往下)?压(?:一压|一下|低一?点?|小一?点?)|往下压|"
         r"降低|调低|减小|减少|调小|设小|改小|(?:搞|弄|整|调)?(?:小|低|少|短)一?点|"
         r"往下调(?:一调|一下|一点)?|下调|调下来")
RAISE = (r"raise|increase|higher|larger|bigger|longer|up\b(?!\s+to\b)|"
         r"提高|调高|增大|增加|调大|设大|改大|(?:搞|弄|整|调)?(?:大|高|多|长)一?点|"
         r"往上调(?:一调|一下|一点)?|上调|调上去")
FACTORS = ((HALF, 0.5, False), (DOUBLE, 2.0, False), (LOWER, 0.5, True), (RAISE, 2.0, True))
"""The words of a relative change, what they multiply by (lowered or raised with no number: half or twice) and
whether they are a step of no stated size (`Relative.step`: the epochs go one step, not twice or half)."""
AGAIN = tuple((rf"(?:{words})\s+(?:it|that|both|them|each)\b|再\s*(?:{words})|(?:{BOTH})\s*(?:都)?\s*(?:{words})|"
               rf"^(?:[^,，。.!！?？\d]{{0,12}}[,，。.!！]\s*){{0,2}}(?:那就|那)?\s*(?:{words})\s*(?:吧|一下|了)?[.!。！]?$",
               factor, step)
              for words, factor, step in FACTORS)
"""The same change once more, or once to the setting the previous turn set: "halve it again", "double that", "再减半",
"那就翻倍吧", "太大了，减半" (`converse`), with the factor each multiplies by; to each setting it set: "double both",
"两个都翻倍" (`BOTH`)."""


REPEAT = (r"^(?:and\s+|ok\s+|okay\s+)?(?:again|once more|one more time|(?:do|halve|double) (?:it|that) (?:again|once "
          r"more)|same again)[.!]?$|^(?:再来一次|再一次|再来|再来一遍)[。！!]?$")
"""The last scaling once more: "and again", "once more", "再来一次" (`scaled_again` says -1: the last factor)."""


UP = r"higher|bigger|larger|longer|more|further|高一?点|大一?点|长一?点|多一?点|再大一?点|再高一?点"
ONWARD = r"more|further|多一?点"
"""A comparative with no direction of its own ("a bit more", "even further"): after a change said relatively, the
same way again ("lower the learning rate", then "a bit more": lower); else up."""
DOWN = r"lower|smaller|shorter|less|低一?点|小一?点|短一?点|少一?点|再小一?点|再低一?点"
COMPARE = (rf"{CLAUSE}{FILLER}*(?:and |then |and then )?"
           rf"(?:(?:make|set|put|turn) (?:it|that) |(?:can|could) (?:we|you) (?:go|make it) |"
           rf"(?:let'?s )?go |a (?:bit|little|tad) |slightly |much |even |a lot |an? )*(?:({UP})|({DOWN}))(?: ones?)?"
           rf"(?: (?:please|then|still|than that|again|once more))*\s*[.!?？。！]?$|"
           rf"{CLAUSE}{FILLER}*(?:(?:bump|bring|turn|push|crank|dial|take|knock) (?:it|that) )(?:(up)|(down|back))"
           rf"(?: (?:a bit|a little|a notch|some|slightly))?(?: please)?\s*[.!?]?$|"
           rf"{CLAUSE}{FILLER}*(?:(up)|(down))\s+(?:a\s+)?(?:notch|bit|little|tad)(?: please)?\s*[.!?]?$")
"""A comparative for what the previous turn set: "a bit higher", "can we go lower?", "大一点" (twice or half)."""
TOO = (rf"^{FILLER}*(?:(?:that|it|this)(?:'s|\s+is|\s+seems|\s+looks|\s+feels|\s+sounds)\s+)?"
       rf"(?:still\s+|even\s+)?(?:way\s+|a\s+bit\s+|much\s+|far\s+|a\s+little\s+)?too\s+"
       rf"(?:(high|big|large|long|much|many)|(low|small|short|little|few))[.!]?$|"
       rf"^(?:这|那|这个|那个)?(?:也|还是|还|仍然|依然)?(?:太|有点|有些|稍微|偏)(?:(高|大|长|多)|(低|小|短|少))了?[。！!]?$|"
       rf"^{FILLER}*(?:(?:that|it|this)(?:'s|\s+is|\s+seems|\s+looks)\s+)?(?:a\s+bit|a\s+little|kind\s+of|rather|"
       rf"quite|pretty)\s+(?:(high|big|large|long)|(low|small|short))[.!]?$")
"""What the previous turn set, said to be too much or too little: "that's too low", "太大了" (half or twice)."""


ONWARD_FACTOR = -2.0
"""`scaled_again`'s factor for `ONWARD`: the last relative change's direction (`converse`)."""


def scaled_again(low: str) -> tuple[float, bool] | None:
    """The factor of a turn that scales what the previous turn set ("double it": 2; "and again": -1, the last
    scaling's factor) and whether it is a step of no stated size ("a bit higher", "too many"), or None."""
    if re.search(r"\bcut\s+(?:it|that)\s+in\s+half\b", low):
        return 0.5, False
    if re.search(REPEAT, low):
        return -1.0, False
    if re.search(r"^(?:再|还要|还得)?\s*多一?点儿?(?:吧)?[。！!]?$", low.strip()):  # "再多一点": `ONWARD`
        return ONWARD_FACTOR, True
    if m := re.search(COMPARE, low):
        if m.group(1) and re.fullmatch(ONWARD, m.group(1)):
            return ONWARD_FACTOR, True
        return (2.0 if m.group(1) or m.group(3) or m.group(5) else 0.5), True
    if m := re.search(TOO, low):
        return (0.5 if m.group(1) or m.group(3) or m.group(5) else 2.0), True
    return next(((factor, step) for pattern, factor, step in AGAIN if re.search(pattern, low)), None)


LISTED = (r"^(?:(?:actually|then|ok(?:ay)?|no|hmm|so|make\s+it)[,\s]+)*(?:(?:only|just)\s+|只要|只试试?|只跑|就)?\s*"
          r"(?:try\s+|试试?\s*)?({numbers})\s*(?:then|instead|please|吧|就行|就好|就够了?)?[.!。！]?$")
"""A turn that is only a list of values ("actually only 8 and 32", "只要 8 和 32"): for the one setting the latest
sweep tried (`converse`)."""


def listed(low: str) -> list[float]:
    """The values of a turn that is only a list of them (`LISTED`), or []."""
    if not (m := re.search(LISTED.format(numbers=LIST), low.strip())):
        return []
    return list(dict.fromkeys(float(x) for x in re.findall(VALUED, m.group(1))))
