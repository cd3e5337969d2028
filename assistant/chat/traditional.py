"""Traditional Chinese read as the simplified the rules are written in: "學習率減半" is "学习率减半", "訓練 2 輪" is
"训练 2 轮". Only for reading a message (the plan keeps the words as written). The characters are those whose
simplified form appears in Tailor's own text, from OpenCC's TSCharacters, TWVariantsRev and HKVariantsRev tables
(bench/make_traditional_table.py writes them; a character Tailor's text uses as simplified is left out, so Tailor's
text outside this module holds no traditional character), and a few words Taiwan and Hong Kong say differently
("資料" for data, "顯示卡" for the GPU, "20 筆" for 20 rows)."""

from __future__ import annotations

import re

TRADITIONAL = (
    "丟並乾佈佔併來侷係俬倉個們側備傢傳僅價儘優兒內兩凍別刪則剛劃動務勝勻卽厤參問啓啟單嗎嘗噹嚐囉圍圖團埰塊壓壞夠夾學寀實寫將尋對導層屬峯帶幫幹幾庫廣張強彆彔後從復恆憑憶應懲戶掃採揀換損擇擊擔據擬擴攤敎敗數"
    "斷於昇時曆書會東査條棄榦構樂標樣機檔檢欄權歷歸氣決沒況減測準溫滿漢潔潤濃濾為無煙熱爲獨獲現異當發盡監盤確碼礎禮種積穩穫筆箇節範簡簽籤糰糾約納純級紮細終絃組結給統經綫網緊緒線編練縮總繫繼續纍纔罰罵義習聰"
    "聽脩腦與舊菸萬著蒐蓋蔘薦蘋處號衕衹裏裝裡製複覈見規覺計訓記設註証詐評詞詢試話該詳誌認語說説調請論謂謝證識譯議讀變讓貝負貪費貼資質較載輕輪輸轉辦迴這連進運過違適選還郵釋鈡銷錄錢錯録錶鍵鍾鐘長門閉開間閤闆"
    "關陞隊際隨隱隻雲電韆韓響頁頂項順須預頭頻題額類顧顯餘餵駡驗體髮鬚鮮麪麫麯麴麵麼麽點齊齣"
)
SIMPLIFIED = (
    "丢并干布占并来局系私仓个们侧备家传仅价尽优儿内两冻别删则刚划动务胜匀即历参问启启单吗尝当尝啰围图团采块压坏够夹学采实写将寻对导层属峰带帮干几库广张强别录后从复恒凭忆应惩户扫采拣换损择击担据拟扩摊教败数"
    "断于升时历书会东查条弃干构乐标样机档检栏权历归气决没况减测准温满汉洁润浓滤为无烟热为独获现异当发尽监盘确码础礼种积稳获笔个节范简签签团纠约纳纯级扎细终弦组结给统经线网紧绪线编练缩总系继续累才罚骂义习聪"
    "听修脑与旧烟万着搜盖参荐苹处号同只里装里制复核见规觉计训记设注证诈评词询试话该详志认语说说调请论谓谢证识译议读变让贝负贪费贴资质较载轻轮输转办回这连进运过违适选还邮释钟销录钱错录表键钟钟长门闭开间合板"
    "关升队际随隐只云电千韩响页顶项顺须预头频题额类顾显余喂骂验体发须鲜面面曲曲面么么点齐出"
)
"""Each traditional character above, as its simplified form (the same position)."""
TO_SIMPLIFIED = str.maketrans(TRADITIONAL, SIMPLIFIED)
WORDS = (("资料", "数据"), ("显示卡", "显卡"), ("记忆体", "内存"), ("档案", "文件"), ("批次量", "批大小"))
"""Words said differently in Taiwan and Hong Kong, after the characters are simplified."""


def simplified(text: str) -> str:
    """`text` with its traditional characters and words in simplified Chinese (a text without any unchanged)."""
    if not re.search(r"[\u4e00-\u9fff]", text):
        return text
    text = text.translate(TO_SIMPLIFIED)
    for tw, cn in WORDS:
        text = text.replace(tw, cn)
    return re.sub(r"(\d+)\s*笔(?=\s*(?:的)?(?:数据|样本|资料)?)", r"\1 条", text)  # "20 筆資料": 20 rows
