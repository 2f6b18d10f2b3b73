//! The e5 tokenizer, rebuilt from the model file: a `tokenizer.json` for the `tokenizers`
//! crate (sentencepiece Unigram pieces and scores, Metaspace `▁` with a prefix space, template
//! `<s> $A </s>`), and the text normaliser, which kefu applies itself before tokenising: the
//! file's per-code-point map (sentencepiece's nmt_nfkc rules), then runs of spaces collapsed to
//! one and the ends trimmed.

use std::collections::HashMap;

use serde_json::json;

use super::e5file::Vocab;

/// Text normalisation by a per-code-point map.
#[derive(Debug, Clone, Default)]
pub struct Normalizer {
    map: HashMap<char, String>,
}

impl Normalizer {
    /// From (code point, replacement code points) pairs; invalid code points are skipped.
    pub fn from_table<'a>(table: impl IntoIterator<Item = (&'a u32, &'a Vec<u32>)>) -> Normalizer {
        let mut map = HashMap::new();
        for (cp, rep) in table {
            if let Some(c) = char::from_u32(*cp) {
                map.insert(c, rep.iter().filter_map(|r| char::from_u32(*r)).collect());
            }
        }
        Normalizer { map }
    }

    /// Serialises the table as JSON (`[[code point, "replacement"], …]`).
    pub fn to_json(&self) -> String {
        let mut entries: Vec<(u32, &String)> =
            self.map.iter().map(|(c, r)| (*c as u32, r)).collect();
        entries.sort();
        serde_json::to_string(&entries).unwrap_or_else(|_| "[]".into())
    }

    /// Reads the JSON written by [`Normalizer::to_json`].
    pub fn from_json(s: &str) -> Result<Normalizer, String> {
        let entries: Vec<(u32, String)> =
            serde_json::from_str(s).map_err(|e| format!("normalisation table: {e}"))?;
        let mut map = HashMap::new();
        for (cp, rep) in entries {
            let c = char::from_u32(cp)
                .ok_or_else(|| format!("normalisation table: bad code point {cp}"))?;
            map.insert(c, rep);
        }
        Ok(Normalizer { map })
    }

    /// Normalises `text`: mapped code points, single spaces, no leading or trailing space.
    pub fn normalize(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut last_space = true;
        for c in text.chars() {
            let mapped: &str;
            let buf;
            match self.map.get(&c) {
                Some(r) => mapped = r.as_str(),
                None => {
                    buf = c.to_string();
                    mapped = &buf;
                }
            }
            for m in mapped.chars() {
                if m == ' ' {
                    if !last_space {
                        out.push(' ');
                    }
                    last_space = true;
                } else {
                    out.push(m);
                    last_space = false;
                }
            }
        }
        while out.ends_with(' ') {
            out.pop();
        }
        out
    }
}

/// The `tokenizer.json` for the vocabulary.
pub fn tokenizer_json(v: &Vocab) -> String {
    // The unknown piece is renamed to a string normalised text cannot contain, so the literal
    // text "<unk>" is not matched as it (the package's engine never matches it either).
    let vocab: Vec<(String, f64)> = v
        .pieces
        .iter()
        .zip(&v.scores)
        .enumerate()
        .map(|(i, (p, s))| {
            let piece = if i as u32 == v.unk {
                format!("\u{1}{p}")
            } else {
                p.clone()
            };
            (piece, *s as f64)
        })
        .collect();
    let piece = |id: u32| v.pieces.get(id as usize).cloned().unwrap_or_default();
    let (bos, eos) = (piece(v.bos), piece(v.eos));
    let t = json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        // no added tokens: like the package's engine, "<s>" in a text is an ordinary piece and
        // does not split the text
        "added_tokens": [],
        "normalizer": null,
        "pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [
                {"SpecialToken": {"id": bos, "type_id": 0}},
                {"Sequence": {"id": "A", "type_id": 0}},
                {"SpecialToken": {"id": eos, "type_id": 0}}
            ],
            "pair": [
                {"SpecialToken": {"id": bos, "type_id": 0}},
                {"Sequence": {"id": "A", "type_id": 0}},
                {"SpecialToken": {"id": eos, "type_id": 0}},
                {"SpecialToken": {"id": eos, "type_id": 0}},
                {"Sequence": {"id": "B", "type_id": 0}},
                {"SpecialToken": {"id": eos, "type_id": 0}}
            ],
            "special_tokens": {
                bos.clone(): {"id": bos, "ids": [v.bos], "tokens": [bos]},
                eos.clone(): {"id": eos, "ids": [v.eos], "tokens": [eos]}
            }
        },
        "decoder": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true},
        "model": {"type": "Unigram", "unk_id": v.unk, "vocab": vocab, "byte_fallback": false}
    });
    t.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_by_table_and_whitespace() {
        let table: Vec<(u32, Vec<u32>)> = vec![
            (0x9, vec![0x20]),
            (0x200b, vec![0x20]),
            (0x1, vec![]),
            (0xff21, vec![0x41]),
        ];
        let n = Normalizer::from_table(table.iter().map(|(a, b)| (a, b)));
        assert_eq!(n.normalize("  a\t\u{200b} b\u{1}Ａ  "), "a bA");
        let back = Normalizer::from_json(&n.to_json()).expect("round trip");
        assert_eq!(back.normalize("x\ty"), "x y");
    }

    #[test]
    fn tokenizer_json_loads_and_tokenizes() {
        let v = Vocab {
            pieces: [
                "<s>", "<pad>", "</s>", "<unk>", "▁", "▁hello", "▁wor", "ld", "屏幕",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            scores: vec![0.0, 0.0, 0.0, 0.0, -2.0, -3.0, -4.0, -4.5, -5.0],
            bos: 0,
            eos: 2,
            pad: 1,
            unk: 3,
        };
        let t = tokenizers::Tokenizer::from_bytes(tokenizer_json(&v).as_bytes()).expect("loads");
        let enc = t.encode("hello world", true).expect("encodes");
        assert_eq!(enc.get_ids(), &[0, 5, 6, 7, 2]);
        let enc = t.encode("屏幕", true).expect("encodes");
        assert_eq!(enc.get_ids(), &[0, 4, 8, 2]);
    }
}
