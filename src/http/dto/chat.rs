//! `POST /v1/chat` and `GET /v1/sessions/{id}`.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::answer::AnswerResponse;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatBody {
    /// The session to continue; absent: a new one is created and returned.
    #[serde(default)]
    pub session_id: Option<String>,
    /// The customer writing (decisions use their purchases); kept with the session.
    #[serde(default)]
    pub customer_id: Option<String>,
    /// `web` (default), `sms`, `voice`, `app` or `wechat`.
    #[serde(default)]
    pub channel: Option<String>,
    pub message: String,
    /// Decide as of this day (`YYYY-MM-DD`; default today in the customer's time zone).
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Date)]
    pub as_of: Option<String>,
    /// As in AnswerBody.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 50)]
    pub passages: Option<usize>,
    /// Server-sent events: `resolved` (the question searched), `sentence` (each sentence with
    /// its citations), then `chat` (the whole ChatResponse) or `error`.
    #[serde(default)]
    pub stream: bool,
    /// `llm` or `extractive`, as in AnswerBody.
    #[serde(default)]
    pub composer: Option<String>,
}

/// The customer facts a turn used (no name, phone or address).
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerFacts {
    pub customer_id: String,
    /// `silver`, `gold` or `platinum`.
    pub tier: String,
    pub region: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purchase: Option<PurchaseFacts>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PurchaseFacts {
    pub order: String,
    pub model: String,
    pub category: String,
    /// `online` or `store`.
    pub channel: String,
    #[schema(value_type = Option<String>, format = Date)]
    pub delivered: Option<NaiveDate>,
    #[schema(value_type = Option<String>, format = Date)]
    pub invoiced: Option<NaiveDate>,
    pub tiancare: bool,
    pub repairs: usize,
}

/// A clause a decision applied.
#[derive(Debug, Serialize, ToSchema)]
pub struct AppliedClause {
    /// The policy (without its language): `policy-warranty`.
    pub policy: String,
    pub clause: String,
}

/// What it costs the customer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Cost {
    pub amount: f64,
    pub currency: String,
    pub what: String,
}

/// A decision computed from the customer's purchase and the policies' terms.
#[derive(Debug, Serialize, ToSchema)]
pub struct Decision {
    /// `covered`, `not_covered`, `return_eligible`, `exchange_eligible`, `expired` or
    /// `needs_info`.
    pub decision: String,
    /// A reason code (`defect_in_warranty`, `accidental_damage`, …).
    pub reason: String,
    #[schema(value_type = Option<String>, format = Date)]
    pub starts: Option<NaiveDate>,
    #[schema(value_type = Option<String>, format = Date)]
    pub expires: Option<NaiveDate>,
    pub days_left: Option<i64>,
    pub cost: Option<Cost>,
    pub part: Option<String>,
    pub order: String,
    pub model: String,
    /// The decision as said to the customer (the answer's first sentence).
    pub text: String,
    pub clauses: Vec<AppliedClause>,
}

/// A turn: everything `/v1/answer` returns, and the conversation's part.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChatResponse {
    pub session_id: String,
    /// The turn's number in the session (1 for the first).
    pub turn: u32,
    /// The question actually searched (the message with its follow-up resolved).
    pub resolved_question: String,
    /// How it was resolved: `unchanged`, `ellipsis`, `pronoun`, `customer_product`,
    /// `carry_product` or `open_domain`.
    pub resolved_how: String,
    /// The day decisions were taken on.
    #[schema(value_type = String, format = Date)]
    pub as_of: NaiveDate,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer: Option<CustomerFacts>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
    /// Why no decision was taken although the message asked for one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_decision: Option<String>,
    #[serde(flatten)]
    pub answer: AnswerResponse,
}

/// One recorded turn.
#[derive(Debug, Serialize, ToSchema)]
pub struct TurnView {
    pub n: u32,
    #[schema(value_type = String, format = DateTime)]
    pub at: chrono::DateTime<chrono::Utc>,
    pub message: String,
    pub resolved_question: String,
    pub resolved_how: String,
    pub answer: String,
    pub abstained: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub confidence: f32,
    pub cited: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub decision: Option<serde_json::Value>,
    #[schema(value_type = String, format = Date)]
    pub as_of: NaiveDate,
}

/// A session's transcript.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    pub session_id: String,
    pub created_by: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    pub channel: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: chrono::DateTime<chrono::Utc>,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: chrono::DateTime<chrono::Utc>,
    pub turns: Vec<TurnView>,
}

impl From<crate::converse::TurnRecord> for TurnView {
    fn from(t: crate::converse::TurnRecord) -> TurnView {
        TurnView {
            n: t.n,
            at: t.at,
            message: t.message,
            resolved_question: t.resolved,
            resolved_how: t.how,
            answer: t.answer,
            abstained: t.abstained,
            reason: t.reason,
            confidence: t.confidence,
            cited: t.cited,
            decision: t.decision,
            as_of: t.as_of,
        }
    }
}

impl From<&crate::engine::chat::TurnDecision> for Decision {
    fn from(d: &crate::engine::chat::TurnDecision) -> Decision {
        Decision {
            decision: d.decision.decision.as_str().to_string(),
            reason: d.decision.reason.to_string(),
            starts: d.decision.starts,
            expires: d.decision.expires,
            days_left: d.decision.days_left,
            cost: d.decision.cost.as_ref().map(|c| Cost {
                amount: c.amount,
                currency: c.currency.to_string(),
                what: c.what.clone(),
            }),
            part: d.decision.part.clone(),
            order: d.order.clone(),
            model: d.model.clone(),
            text: d.text.clone(),
            clauses: d
                .decision
                .clauses
                .iter()
                .map(|c| AppliedClause {
                    policy: c.policy.clone(),
                    clause: c.clause.clone(),
                })
                .collect(),
        }
    }
}

impl From<&crate::engine::chat::CustomerFacts> for CustomerFacts {
    fn from(c: &crate::engine::chat::CustomerFacts) -> CustomerFacts {
        let name = |v: serde_json::Value| v.as_str().unwrap_or_default().to_string();
        CustomerFacts {
            customer_id: c.customer_id.clone(),
            tier: name(serde_json::to_value(c.tier).unwrap_or_default()),
            region: c.region.clone(),
            purchase: c.purchase.as_ref().map(|p| PurchaseFacts {
                order: p.order.clone(),
                model: p.model.clone(),
                category: p.category.clone(),
                channel: name(serde_json::to_value(p.channel).unwrap_or_default()),
                delivered: p.delivered,
                invoiced: p.invoiced,
                tiancare: p.tiancare,
                repairs: p.repairs,
            }),
        }
    }
}
