//! Offline learning (L5): what kefu learns from judged data, always through the product's own
//! [`Engine`](crate::Engine) over the data indexed in memory — the reranker's training data and
//! its models ([`rerank`]), and the answer calibration ([`calibrate`]). Nothing below the observers depends on this module.

pub mod calibrate;
pub mod rerank;
pub mod sentences;
