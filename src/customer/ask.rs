//! What a customer asks for, as a decision needs it: the intent (repair, return, exchange,
//! buying TianCare+), the damage type and the part, read from the customer's words in Chinese
//! or English. Cue lists, longest cue first; a question that names no damage type leaves it
//! unspecified, and the decision asks one clarifying question instead of guessing.

use serde::{Deserialize, Serialize};

/// What the customer wants done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Intent {
    Repair,
    Return,
    Exchange,
    TiancarePurchase,
}

/// How the product came to be faulty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Damage {
    Defect,
    Accidental,
    Liquid,
    TheftLoss,
    Cosmetic,
    UnauthorisedRepair,
    NonTianlanCharger,
    Unspecified,
}

/// The customer's request, as the decision reads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ask {
    pub intent: Intent,
    #[serde(default)]
    pub damage: Option<Damage>,
    #[serde(default)]
    pub part: Option<String>,
    /// Earbuds: whether the sealed packaging was opened.
    #[serde(default)]
    pub opened: Option<bool>,
    #[serde(default)]
    pub customised: Option<bool>,
    /// The fault in the customer's words.
    #[serde(default)]
    pub fault: Option<String>,
}

/// Parts and the words that name them. A cue is matched case-insensitively; English cues
/// match at word starts. Longer cues win over shorter ones (`charging case` over `case`).
const PARTS: &[(&str, &[&str])] = &[
    (
        "screen",
        &[
            "screen",
            "display",
            "touchscreen",
            "屏幕",
            "屏",
            "触摸屏",
            "触屏",
            "显示屏",
        ],
    ),
    (
        "back_glass",
        &[
            "back glass",
            "rear glass",
            "back cover",
            "后盖",
            "背板",
            "后玻璃",
        ],
    ),
    ("battery", &["battery", "电池", "续航", "耗电"]),
    (
        "charger",
        &["charger", "power adapter", "充电器", "充电头", "适配器"],
    ),
    ("cable", &["cable", "数据线", "充电线"]),
    (
        "charging_port",
        &[
            "charging port",
            "charge port",
            "usb port",
            "充电口",
            "充电接口",
            "接口松",
        ],
    ),
    ("camera", &["camera", "摄像头", "相机", "镜头"]),
    ("speaker", &["speaker", "扬声器", "喇叭", "外放"]),
    ("microphone", &["microphone", "mic ", "麦克风", "话筒"]),
    ("motherboard", &["motherboard", "主板"]),
    ("keyboard", &["keyboard", "keys", "key ", "键盘", "按键"]),
    ("touchpad", &["touchpad", "trackpad", "触控板"]),
    ("fan", &["fan ", "fan,", "fans", "风扇"]),
    ("remote", &["remote", "遥控器"]),
    ("panel", &["panel", "面板"]),
    ("earbud", &["earbud", "左耳", "右耳", "耳机"]),
    (
        "charging_case",
        &["charging case", "case won", "充电盒", "充电仓", "耳机盒"],
    ),
    (
        "inverter_motor",
        &["inverter motor", "motor", "电机", "马达", "e60"],
    ),
    ("compressor", &["compressor", "压缩机"]),
    ("frame", &["frame", "中框", "边框", "机身弯"]),
    ("drain_pump", &["drain pump", "排水泵"]),
];

/// Symptoms that point at a part without naming it: they tell which part a fault is in, but
/// are not words to swap for another part's name in a follow-up.
const SYMPTOMS: &[(&str, &[&str])] = &[
    (
        "motherboard",
        &[
            "restart",
            "reboot",
            "power on",
            "turn on",
            "boot",
            "重启",
            "开不了机",
            "不开机",
            "开机",
            "死机",
        ],
    ),
    ("screen", &["touch", "触摸", "显示"]),
    ("battery", &["drains", "续航", "耗电", "掉电"]),
    ("inverter_motor", &["e60"]),
    ("charging_port", &["接口松"]),
];

