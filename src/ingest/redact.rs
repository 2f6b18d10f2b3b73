//! Redaction of personal data in tickets, before anything is stored or indexed: Chinese mobile
//! numbers, other phone numbers, e-mail addresses, Chinese ID-card numbers and bank-card
//! numbers. Each kind is replaced by a placeholder (`[PHONE]`, `[EMAIL]`, `[ID_NUMBER]`,
//! `[CARD_NUMBER]`). Strings in the allow list (the company's own hotlines) are kept.
//!
//! The rules err on the side of redacting: a 16–19 digit number is treated as a card number
//! whether or not its Luhn check digit is right, because customers mistype them.

use std::sync::OnceLock;

use regex::Regex;

/// What a redaction replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PiiKind {
    Email,
    IdCard,
    BankCard,
    Mobile,
    Phone,
}

impl PiiKind {
    /// The placeholder written in place of the data.
    pub fn placeholder(self) -> &'static str {
        match self {
            PiiKind::Email => "[EMAIL]",
            PiiKind::IdCard => "[ID_NUMBER]",
            PiiKind::BankCard => "[CARD_NUMBER]",
            PiiKind::Mobile | PiiKind::Phone => "[PHONE]",
        }
    }
}

struct Rules {
    ordered: Vec<(PiiKind, Regex)>,
}

fn rules() -> &'static Rules {
    static RULES: OnceLock<Rules> = OnceLock::new();
    RULES.get_or_init(|| {
        let r = |p: &str| Regex::new(p).expect("redaction patterns are valid");
        Rules {
            ordered: vec![
                (PiiKind::Email, r(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")),
                // 6-digit area, birth date 18xx/19xx/20xx MMDD, 3 digits, check digit or X.
                (PiiKind::IdCard, r(r"[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[0-9Xx]")),
                // 16–19 digits, optionally in groups separated by spaces or dashes.
                (PiiKind::BankCard, r(r"\d{4}(?:[ \-]?\d{4}){3}(?:[ \-]?\d{1,3})?")),
                // Chinese mobile: optional +86 / 86, then 1[3-9] and 9 more digits, 3-4-4 groups allowed.
                (PiiKind::Mobile, r(r"(?:\+?86[ \-]?)?1[3-9]\d(?:[ \-]?\d{4}){2}")),
                // Other phones: international +CC …, Chinese landlines 0XX(X)-XXXXXXX(X),
                // North-American (XXX) XXX-XXXX / XXX-XXX-XXXX.
                (PiiKind::Phone, r(r"\+\d{1,3}[ \-]?(?:\(\d{1,4}\)[ \-]?)?\d{1,4}(?:[ \-]\d{2,4}){1,4}")),
                (PiiKind::Phone, r(r"\(?0\d{2,3}\)?[ \-]\d{7,8}")),
                (PiiKind::Phone, r(r"\(\d{3}\)[ \-]?\d{3}[ \-.]\d{4}|\b\d{3}[\-.]\d{3}[\-.]\d{4}")),
            ],
        }
    })
}

fn is_digit_at(s: &str, byte: usize, before: bool) -> bool {
    if before {
        s[..byte]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_ascii_alphanumeric())
    } else {
        s[byte..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
    }
}

/// Redacts `text`, keeping strings in `allow`. Returns the redacted text and what was replaced.
pub fn redact(text: &str, allow: &[String]) -> (String, Vec<PiiKind>) {
    let mut out = text.to_string();
    let mut found = Vec::new();
    // Protect allowed strings by swapping them for markers while the rules run.
    let mut protected: Vec<(String, &str)> = Vec::new();
    for (i, a) in allow.iter().enumerate() {
        if !a.is_empty() && out.contains(a.as_str()) {
            let marker = format!("\u{E000}{i}\u{E001}");
            out = out.replace(a.as_str(), &marker);
            protected.push((marker, a.as_str()));
        }
    }
    for (kind, re) in &rules().ordered {
        let mut result = String::with_capacity(out.len());
        let mut last = 0;
        for m in re.find_iter(&out) {
            // Numbers must stand alone: not glued to more letters or digits (an order number
            // like TL20260315-482913 is not a phone). E-mail matches are taken as they are.
            if *kind != PiiKind::Email
                && (is_digit_at(&out, m.start(), true) || is_digit_at(&out, m.end(), false))
            {
                continue;
            }
            result.push_str(&out[last..m.start()]);
            result.push_str(kind.placeholder());
            last = m.end();
            found.push(*kind);
        }
        result.push_str(&out[last..]);
        out = result;
    }
    for (marker, original) in protected {
        out = out.replace(&marker, original);
    }
    (out, found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn red(s: &str) -> String {
        redact(
            s,
            &[
                "400-820-6688".to_string(),
                "+1-800-555-0142".to_string(),
                "support@tianlan.example".to_string(),
            ],
        )
        .0
    }

    #[test]
    fn chinese_mobile_numbers() {
        assert_eq!(red("我的电话13812345678谢谢"), "我的电话[PHONE]谢谢");
        assert_eq!(red("手机 138 1234 5678。"), "手机 [PHONE]。");
        assert_eq!(red("call +86 139-2345-6789 please"), "call [PHONE] please");
    }

    #[test]
    fn landline_and_international_phone_numbers() {
        assert_eq!(red("座机021-62345678"), "座机[PHONE]");
        assert_eq!(red("0755-8765432 找王先生"), "[PHONE] 找王先生");
        assert_eq!(red("call (415) 555-0133 today"), "call [PHONE] today");
        assert_eq!(red("UK: +44 20 7946 0958."), "UK: [PHONE].");
        assert_eq!(red("+1 212-555-0187"), "[PHONE]");
        assert_eq!(red("SG +65 6123 4567"), "SG [PHONE]");
        assert_eq!(red("or 212-555-0187"), "or [PHONE]");
    }

    #[test]
    fn email_addresses() {
        assert_eq!(
            red("mail me at li.wei+tl@example.com."),
            "mail me at [EMAIL]."
        );
        assert_eq!(
            red("写信到 zhang_san@qq.example.cn 吧"),
            "写信到 [EMAIL] 吧"
        );
    }

    #[test]
    fn id_card_numbers() {
        assert_eq!(red("身份证号110105199003071234"), "身份证号[ID_NUMBER]");
        assert_eq!(red("ID 44030419851231561X ok"), "ID [ID_NUMBER] ok");
        assert_eq!(red("id 44030419851231561x"), "id [ID_NUMBER]");
    }

    #[test]
    fn bank_card_numbers() {
        assert_eq!(red("卡号6222021234567890123"), "卡号[CARD_NUMBER]");
        assert_eq!(
            red("card 4111 1111 1111 1111 thanks"),
            "card [CARD_NUMBER] thanks"
        );
        assert_eq!(red("card 5500-0000-0000-0004"), "card [CARD_NUMBER]");
        assert_eq!(red("4111111111111111"), "[CARD_NUMBER]");
    }

    #[test]
    fn keeps_company_numbers_orders_serials_and_ordinary_numbers() {
        let s = "Call 400-820-6688 or +1-800-555-0142, support@tianlan.example. Order TL20260315-482913, SN X9P2405A01234, RMA-240781, 5,000 mAh, ¥1,299, 2026-03-15.";
        assert_eq!(red(s), s);
    }

    #[test]
    fn reports_what_it_found() {
        let (_, kinds) = redact("a@b.cn 13812345678", &[]);
        assert_eq!(kinds, vec![PiiKind::Email, PiiKind::Mobile]);
    }
}
