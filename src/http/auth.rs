//! API keys: kept as sha256 digests, compared in constant time, each with a role.

use sha2::{Digest, Sha256};

use crate::config::HttpConfig;
use crate::domain::Role;
use crate::error::{Error, Result};

/// The environment variable with extra keys: `role:key,role:key`.
pub const KEYS_ENV: &str = "KEFU_API_KEYS";

struct Key {
    digest: [u8; 32],
    role: Role,
    name: String,
}

/// The known keys.
pub struct Keys {
    keys: Vec<Key>,
}

fn parse_hex32(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// Equal in time that does not depend on where the inputs differ.
fn same(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b) {
        diff |= x ^ y;
    }
    std::hint::black_box(diff) == 0
}

impl Keys {
    /// The keys of the configuration plus those of `env_value` (the value of [`KEYS_ENV`]).
    pub fn load(config: &HttpConfig, env_value: Option<&str>) -> Result<Keys> {
        let mut keys = Vec::new();
        for (i, k) in config.keys.iter().enumerate() {
            let digest = parse_hex32(&k.sha256).ok_or_else(|| {
                Error::config(format!("http.keys[{i}].sha256"), "must be 64 hex digits")
            })?;
            keys.push(Key {
                digest,
                role: k.role,
                name: k.name.clone(),
            });
        }
        for (i, item) in env_value
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .enumerate()
        {
            let (role, key) = item.split_once(':').ok_or_else(|| {
                Error::config(KEYS_ENV, format!("entry {} is not role:key", i + 1))
            })?;
            let role = Role::parse(role).ok_or_else(|| {
                Error::config(
                    KEYS_ENV,
                    format!(
                        "entry {}: role `{role}` is not bot, agent, writer or admin",
                        i + 1
                    ),
                )
            })?;
            if key.len() < 8 {
                return Err(Error::config(
                    KEYS_ENV,
                    format!("entry {}: keys must be at least 8 characters", i + 1),
                ));
            }
            keys.push(Key {
                digest: digest(key),
                role,
                name: format!("{KEYS_ENV} entry {}", i + 1),
            });
        }
        Ok(Keys { keys })
    }

    /// How many keys there are.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The role and holder of `presented`, comparing against every key (no early exit).
    pub fn check(&self, presented: &str) -> Option<(Role, &str)> {
        let d = digest(presented);
        let mut found = None;
        for k in &self.keys {
            if same(&k.digest, &d) && found.is_none() {
                found = Some((k.role, k.name.as_str()));
            }
        }
        found
    }
}

/// The key a request presents. One rule: an `Authorization` header, when there is one, is the
/// credential — `Bearer <key>`, the scheme in any letter case (RFC 7235), spaces or tabs
/// between; otherwise the `X-Api-Key` header. A header that is there but malformed is refused
/// as such (it never falls back to the other header).
pub fn presented_key(
    headers: &actix_web::http::header::HeaderMap,
) -> std::result::Result<&str, super::ApiError> {
    use actix_web::http::StatusCode;
    let unauthorized =
        |m: &str| super::ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", m.to_string());
    let key = if let Some(v) = headers.get(actix_web::http::header::AUTHORIZATION) {
        let malformed = || {
            unauthorized(
                "malformed Authorization header: expected `Bearer <key>` (a key of visible ASCII characters)",
            )
        };
        let v = v.to_str().map_err(|_| malformed())?.trim();
        let (scheme, rest) = v.split_once([' ', '\t']).ok_or_else(malformed)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(unauthorized(
                "unsupported Authorization scheme: send `Authorization: Bearer <key>`",
            ));
        }
        rest.trim_matches([' ', '\t'])
    } else if let Some(v) = headers.get("x-api-key") {
        v.to_str()
            .map_err(|_| {
                unauthorized("malformed X-Api-Key header: a key is visible ASCII characters")
            })?
            .trim()
    } else {
        return Err(unauthorized(
            "missing API key: send `Authorization: Bearer <key>` (or `X-Api-Key: <key>`)",
        ));
    };
    if key.is_empty() || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(unauthorized(
            "malformed API key: a key is one word of visible ASCII characters",
        ));
    }
    Ok(key)
}

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Any valid key (bots see public passages only).
    Reader,
    /// A writer or admin key.
    Writer,
}