/// Damage types and their cues.
const DAMAGE: &[(Damage, &[&str])] = &[
    (
        Damage::Liquid,
        &[
            "water",
            "liquid",
            "spilled",
            "spill",
            "wet",
            "rain",
            "toilet",
            "pool",
            "coffee",
            "进水",
            "泡水",
            "掉水里",
            "落水",
            "进液",
            "淋雨",
            "洒了",
            "泼",
            "水里",
            "受潮",
        ],
    ),
    (
        Damage::TheftLoss,
        &[
            "lost",
            "stolen",
            "theft",
            "missing",
            "丢了",
            "丢失",
            "被偷",
            "被盗",
            "弄丢",
            "找不到了",
        ],
    ),
    (
        Damage::Accidental,
        &[
            "dropped",
            "drop",
            "fell",
            "cracked",
            "crack",
            "smashed",
            "shattered",
            "broke it",
            "sat on",
            "stepped on",
            "crushed",
            "bent",
            "impact",
            "hit ",
            "摔",
            "碎",
            "裂",
            "掉地上",
            "掉在地上",
            "砸",
            "撞",
            "压坏",
            "压弯",
            "踩",
            "磕坏",
            "坐坏",
        ],
    ),
    (
        Damage::UnauthorisedRepair,
        &[
            "third-party repair",
            "repair shop",
            "opened it myself",
            "rooted",
            "root ",
            "flashed",
            "自己拆",
            "拆过",
            "第三方维修",
            "路边店",
            "刷机",
            "root过",
        ],
    ),
    (
        Damage::NonTianlanCharger,
        &[
            "third-party charger",
            "non-tianlan charger",
            "another charger",
            "cheap charger",
            "非原装充电器",
            "第三方充电器",
            "别的充电器",
            "杂牌充电器",
        ],
    ),
    (
        Damage::Cosmetic,
        &[
            "scratch",
            "scuff",
            "dent",
            "worn coating",
            "划痕",
            "刮花",
            "掉漆",
            "磨损",
            "凹痕",
        ],
    ),
    (
        Damage::Defect,
        &[
            "by itself",
            "stopped working",
            "doesn't work",
            "does not work",
            "not working",
            "won't",
            "will not",
            "does not",
            "doesn't",
            "fails",
            "faulty",
            "defect",
            "no sound",
            "not charging",
            "restarts",
            "flicker",
            "line on",
            "hiss",
            "rattle",
            "自己",
            "不工作",
            "失灵",
            "故障",
            "不能用",
            "没反应",
            "没声音",
            "充不进",
            "闪屏",
            "自动",
            "报错",
            "有杂音",
            "不亮",
            "不转",
            "不制冷",
            "不排水",
            "drains",
            "doesn't hold",
            "does not hold",
            "dies quickly",
            "dead pixel",
            "no signal",
            "不耐用",
            "掉电快",
            "耗电快",
            "续航差",
            "不充电",
            "开不了机",
            "黑屏",
            "死机",
            "重启",
            "发烫",
            "appeared",
            "出现",
            "竖线",
            "横线",
            "坏点",
            "亮线",
            "绿线",
            "一条线",
            "花屏",
            "条纹",
            "green line",
            "a line",
            "lines",
        ],
    ),
];

fn matches_cue(text: &str, cue: &str) -> bool {
    if cue.is_ascii() {
        // English: at a word start
        let mut from = 0;
        while let Some(i) = text[from..].find(cue) {
            let at = from + i;
            let before = text[..at].chars().next_back();
            if before.is_none_or(|c| !c.is_ascii_alphanumeric()) {
                return true;
            }
            from = at + cue.len().max(1);
            if from >= text.len() {
                break;
            }
        }
        false
    } else {
        text.contains(cue)
    }
}

/// The part a fault description names, if any: the longest matching cue wins. A TV's screen
/// is its panel.
pub fn detect_part(text: &str, category: Option<&str>) -> Option<String> {
    find_part(text, category, true).map(|(p, _, _)| p)
}

/// [`detect_part`], with the byte range of the words that name the part (a part's name only,
/// not a symptom: what a follow-up may swap for another part).
pub fn detect_part_span(text: &str, category: Option<&str>) -> Option<(String, usize, usize)> {
    find_part(text, category, false)
}

