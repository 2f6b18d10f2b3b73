//! One turn of a conversation: the follow-up resolved against the earlier turns, the resolved
//! question answered, and — when the customer is known and asks for one — a decision computed
//! from their purchase and the policies' terms, said first and cited clause by clause.

use chrono::NaiveDate;
use serde::Serialize;

use crate::answer::{AnswerSentence, Citation, CitedPassage};
use crate::converse::{resolve, Dialogue, How, Names, Resolved};
use crate::customer::ask::{detect_damage, Ask, Damage, Intent};
use crate::customer::decide::{decide, Decision, Facts, Verdict};
use crate::customer::say;
use crate::customer::terms::ClauseRef;
use crate::customer::{Customer, Purchase};
use crate::error::Result;
use crate::retrieve::{Filters, Scope};
use crate::text::Lang;

use super::{Answer, AnswerRequest, Engine};

/// Sentences of the retrieved answer kept after a decision.
const AFTER_DECISION: usize = 3;

/// The conversation so far, as a turn needs it.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// Earlier turns, oldest first, alternating the customer's message and kefu's answer.
    pub turns: Vec<String>,
    /// The previous question as it was resolved.
    pub previous: Option<String>,
    /// The product the conversation is about.
    pub product: Option<String>,
}

/// A turn to take.
pub struct ChatRequest<'a> {
    pub message: String,
    pub history: &'a History,
    pub customer: Option<&'a Customer>,
    /// The day decisions are taken on.
    pub as_of: NaiveDate,
    pub scope: Scope,
    pub passages: usize,
    pub use_llm: bool,
    pub cancel: crate::cancel::Cancel,
}

/// A decision as the turn took it.
#[derive(Debug, Clone, Serialize)]
pub struct TurnDecision {
    #[serde(flatten)]
    pub decision: Decision,
    /// The purchase it is about.
    pub order: String,
    pub model: String,
    /// The decision as said to the customer.
    pub text: String,
}

/// The customer facts a turn used.
#[derive(Debug, Clone, Serialize)]
pub struct CustomerFacts {
    pub customer_id: String,
    pub tier: crate::customer::Tier,
    pub region: String,
    /// The purchase the turn is about, if one was chosen.
    pub purchase: Option<PurchaseFacts>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PurchaseFacts {
    pub order: String,
    pub model: String,
    pub category: String,
    pub channel: crate::customer::SalesChannel,
    pub delivered: Option<NaiveDate>,
    pub invoiced: Option<NaiveDate>,
    pub tiancare: bool,
    pub repairs: usize,
}

/// A turn taken.
pub struct ChatReply {
    pub answer: Answer,
    pub resolved: Resolved,
    pub decision: Option<TurnDecision>,
    pub customer: Option<CustomerFacts>,
    /// Why no decision was taken although one was asked for.
    pub no_decision: Option<String>,
}

/// The catalogue, as the rewriter sees it.
struct EngineNames<'a> {
    engine: &'a Engine,
    scope: Scope,
}

impl Names for EngineNames<'_> {
    fn models(&self, text: &str) -> Vec<String> {
        self.engine.models_named(text, self.scope)
    }

    fn category(&self, model: &str) -> Option<String> {
        self.engine
            .catalogue
            .for_scope(self.scope)
            .models
            .iter()
            .find(|m| m.name.eq_ignore_ascii_case(model))
            .and_then(|m| m.category.clone())
    }

    fn models_of(&self, category: &str) -> Vec<String> {
        self.engine.models_of(category, self.scope)
    }
}

/// The one product an answer's cited passages are about: every cited passage whose document
/// is about products names the same single model (`None` for an abstention, a general answer,
/// or one drawn from several products' documents).
fn product_answered(answer: &Answer) -> Option<String> {
    if answer.composed.abstained {
        return None;
    }
    let mut found: Option<&str> = None;
    for c in answer
        .composed
        .sentences
        .iter()
        .flat_map(|s| s.citations.iter())
    {
        let Some(chunk) = answer
            .evidence
            .iter()
            .find(|e| e.id.to_string() == c.chunk_id)
        else {
            continue;
        };
        match chunk.meta.products.as_slice() {
            [] => {}
            [one] if found.is_none_or(|f| f == one.as_str()) => found = Some(one.as_str()),
            _ => return None,
        }
    }
    found.map(str::to_string)
}

/// The purchase a turn is about: the product the conversation names, else the only purchase of
/// the kind of product the message names, else the customer's only purchase.
fn purchase_for<'a>(
    customer: &'a Customer,
    product: Option<&str>,
    message: &str,
) -> Option<&'a Purchase> {
    if let Some(p) = product {
        if let Some(found) = customer
            .purchases
            .iter()
            .find(|x| x.model.eq_ignore_ascii_case(p))
        {
            return Some(found);
        }
    }
    for (category, _, _) in crate::customer::kinds_named(message) {
        let mine: Vec<&Purchase> = customer
            .purchases
            .iter()
            .filter(|x| x.category == category)
            .collect();
        if mine.len() == 1 {
            return Some(mine[0]);
        }
    }
    (customer.purchases.len() == 1).then(|| &customer.purchases[0])
}

