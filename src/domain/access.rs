//! Who is asking, and what they may read: roles, scopes, channels and the caller.

use serde::{Deserialize, Serialize};

use super::Audience;

/// A caller's role over HTTP.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Support bots: search and answers over public passages only.
    Bot,
    /// Human agents: also internal passages.
    Agent,
    /// Content writers: document management and reindexing (and what agents may do).
    Writer,
    /// Everything.
    Admin,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Bot => "bot",
            Role::Agent => "agent",
            Role::Writer => "writer",
            Role::Admin => "admin",
        }
    }

    /// The role's name with its article ("a bot", "an agent"), for messages.
    pub fn with_article(self) -> &'static str {
        match self {
            Role::Bot => "a bot",
            Role::Agent => "an agent",
            Role::Writer => "a writer",
            Role::Admin => "an admin",
        }
    }

    /// Parses `bot`, `agent`, `writer` or `admin`.
    pub fn parse(s: &str) -> Option<Role> {
        match s.trim().to_ascii_lowercase().as_str() {
            "bot" => Some(Role::Bot),
            "agent" => Some(Role::Agent),
            "writer" => Some(Role::Writer),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// Which passages a caller may read. Enforced in retrieval, so that no route or command can
/// hand an `internal` passage to a caller limited to `public` ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Only passages whose audience is `public` (support bots).
    Public,
    /// Public and internal passages (agents, writers, the command line).
    #[default]
    All,
}

impl Scope {
    /// What a role may read: bots public passages only, everyone else all of them.
    pub fn of_role(role: Role) -> Scope {
        if role == Role::Bot {
            Scope::Public
        } else {
            Scope::All
        }
    }

    /// Whether a passage of this audience may be shown.
    pub fn allows(self, audience: Audience) -> bool {
        self == Scope::All || audience == Audience::Public
    }
}

/// Where a customer writes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    #[default]
    Web,
    Sms,
    Voice,
    App,
    Wechat,
}

impl Channel {
    /// Parses `web`, `sms`, `voice`, `app` or `wechat`.
    pub fn parse(s: &str) -> Option<Channel> {
        match s.trim().to_ascii_lowercase().as_str() {
            "web" => Some(Channel::Web),
            "sms" => Some(Channel::Sms),
            "voice" => Some(Channel::Voice),
            "app" => Some(Channel::App),
            "wechat" => Some(Channel::Wechat),
            _ => None,
        }
    }

    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Web => "web",
            Channel::Sms => "sms",
            Channel::Voice => "voice",
            Channel::App => "app",
            Channel::Wechat => "wechat",
        }
    }
}

/// The caller of a request once authorised: the key's name and role, and the scope that
/// follows from the role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The name of the API key (`None` when authentication is off, or on the command line).
    pub key: Option<String>,
    pub role: Role,
    pub scope: Scope,
}

impl Caller {
    /// A caller with `role`, reading what the role may read.
    pub fn new(key: Option<String>, role: Role) -> Caller {
        Caller {
            key,
            role,
            scope: Scope::of_role(role),
        }
    }

    /// The command line: an admin reading everything, or only public passages (`--public`).
    pub fn local(public: bool) -> Caller {
        Caller {
            key: None,
            role: Role::Admin,
            scope: if public { Scope::Public } else { Scope::All },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_scope_allows_public_passages_only() {
        assert!(Scope::Public.allows(Audience::Public));
        assert!(!Scope::Public.allows(Audience::Internal));
        assert!(Scope::All.allows(Audience::Internal));
    }

    #[test]
    fn only_bots_are_limited_to_public_passages() {
        assert_eq!(Scope::of_role(Role::Bot), Scope::Public);
        for r in [Role::Agent, Role::Writer, Role::Admin] {
            assert_eq!(Scope::of_role(r), Scope::All);
        }
    }
}