fn find_part(text: &str, category: Option<&str>, symptoms: bool) -> Option<(String, usize, usize)> {
    let lower = text.to_lowercase();
    // lower-casing outside ASCII can change byte lengths; then ranges come from the text as is
    let hay = if lower.len() == text.len() {
        lower
    } else {
        text.to_string()
    };
    let padded = format!("{hay} ");
    let mut best: Option<(&str, &str)> = None;
    let tables: &[&[(&str, &[&str])]] = if symptoms {
        &[PARTS, SYMPTOMS]
    } else {
        &[PARTS]
    };
    for (part, cues) in tables.iter().flat_map(|t| t.iter()) {
        for cue in *cues {
            if matches_cue(&padded, cue)
                && best.is_none_or(|(_, c)| cue.chars().count() > c.chars().count())
            {
                best = Some((part, cue));
            }
        }
    }
    let (part, cue) = best?;
    let cue_trim = cue.trim_end();
    let start = find_cue(&hay, cue_trim)?;
    let end = start + cue_trim.len();
    let part = match (part, category) {
        ("screen", Some("tv")) => "panel",
        ("panel", Some(c)) if c != "tv" => "screen",
        (p, _) => p,
    };
    Some((part.to_string(), start, end))
}

/// Where a cue starts in a text (at a word start for an English cue).
fn find_cue(hay: &str, cue: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = hay[from..].find(cue) {
        let at = from + i;
        let before = hay[..at].chars().next_back();
        if !cue.is_ascii() || before.is_none_or(|c| !c.is_ascii_alphanumeric()) {
            return Some(at);
        }
        from = at + cue.len().max(1);
        if from >= hay.len() {
            break;
        }
    }
    None
}

/// The damage type a message names; `None` when it names none. Liquid and loss are checked
/// before impact ("dropped it in water" is liquid damage); a defect word only counts when no
/// damage word is present.
pub fn detect_damage(text: &str) -> Option<Damage> {
    let lower = format!("{} ", text.to_lowercase());
    for (damage, cues) in DAMAGE {
        if cues.iter().any(|c| matches_cue(&lower, c)) {
            return Some(*damage);
        }
    }
    None
}

/// Which of a pair a text names (an earbud, a speaker): `Some('l')` for the left one,
/// `Some('r')` for the right, `None` when it names neither or both.
pub fn side_of(text: &str) -> Option<char> {
    let lower = format!("{} ", text.to_lowercase());
    let left = ["left", "左耳", "左边", "左侧", "左"]
        .iter()
        .any(|c| matches_cue(&lower, c));
    let right = ["right", "右耳", "右边", "右侧", "右"]
        .iter()
        .any(|c| matches_cue(&lower, c));
    match (left, right) {
        (true, false) => Some('l'),
        (false, true) => Some('r'),
        _ => None,
    }
}

/// What a message asks to have decided, if anything: a return, an exchange, buying TianCare+,
/// or a repair (a fault, damage, or a question about cover). `None` for everything else
/// ("how do I reset it").
pub fn intent_of(text: &str) -> Option<Intent> {
    let lower = format!("{} ", text.to_lowercase());
    let any = |cues: &[&str]| cues.iter().any(|c| matches_cue(&lower, c));
    let tiancare = any(&["tiancare", "天澜无忧", "延保", "extended warranty"]);
    if tiancare
        && any(&[
            "buy", "add", "get", "purchase", "still", "买", "加", "补", "办", "购",
        ])
        && !any(&["claim", "cover", "covered", "保不保", "能保", "赔"])
    {
        return Some(Intent::TiancarePurchase);
    }
    if any(&[
        "return it",
        "return the",
        "return my",
        "return this",
        "send it back",
        "refund",
        "withdraw",
        "want to return",
        "can i return",
        "退货",
        "退款",
        "退掉",
        "退了",
        "退回",
        "无理由",
    ]) {
        return Some(Intent::Return);
    }
    if any(&[
        "exchange",
        "swap it",
        "replace it with a new",
        "new unit",
        "换货",
        "换新",
        "换一台",
        "换个新",
        "换一个新",
    ]) {
        return Some(Intent::Exchange);
    }
    if detect_damage(text).is_some()
        || any(&[
            "warranty",
            "covered",
            "cover it",
            "repair",
            "fix",
            "broken",
            "free",
            "保修",
            "保吗",
            "保不保",
            "免费",
            "维修",
            "修",
            "坏",
            "怎么办",
            "赔",
        ])
    {
        return Some(Intent::Repair);
    }
    None
}

