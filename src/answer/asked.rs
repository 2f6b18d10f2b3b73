//! What kind of answer a question asks for, so that the answer leads with it: how long → a
//! duration, how much → a price, an error code → the sentence that names the code (its meaning,
//! then its remedy), what to do → steps, yes or no → the clause that decides.

use std::sync::OnceLock;

use regex::Regex;

/// The kind of answer asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An error or status code ("E21", "1001").
    Code,
    /// A price or fee.
    Price,
    /// A period: months of warranty, days to return, hours of battery.
    Duration,
    /// What to do: steps, in order.
    Steps,
    /// Yes or no: the clause that decides.
    YesNo,
    /// How to reach the company: a phone number, an address, hours.
    Contact,
    Other,
}

/// What a question asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asked {
    pub kind: Kind,
    /// The codes the question names, lower case.
    pub codes: Vec<String>,
    /// The question is about cover: a warranty, a plan, a free repair.
    pub about_cover: bool,
}

struct Patterns {
    code: Regex,
    code_context: Regex,
    price: Regex,
    duration: Regex,
    steps: Regex,
    yes_no: Regex,
    contact: Regex,
    has_contact: Regex,
    has_price: Regex,
    has_duration: Regex,
    decides: Regex,
    about_cover: Regex,
    covers: Regex,
    means: Regex,
    asks: Regex,
}

fn patterns() -> Option<&'static Patterns> {
    static P: OnceLock<Option<Patterns>> = OnceLock::new();
    P.get_or_init(|| {
        Some(Patterns {
            code: Regex::new(r"(?i)(?-u:\b)([efph]\d{1,2}|\d{4})(?-u:\b)").ok()?,
            code_context: Regex::new(r"(?i)(error|code|shows?|showing|display|flash|报错|错误|故障|代码|显示|提示|跳)").ok()?,
            price: Regex::new(r"(?i)(多少钱|价格|价钱|费用|收费|要钱|花多少|几块|多少元|贵不贵|\bhow much\b|\bcost|\bprice|\bfees?\b|\bcharge)").ok()?,
            duration: Regex::new(r"(?i)(多久|多长时间|几个月|几年|几天|多少天|保修期|保多久|期限|\bhow long\b|\bhow many (months|days|years|hours)\b|\bwarranty period\b|\bbattery life\b|续航)").ok()?,
            steps: Regex::new(r"(?i)(怎么办|怎么(弄|设置|设|操作|连|用|处理|解决|重置|恢复|调|开|关|装|清洁|洗|退|换|申请|办)|如何|步骤|咋办|咋弄|\bhow (do|can|should|to)\b|\bwhat (should|do|can) i do\b|\bfix\b|\breset\b|\bset ?up\b|\bwon'?t\b|\bdoesn'?t\b|\bnot working\b)").ok()?,
            yes_no: Regex::new(r"(?i)(吗[？?]?\s*$|吗[，,。]|能不能|可不可以|是不是|是否|有没有|保不保|算不算|包不包|管不管|^(can|could|is|are|does|do|will|would|am|should)\b)").ok()?,
            contact: Regex::new(r"(?i)(电话|热线|客服号码|联系方式|怎么联系|邮箱|人工客服|\bphone number\b|\bhotline\b|\bcall you\b|\bcontact\b|\be-?mail\b|\bcustomer service number\b)").ok()?,
            has_contact: Regex::new(r"(\d{3}-\d{3}-\d{4}|\+\d[\d-]{7,}|@[a-z0-9.-]+\.[a-z]+)").ok()?,
            has_price: Regex::new(r"(?i)(¥|￥|us\$|\$)\s?\d|\d\s?(元|块)").ok()?,
            has_duration: Regex::new(r"(?i)\d+(\.\d+)?\s?(个月|天|年|小时|分钟|秒|个工作日|工作日|周|months?|days?|years?|hours?|h\b|minutes?|seconds?|s\b|weeks?|working days)").ok()?,
            decides: Regex::new(r"(?i)(不在|不属于|不予|不能|不可以|不支持|不包括|不适用|不保|可以|免费|属于|包括|适用|\bcovered\b|\bnot\b|\bcannot\b|\bcan'?t\b|\bcan\b|\bfree\b|\bexcluded\b|\bincluded\b|\bonly\b)").ok()?,
            about_cover: Regex::new(r"(?i)(保修|保吗|保不保|包修|保障|免费修|免费换|\bcover(ed|s)?\b|\bwarranty\b|\bguarantee\b)").ok()?,
            covers: Regex::new(r"(?i)(保修范围|保障范围|不保修|不予保修|免费维修|免费更换|免费修|不在保修|不属于保修|保修期外|按保修期外|\b(not |isn'?t |aren'?t )?covered\b|\bcovers?\b|\bexcluded\b|\bout of warranty\b|\bunder (the |this )?warranty\b|\bfree of charge\b)").ok()?,
            asks: Regex::new(r"(?i)([?？]|吗|呢|么|什么|啥|哪|谁|几|多少|为何|为什么|怎|如何|是否|能不能|可不可以|有没有|^(what|why|where|when|which|who|whose|how|can|could|is|are|was|were|does|do|did|will|would|should|shall|may|any)\b|\b(what|why|how|which)\b)").ok()?,
            means: Regex::new(r"(?i)(表示|意思|是指|代表|说明|含义|\bmeans?\b|\bmeaning\b|\bindicates?\b|\bshows? that\b)").ok()?,
        })
    })
    .as_ref()
}