fn facts_of(customer: &Customer, purchase: Option<&Purchase>) -> CustomerFacts {
    CustomerFacts {
        customer_id: customer.id.as_str().to_string(),
        tier: customer.tier,
        region: customer.region.clone(),
        purchase: purchase.map(|p| PurchaseFacts {
            order: p.order.clone(),
            model: p.model.clone(),
            category: p.category.clone(),
            channel: p.channel,
            delivered: p.delivered,
            invoiced: p.invoiced,
            tiancare: p.tiancare.is_some(),
            repairs: p.repairs.len(),
        }),
    }
}

impl Engine {
    /// Takes one turn of a conversation.
    pub fn chat(&self, req: &ChatRequest<'_>) -> Result<ChatReply> {
        let lang = Lang::detect(&req.message);
        let names = EngineNames {
            engine: self,
            scope: req.scope,
        };
        let mine: Vec<(String, String)> = req
            .customer
            .map(|c| {
                c.purchases
                    .iter()
                    .map(|p| (p.model.clone(), p.category.clone()))
                    .collect()
            })
            .unwrap_or_default();
        // a customer with one product talks about it until they name another
        let product = req.history.product.clone().or_else(|| {
            req.customer
                .filter(|c| c.purchases.len() == 1)
                .map(|c| c.purchases[0].model.clone())
        });
        let dialogue = Dialogue {
            turns: &req.history.turns,
            previous: req.history.previous.as_deref(),
            product: product.as_deref(),
            customer_products: &mine,
            topic: None,
            open_domain: false,
        };
        let resolved = resolve(&req.message, lang, &dialogue, &names);
        let areq = AnswerRequest {
            question: resolved.text.clone(),
            filters: Filters::default(),
            scope: req.scope,
            passages: req.passages,
            use_llm: req.use_llm,
            cancel: req.cancel.clone(),
        };
        let mut answer = self.answer(&areq)?;
        let mut resolved = resolved;
        if resolved.product.is_none() {
            // 「滚筒洗衣机报E21」 names no model, but the answer came from the WM-8012's manual:
            // the conversation is about the WM-8012 from here on
            resolved.product = product_answered(&answer);
        }
        // a follow-up that swaps the thing asked about keeps the earlier request: 「那电池呢」
        // after 「屏幕碎了怎么办」 asks whether the battery is covered (a fault of its own, not
        // the screen's crack)
        let asked = match resolved.how {
            How::Ellipsis => Ask::from_message(&resolved.text).map(|mut a| {
                a.damage = detect_damage(&req.message).or(Some(Damage::Defect));
                a.fault = Some(req.message.clone());
                a
            }),
            _ => Ask::from_message(&req.message),
        };
        let mut decision = None;
        let mut no_decision = None;
        let mut facts = None;
        if let Some(customer) = req.customer {
            let purchase = purchase_for(customer, resolved.product.as_deref(), &req.message);
            facts = Some(facts_of(customer, purchase));
            if let (Some(ask), Some(p)) = (&asked, purchase) {
                let f = Facts {
                    purchase: p,
                    region: &customer.region,
                    as_of: req.as_of,
                };
                match decide(&self.terms, f, ask) {
                    Ok(d) => {
                        let text = say::say(&d, &p.model, lang);
                        decision = Some(TurnDecision {
                            decision: d,
                            order: p.order.clone(),
                            model: p.model.clone(),
                            text,
                        });
                    }
                    Err(e) => no_decision = Some(e.0),
                }
            } else if asked.is_some() {
                no_decision = Some("the customer has no purchase this question is about".into());
            }
        }
        match &decision {
            Some(d) => self.lead_with_decision(&mut answer, d, asked.as_ref(), lang, req.scope),
            None if asked.is_some() && req.customer.is_none() && !answer.composed.abstained => {
                let ask = say::ask_for_order(lang);
                answer.composed.text = format!("{} {ask}", answer.composed.text);
                answer.composed.sentences.push(AnswerSentence {
                    text: ask.to_string(),
                    citations: Vec::new(),
                });
            }
            None => {}
        }
        Ok(ChatReply {
            answer,
            resolved,
            decision,
            customer: facts,
            no_decision,
        })
    }