/// Whether the message says the earbuds' packaging was opened (`Some(true)`), still sealed
/// (`Some(false)`), or neither.
pub fn opened_of(text: &str) -> Option<bool> {
    let lower = format!("{} ", text.to_lowercase());
    let any = |cues: &[&str]| cues.iter().any(|c| matches_cue(&lower, c));
    if any(&[
        "unopened",
        "still sealed",
        "not opened",
        "never opened",
        "没拆",
        "未拆",
        "没开封",
        "未开封",
    ]) {
        Some(false)
    } else if any(&[
        "opened",
        "unsealed",
        "used them",
        "tried them",
        "拆了",
        "拆开",
        "拆封",
        "用过",
        "戴过",
    ]) {
        Some(true)
    } else {
        None
    }
}

impl Ask {
    /// The request a message makes, if it makes one.
    pub fn from_message(text: &str) -> Option<Ask> {
        let intent = intent_of(text)?;
        let lower = text.to_lowercase();
        let customised = ["engraved", "customised", "customized", "定制", "刻字"]
            .iter()
            .any(|c| lower.contains(c))
            .then_some(true);
        Some(Ask {
            intent,
            damage: detect_damage(text),
            part: None,
            opened: opened_of(text),
            customised,
            fault: Some(text.to_string()),
        })
    }

    /// The part asked about: the one named, or else the one the fault's words name.
    pub fn part_for(&self, category: &str) -> Option<String> {
        match &self.part {
            Some(p) => Some(p.clone()),
            None => self
                .fault
                .as_deref()
                .and_then(|f| detect_part(f, Some(category))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_from_faults_in_both_languages() {
        let cases = [
            (
                "left earbud noise cancelling hisses",
                Some("earbuds"),
                Some("earbud"),
            ),
            (
                "E and R keys do not register",
                Some("laptop"),
                Some("keyboard"),
            ),
            (
                "phone restarts by itself",
                Some("phone"),
                Some("motherboard"),
            ),
            (
                "green vertical line on the screen",
                Some("phone"),
                Some("screen"),
            ),
            (
                "green vertical line on the screen",
                Some("tv"),
                Some("panel"),
            ),
            (
                "charging port fails a third time",
                Some("phone"),
                Some("charging_port"),
            ),
            (
                "the charging case will not charge",
                Some("earbuds"),
                Some("charging_case"),
            ),
            ("我的手机屏幕碎了", Some("phone"), Some("screen")),
            ("电池不耐用", Some("phone"), Some("battery")),
            ("遥控器没反应", Some("tv"), Some("remote")),
            ("它很好", Some("phone"), None),
        ];
        for (text, cat, want) in cases {
            assert_eq!(detect_part(text, cat).as_deref(), want, "{text}");
        }
    }

    #[test]
    fn what_a_message_asks_to_have_decided() {
        let cases = [
            ("我刚买的手机屏幕碎了怎么办", Some(Intent::Repair)),
            (
                "can i still return my earbuds, i opened them",
                Some(Intent::Return),
            ),
            ("这个耳机拆了还能退货吗", Some(Intent::Return)),
            ("我想换一台新的，才用了三天就坏了", Some(Intent::Exchange)),
            ("现在还能买天澜无忧+吗", Some(Intent::TiancarePurchase)),
            ("is the battery covered", Some(Intent::Repair)),
            ("how do i reset the router settings", None),
        ];
        for (text, want) in cases {
            assert_eq!(intent_of(text), want, "{text}");
        }
        assert_eq!(opened_of("i opened them yesterday"), Some(true));
        assert_eq!(opened_of("still sealed in the box"), Some(false));
    }

    #[test]
    fn sides_of_a_pair() {
        assert_eq!(side_of("左耳没声音了"), Some('l'));
        assert_eq!(side_of("right earbud crushed"), Some('r'));
        assert_eq!(side_of("both earbuds are silent"), None);
        assert_eq!(side_of("bright screen"), None);
    }

    #[test]
    fn damage_types_from_words() {
        let cases = [
            ("我刚买的手机屏幕碎了怎么办", Some(Damage::Accidental)),
            ("dropped it in the pool", Some(Damage::Liquid)),
            ("手机掉水里了", Some(Damage::Liquid)),
            ("lost the left earbud", Some(Damage::TheftLoss)),
            ("phone restarts by itself", Some(Damage::Defect)),
            ("屏幕有划痕", Some(Damage::Cosmetic)),
            ("手机屏幕坏了", None),
            ("the screen", None),
        ];
        for (text, want) in cases {
            assert_eq!(detect_damage(text), want, "{text}");
        }
    }
}