impl Asked {
    /// What `question` asks for.
    pub fn of(question: &str) -> Asked {
        let Some(p) = patterns() else {
            return Asked {
                kind: Kind::Other,
                codes: Vec::new(),
                about_cover: false,
            };
        };
        let codes: Vec<String> = p
            .code
            .find_iter(question)
            .map(|m| m.as_str().to_lowercase())
            .filter(|c| {
                // a four-digit number is a code only when the question speaks of codes
                !c.chars().all(|ch| ch.is_ascii_digit()) || p.code_context.is_match(question)
            })
            .collect();
        let kind = if !codes.is_empty() {
            Kind::Code
        } else if p.contact.is_match(question) {
            Kind::Contact
        } else if p.price.is_match(question) {
            Kind::Price
        } else if p.duration.is_match(question) {
            Kind::Duration
        } else if p.steps.is_match(question) {
            Kind::Steps
        } else if p.yes_no.is_match(question.trim()) {
            Kind::YesNo
        } else if !p.asks.is_match(question) {
            // no question at all: a customer describing a problem wants to know what to do
            Kind::Steps
        } else {
            Kind::Other
        };
        Asked {
            kind,
            codes,
            about_cover: p.about_cover.is_match(question),
        }
    }

    /// Whether `sentence` names a code and none of those the question asks about (a row of
    /// the error table for another code).
    pub fn names_other_code(&self, sentence: &str) -> bool {
        let Some(p) = patterns() else {
            return false;
        };
        if self.kind != Kind::Code {
            return false;
        }
        let named: Vec<String> = p
            .code
            .find_iter(sentence)
            .map(|m| m.as_str().to_lowercase())
            .filter(|c| !c.chars().all(|ch| ch.is_ascii_digit()) || self.codes.contains(c))
            .collect();
        !named.is_empty() && !named.iter().any(|c| self.codes.contains(c))
    }