    /// Puts the decision first in the answer, citing the clauses it applied (those a customer
    /// may read, when the caller is a customer's bot), then — for a repair under or outside the
    /// warranty — the policy's claim steps, each cited.
    fn lead_with_decision(
        &self,
        answer: &mut Answer,
        d: &TurnDecision,
        asked: Option<&Ask>,
        lang: Lang,
        scope: Scope,
    ) {
        let composed = &mut answer.composed;
        let mut citations = Vec::new();
        for clause in d
            .decision
            .clauses
            .iter()
            .filter(|c| scope == Scope::All || !c.internal)
        {
            if let Some(c) = self.cite_clause(composed, clause, lang) {
                citations.push(c);
            }
            if citations.len() == 4 {
                break;
            }
        }
        let steps = self.claim_steps(composed, d, asked, lang);
        if composed.abstained {
            // the decision answers what the passages could not
            composed.sentences = Vec::new();
            composed.abstained = false;
            composed.reason = None;
            composed.handoff = None;
        }
        // a decision on a cracked screen is not followed by what the passages say about water
        if let Some(decided) = asked.and_then(|a| a.damage) {
            composed
                .sentences
                .retain(|s| detect_damage(&s.text).is_none_or(|other| other == decided));
        }
        composed.sentences.insert(
            0,
            AnswerSentence {
                text: d.text.clone(),
                citations,
            },
        );
        // the decision is the answer; the steps to take follow it, then what the passages say
        let n_steps = steps.len();
        for (i, step) in steps.into_iter().enumerate() {
            composed.sentences.insert(1 + i, step);
        }
        composed.sentences.truncate(1 + n_steps + AFTER_DECISION);
        let sep = if lang == Lang::Zh { "" } else { " " };
        composed.text = composed
            .sentences
            .iter()
            .map(|s| {
                let markers: String = s.citations.iter().map(|c| format!("[{}]", c.n)).collect();
                format!("{}{markers}", s.text)
            })
            .collect::<Vec<_>>()
            .join(sep);
    }

    /// A citation of `clause`, its text added to the answer's passages when it is not one.
    fn cite_clause(
        &self,
        composed: &mut crate::answer::Composed,
        clause: &ClauseRef,
        lang: Lang,
    ) -> Option<Citation> {
        let span = self.terms.locate(clause, lang)?;
        let n = match composed
            .passages
            .iter()
            .find(|p| p.doc_id == span.doc_id && p.span == (span.start, span.end))
        {
            Some(p) => p.n,
            None => {
                let n = composed.passages.len() + 1;
                composed.passages.push(CitedPassage {
                    n,
                    chunk_id: format!("{}#{}", span.doc_id, clause.clause),
                    doc_id: span.doc_id.clone(),
                    title: span.title.clone(),
                    heading_path: vec![span.title.clone()],
                    doc_type: "policy".into(),
                    language: span.language.clone(),
                    audience: if clause.internal {
                        "internal"
                    } else {
                        "public"
                    }
                    .into(),
                    source: span.source.clone(),
                    span: (span.start, span.end),
                    text: span.text.clone(),
                });
                n
            }
        };
        Some(Citation {
            n,
            chunk_id: format!("{}#{}", span.doc_id, clause.clause),
            doc_id: span.doc_id.clone(),
            title: span.title.clone(),
            heading_path: vec![span.title.clone()],
            source: span.source.clone(),
            span: (span.start, span.end),
            quote: span.text,
        })
    }

    /// The warranty policy's claim steps a repair decision calls for, each its own cited
    /// sentence: how to reach support and what to give for a covered repair; how to reach
    /// support and the free diagnosis and quote for a paid one. None for returns, exchanges
    /// or TianCare+ purchases (their decisions say what to do).
    fn claim_steps(
        &self,
        composed: &mut crate::answer::Composed,
        d: &TurnDecision,
        asked: Option<&Ask>,
        lang: Lang,
    ) -> Vec<AnswerSentence> {
        if asked.is_none_or(|a| a.intent != Intent::Repair) {
            return Vec::new();
        }
        let Some(claim) = self.terms.warranty.as_ref().map(|w| w.claim.clone()) else {
            return Vec::new();
        };
        let items: &[u32] = match d.decision.decision {
            Verdict::Covered => &[1, 2],
            Verdict::NotCovered | Verdict::Expired => &[1, 5],
            _ => &[],
        };
        let mut out = Vec::new();
        for k in items {
            let step = ClauseRef {
                clause: format!("{}.{k}", claim.clause),
                ..claim.clone()
            };
            let Some(c) = self.cite_clause(composed, &step, lang) else {
                continue;
            };
            let text = c.quote.trim();
            let text = text
                .split_once(". ")
                .filter(|(n, _)| n.chars().all(|ch| ch.is_ascii_digit()))
                .map_or(text, |(_, rest)| rest)
                .trim()
                .to_string();
            out.push(AnswerSentence {
                text,
                citations: vec![c],
            });
        }
        out
    }
}
