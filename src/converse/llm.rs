//! The optional LLM rewriter: a follow-up made to stand alone by an OpenAI-compatible model
//! (`[answer.llm]`), measured beside the rules by `kefu eval --task rewrite --rewriter llm`.
//! It is not used by turns: on the development sets a small local model does not beat the
//! rules (README), and a turn must not wait seconds for its question.

use serde_json::{json, Value};

use crate::answer::llm::LlmClient;
use crate::config::LlmConfig;
use crate::error::Result;
use crate::text::Lang;

/// Follow-ups rewritten by an LLM.
pub struct LlmRewriter {
    client: LlmClient,
}

/// The chat messages: the task and two worked examples (about no product of ours), then the
/// conversation and the follow-up. Small models copy the form of an example more faithfully
/// than they follow a rule, so the examples show both a rewrite and a question left alone.
pub fn messages(question: &str, lang: Lang, turns: &[String]) -> Value {
    let (system, examples, convo, follow, ask) = match lang {
        Lang::Zh => (
            "你负责改写客服对话里用户的最后一句话，让它脱离上下文也能看懂：把省略的对象、代词指代的东西补进去，用用户自己的说法，不要回答问题，不要加别的内容。如果这句话本身就完整，原样输出。只输出改写后的一句话。",
            "示例一：\n对话：用户：博物馆几点开门？ 客服：早上 9 点。\n最后一句：那周末呢\n改写：博物馆周末几点开门\n\n示例二：\n对话：用户：博物馆几点开门？ 客服：早上 9 点。\n最后一句：门票多少钱一张\n改写：门票多少钱一张\n\n",
            "对话：",
            "\n最后一句：",
            "\n改写：",
        ),
        Lang::En => (
            "You rewrite the user's last message in a customer-service conversation so that it can be understood without the conversation: put in what it leaves out and what its pronouns refer to, in the user's own words. Do not answer it and add nothing else. If it already stands alone, repeat it unchanged. Output only the rewritten message.",
            "Example 1:\nConversation: User: When does the museum open? Agent: At 9 am.\nLast message: and on weekends?\nRewrite: When does the museum open on weekends?\n\nExample 2:\nConversation: User: When does the museum open? Agent: At 9 am.\nLast message: How much is a ticket?\nRewrite: How much is a ticket?\n\n",
            "Conversation: ",
            "\nLast message: ",
            "\nRewrite:",
        ),
    };
    let (user_word, agent_word) = match lang {
        Lang::Zh => ("用户：", "客服："),
        Lang::En => ("User: ", "Agent: "),
    };
    let mut user = String::from(examples);
    user.push_str(convo);
    // the earlier turns alternate, the customer's first; the last few are enough
    let start = turns.len().saturating_sub(6);
    for (i, t) in turns.iter().enumerate().skip(start) {
        let who = if i % 2 == 0 { user_word } else { agent_word };
        let t: String = t.chars().take(300).collect();
        user.push_str(&format!("{who}{t} "));
    }
    user.push_str(follow);
    user.push_str(question);
    user.push_str(ask);
    json!([
        {"role": "system", "content": system},
        {"role": "user", "content": user},
    ])
}

/// The model's reply as a question: its first line, labels and quotes trimmed; the question
/// itself when the reply is empty or runs on far beyond it (an answer, not a rewrite).
pub fn clean(reply: &str, question: &str) -> String {
    let line = reply.trim().lines().next().unwrap_or("").trim();
    let line = ["Rewrite:", "改写：", "改写:"]
        .iter()
        .find_map(|p| line.strip_prefix(p))
        .unwrap_or(line)
        .trim()
        .trim_matches(|c| matches!(c, '"' | '“' | '”' | '「' | '」'))
        .trim();
    let longest = question.chars().count() * 3 + 60;
    if line.is_empty() || line.chars().count() > longest {
        question.to_string()
    } else {
        line.to_string()
    }
}

impl LlmRewriter {
    pub fn new(config: &LlmConfig) -> LlmRewriter {
        LlmRewriter {
            client: LlmClient::new(config),
        }
    }

    /// `question` made to stand alone given the earlier `turns` (customer first, alternating).
    pub fn rewrite(&self, question: &str, lang: Lang, turns: &[String]) -> Result<String> {
        let mut reply = String::new();
        self.client
            .stream(&messages(question, lang, turns), &mut |piece| {
                reply.push_str(piece);
                // one line is the whole rewrite
                !reply.trim_start().contains('\n')
            })?;
        Ok(clean(&reply, question))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reply_is_cut_to_one_clean_line() {
        assert_eq!(
            clean(
                "Rewrite: \"How long is the charger's warranty?\"\nBecause…",
                "and the charger?"
            ),
            "How long is the charger's warranty?"
        );
        assert_eq!(clean("  ", "那电池呢"), "那电池呢");
        let rambling = "x".repeat(200);
        assert_eq!(clean(&rambling, "ok?"), "ok?");
    }

    #[test]
    fn the_prompt_ends_with_the_follow_up_and_keeps_the_last_turns() {
        let turns: Vec<String> = (0..10).map(|i| format!("turn {i}")).collect();
        let m = messages("and the battery?", Lang::En, &turns);
        let user = m[1]["content"].as_str().unwrap_or_default();
        assert!(
            user.ends_with("Last message: and the battery?\nRewrite:"),
            "{user}"
        );
        assert!(
            user.contains("User: turn 4") && !user.contains("turn 3 "),
            "{user}"
        );
    }
}