    /// How well a sentence gives what was asked for (0 to 1). `intro` is the sentence that
    /// introduces the list a sentence is an item of ("These are not covered:"): for a yes or
    /// no, it decides as much as the item does.
    pub fn fit(&self, sentence: &str, intro: Option<&str>) -> f32 {
        let Some(p) = patterns() else {
            return 0.0;
        };
        match self.kind {
            Kind::Code => {
                let lower = sentence.to_lowercase();
                let names = self.codes.iter().any(|c| {
                    lower.match_indices(c.as_str()).any(|(i, m)| {
                        let before = lower[..i].chars().next_back();
                        let after = lower[i + m.len()..].chars().next();
                        !before.is_some_and(|c| c.is_ascii_alphanumeric())
                            && !after.is_some_and(|c| c.is_ascii_alphanumeric())
                    })
                });
                match (names, p.means.is_match(sentence)) {
                    (true, true) => 1.0,
                    (true, false) => 0.7,
                    _ => 0.0,
                }
            }
            Kind::Price => f32::from(u8::from(p.has_price.is_match(sentence))),
            Kind::Duration => f32::from(u8::from(p.has_duration.is_match(sentence))),
            Kind::YesNo => {
                let decides = |t: &str| -> f32 {
                    if self.about_cover && p.covers.is_match(t) {
                        // whether it is covered, asked of a clause saying what is
                        1.0
                    } else if p.decides.is_match(t) {
                        0.5
                    } else {
                        0.0
                    }
                };
                decides(sentence).max(intro.map_or(0.0, decides))
            }
            Kind::Contact => f32::from(u8::from(p.has_contact.is_match(sentence))),
            Kind::Steps | Kind::Other => 0.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_of_question_in_both_languages() {
        assert_eq!(Asked::of("洗衣机显示E21是什么意思").kind, Kind::Code);
        assert_eq!(Asked::of("洗衣机显示E21是什么意思").codes, vec!["e21"]);
        assert_eq!(Asked::of("TV error 1001").kind, Kind::Code);
        assert_eq!(Asked::of("x9 换屏多少钱").kind, Kind::Price);
        assert_eq!(Asked::of("how much is a new battery").kind, Kind::Price);
        assert_eq!(Asked::of("X9 Pro 保修多久").kind, Kind::Duration);
        assert_eq!(
            Asked::of("how long is the warranty on the TV").kind,
            Kind::Duration
        );
        assert_eq!(Asked::of("空调不制冷怎么办").kind, Kind::Steps);
        assert_eq!(Asked::of("how do I reset the remote").kind, Kind::Steps);
        // a problem described with no question asks what to do
        assert_eq!(Asked::of("x9耗电好快啊 一天要充两次").kind, Kind::Steps);
        assert_eq!(Asked::of("tv just says no signal").kind, Kind::Steps);
        assert_eq!(Asked::of("A5开不了机了 按电源键没反应").kind, Kind::Steps);
        assert_eq!(Asked::of("为什么电视没声音").kind, Kind::Other);
        assert_eq!(Asked::of("耳机拆封了还能退吗").kind, Kind::YesNo);
        assert_eq!(Asked::of("is water damage covered").kind, Kind::YesNo);
        assert_eq!(Asked::of("你们的客服电话是多少").kind, Kind::Contact);
        assert_eq!(
            Asked::of("what's the customer service phone number").kind,
            Kind::Contact
        );
        // a year is not a code unless the question speaks of codes
        assert_eq!(
            Asked::of("bought it in 2025, still covered?").codes,
            Vec::<String>::new()
        );
    }

    #[test]
    fn a_sentence_about_another_code_is_known() {
        let code = Asked::of("WM-8012 showing E21");
        assert!(code.names_other_code("Code: E30; Meaning: Door lock fault."));
        assert!(!code.names_other_code("Code: E21; Meaning: Drain problem."));
        assert!(!code.names_other_code("E21 and E30 both stop the programme."));
        assert!(!code.names_other_code("Unplug the washer."));
        assert!(!Asked::of("how do I reset it").names_other_code("E30 means…"));
    }

    #[test]
    fn sentences_fit_what_was_asked() {
        let code = Asked::of("WM-8012 showing E21");
        assert_eq!(
            code.fit("E21 means water is not pumped out in time.", None),
            1.0
        );
        assert_eq!(
            code.fit("Clean the filter whenever E21 appears.", None),
            0.7
        );
        assert_eq!(code.fit("E210 is something else.", None), 0.0);
        let price = Asked::of("x9 换屏多少钱");
        assert_eq!(price.fit("X9 换屏 ¥999。", None), 1.0);
        assert_eq!(price.fit("检测免费。", None), 0.0);
        let long = Asked::of("how long is the warranty");
        assert_eq!(long.fit("Phones are covered for 12 months.", None), 1.0);
        assert_eq!(long.fit("Phones are covered.", None), 0.0);
        let contact = Asked::of("你们的客服电话是多少");
        assert_eq!(
            contact.fit("中国大陆用户请拨打服务热线 400-820-6688。", None),
            1.0
        );
        assert_eq!(contact.fit("请告诉我们机型和序列号。", None), 0.0);
    }

    #[test]
    fn whether_it_is_covered_is_decided_by_a_clause_on_cover_or_its_list() {
        let covered = Asked::of("屏幕摔碎了保修吗");
        assert!(covered.about_cover);
        // a clause saying what the warranty covers decides, more than any "can"
        assert_eq!(covered.fit("进液损坏不在保修范围内。", None), 1.0);
        assert_eq!(
            covered.fit("新屏幕可以一直保到原来 12 个月保修期结束。", None),
            0.5
        );
        // an item decides through the lead-in of its list
        let item = "人为损坏：摔落、撞击造成的屏幕碎裂。";
        assert_eq!(covered.fit(item, None), 0.0);
        assert_eq!(covered.fit(item, Some("以下情况不在保修范围内：")), 1.0);
        // a yes or no about something else is decided by any clause that allows or forbids
        let other = Asked::of("耳机拆封了还能退吗");
        assert!(!other.about_cover);
        assert_eq!(other.fit("不在保修范围内。", None), 0.5);
    }
}