impl Need {
    pub fn allows(self, role: Role) -> bool {
        match self {
            Need::Reader => true,
            Need::Writer => matches!(role, Role::Writer | Role::Admin),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ApiKeyConfig;

    #[test]
    fn keys_from_config_and_environment_map_to_roles() {
        let config = HttpConfig {
            keys: vec![ApiKeyConfig {
                name: "bot".into(),
                role: Role::Bot,
                sha256: "5d22be1c58d19827a2c4dd5c3391dfffec816a139c663397a4ab8deadc5c3fc8".into(),
            }],
            ..HttpConfig::default()
        };
        let keys =
            Keys::load(&config, Some("writer:s3cret-writer, agent:s3cret-agent")).expect("load");
        assert_eq!(keys.len(), 3);
        assert_eq!(keys.check("demo-bot-key").map(|k| k.0), Some(Role::Bot));
        assert_eq!(keys.check("s3cret-writer").map(|k| k.0), Some(Role::Writer));
        assert_eq!(keys.check("s3cret-agent").map(|k| k.0), Some(Role::Agent));
        assert!(keys.check("demo-bot-kez").is_none());
        assert!(keys.check("").is_none());
        assert!(Keys::load(&config, Some("root:whatever-key")).is_err());
        assert!(Keys::load(&config, Some("writer-without-colon")).is_err());
        assert!(Keys::load(&config, Some("bot:short")).is_err());
    }

    fn headers(pairs: &[(&str, &[u8])]) -> actix_web::http::header::HeaderMap {
        let mut h = actix_web::http::header::HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                actix_web::http::header::HeaderName::from_bytes(k.as_bytes()).expect("name"),
                actix_web::http::header::HeaderValue::from_bytes(v).expect("value"),
            );
        }
        h
    }

    #[test]
    fn bearer_scheme_is_case_insensitive_and_one_header_decides() {
        for v in [
            "Bearer demo-bot-key",
            "bearer demo-bot-key",
            "BEARER demo-bot-key",
            "Bearer\tdemo-bot-key",
            "  Bearer   demo-bot-key  ",
        ] {
            let h = headers(&[("authorization", v.as_bytes())]);
            assert_eq!(presented_key(&h).ok(), Some("demo-bot-key"), "{v:?}");
        }
        let h = headers(&[("x-api-key", b" demo-agent-key ")]);
        assert_eq!(presented_key(&h).ok(), Some("demo-agent-key"));
        // a malformed Authorization header never falls back to X-Api-Key
        let h = headers(&[
            ("authorization", b"bearer"),
            ("x-api-key", b"demo-agent-key"),
        ]);
        let e = presented_key(&h).expect_err("malformed");
        assert!(
            e.message().contains("malformed Authorization"),
            "{}",
            e.message()
        );
        let h = headers(&[("authorization", b"Basic abc")]);
        assert!(presented_key(&h)
            .expect_err("basic")
            .message()
            .contains("scheme"));
        let h = headers(&[("authorization", "Bearer ключ".as_bytes())]);
        assert!(presented_key(&h)
            .expect_err("non-ascii")
            .message()
            .contains("malformed"));
        let e = presented_key(&headers(&[])).expect_err("missing");
        assert!(e.message().contains("missing API key"));
    }

    #[test]
    fn roles_and_needs() {
        assert!(Need::Reader.allows(Role::Bot));
        assert!(!Need::Writer.allows(Role::Bot));
        assert!(!Need::Writer.allows(Role::Agent));
        assert!(Need::Writer.allows(Role::Writer));
        assert!(Need::Writer.allows(Role::Admin));
    }
}
