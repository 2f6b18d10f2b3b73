//! Answer quality measures: ROUGE-L against a reference answer, and whether an answer contains
//! a gold answer span.

use crate::text::is_cjk;

/// Tokens for ROUGE: Chinese characters one by one, other words lowercased.
fn tokens(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    for c in s.chars() {
        if is_cjk(c) {
            if !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
            out.push(c.to_string());
        } else if c.is_alphanumeric() {
            word.extend(c.to_lowercase());
        } else if !word.is_empty() {
            out.push(std::mem::take(&mut word));
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

fn lcs(a: &[String], b: &[String]) -> usize {
    let mut prev = vec![0usize; b.len() + 1];
    let mut cur = vec![0usize; b.len() + 1];
    for x in a {
        for (j, y) in b.iter().enumerate() {
            cur[j + 1] = if x == y {
                prev[j] + 1
            } else {
                cur[j].max(prev[j + 1])
            };
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// ROUGE-L F-measure (β = 1.2, as in the original definition's common setting) of a candidate
/// against a reference.
pub fn rouge_l(candidate: &str, reference: &str) -> f64 {
    let (c, r) = (tokens(candidate), tokens(reference));
    if c.is_empty() || r.is_empty() {
        return 0.0;
    }
    let l = lcs(&c, &r) as f64;
    if l == 0.0 {
        return 0.0;
    }
    let (p, rec) = (l / c.len() as f64, l / r.len() as f64);
    let b2 = 1.2f64 * 1.2;
    (1.0 + b2) * p * rec / (rec + b2 * p)
}

/// Whether `answer` contains the gold `span` (ignoring case, spaces and punctuation).
pub fn contains_span(answer: &str, span: &str) -> bool {
    let norm = |s: &str| -> String {
        s.chars()
            .flat_map(char::to_lowercase)
            .filter(|c| c.is_alphanumeric() || is_cjk(*c))
            .collect()
    };
    let (a, s) = (norm(answer), norm(span));
    !s.is_empty() && a.contains(&s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rouge_l_by_hand() {
        // LCS("the cat sat", "the cat was sat") = 3; P = 1, R = 3/4
        let f = rouge_l("the cat sat", "the cat was sat");
        let (p, r, b2) = (1.0f64, 0.75f64, 1.44f64);
        assert!((f - (1.0 + b2) * p * r / (r + b2 * p)).abs() < 1e-12);
        assert_eq!(rouge_l("", "x"), 0.0);
        assert_eq!(rouge_l("a b", "c d"), 0.0);
        assert!((rouge_l("保修一年", "保修一年") - 1.0).abs() < 1e-12);
    }

    #[test]
    fn spans_are_found_regardless_of_case_and_punctuation() {
        assert!(contains_span("It gave up just 308 points.", "308"));
        assert!(contains_span("全长364.6公里。", "364.6公里"));
        assert!(contains_span("Kawann Short led", "kawann short"));
        assert!(!contains_span("nothing here", "308"));
        assert!(!contains_span("anything", "  "));
    }
}
