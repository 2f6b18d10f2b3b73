//! Which language a text is in: the two kefu reads, and the one rule that detects them.

use serde::{Deserialize, Serialize};

/// Whether `c` is a Chinese (Han) character.
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x4E00..=0x9FFF | 0x3400..=0x4DBF | 0xF900..=0xFAFF | 0x20000..=0x2EBEF | 0x30000..=0x3134F)
}

/// The language of a document or passage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    En,
    Zh,
}

impl Lang {
    /// Parses a language tag (`en`, `en-US`, `zh`, `zh-CN`, `zh-Hans`, …).
    pub fn parse(s: &str) -> Option<Lang> {
        let s = s.trim().to_ascii_lowercase();
        let primary = s.split(['-', '_']).next().unwrap_or("");
        match primary {
            "en" | "english" => Some(Lang::En),
            "zh" | "cn" | "chinese" => Some(Lang::Zh),
            _ => None,
        }
    }

    /// The two-letter code.
    pub fn as_str(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh",
        }
    }

    /// Detects the main language of a text: Chinese when it has at least as many CJK characters
    /// as Latin words.
    pub fn detect(text: &str) -> Lang {
        let mut cjk = 0usize;
        let mut words = 0usize;
        let mut in_word = false;
        for c in text.chars() {
            if is_cjk(c) {
                cjk += 1;
                in_word = false;
            } else if c.is_alphabetic() {
                if !in_word {
                    words += 1;
                }
                in_word = true;
            } else {
                in_word = false;
            }
        }
        if cjk > 0 && cjk >= words {
            Lang::Zh
        } else {
            Lang::En
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_language() {
        assert_eq!(Lang::detect("X9 Pro 的屏幕碎了怎么办"), Lang::Zh);
        assert_eq!(Lang::detect("My X9 Pro screen is cracked"), Lang::En);
    }

    #[test]
    fn parses_language_tags() {
        assert_eq!(Lang::parse("zh-CN"), Some(Lang::Zh));
        assert_eq!(Lang::parse("en_US"), Some(Lang::En));
        assert_eq!(Lang::parse("fr"), None);
    }
}
