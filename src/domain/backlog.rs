//! Backlog items: issues and incidents, whatever provider holds them.

use serde::{Deserialize, Serialize};

use super::Timestamp;

/// Open or closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum ItemState {
    /// Still to do.
    Open,
    /// Done or dismissed.
    Closed,
}

impl ItemState {
    /// The stable lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            ItemState::Open => "open",
            ItemState::Closed => "closed",
        }
    }

    /// Parses the stable lowercase name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "open" => Some(ItemState::Open),
            "closed" => Some(ItemState::Closed),
            _ => None,
        }
    }
}

/// A planned piece of work or something that broke.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    /// Planned work.
    Issue,
    /// Something broken in production.
    Incident,
}

impl ItemKind {
    /// The stable lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::Issue => "issue",
            ItemKind::Incident => "incident",
        }
    }

    /// Parses the stable lowercase name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "issue" => Some(ItemKind::Issue),
            "incident" => Some(ItemKind::Incident),
            _ => None,
        }
    }
}

/// How bad an incident is; `Critical` is the worst.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Customers are down.
    Critical,
    /// Degraded for many.
    High,
    /// Degraded for some.
    Medium,
    /// Cosmetic or contained.
    Low,
}

impl Severity {
    /// Every severity, worst first.
    pub const ALL: [Severity; 4] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
    ];

    /// The stable lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
        }
    }

    /// Parses the stable lowercase name.
    pub fn parse(s: &str) -> Option<Self> {
        Severity::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// One backlog item as a provider returns it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WorkItem {
    /// Provider-local id (`"12"` for the local store, `"acme/api#12"` for GitHub).
    pub id: String,
    /// The provider that holds it.
    pub provider: String,
    /// One-line summary.
    pub title: String,
    /// Markdown body.
    pub body: String,
    /// Open or closed.
    pub state: ItemState,
    /// Issue or incident.
    pub kind: ItemKind,
    /// Only incidents carry one.
    pub severity: Option<Severity>,
    /// Labels, sorted and unique.
    pub labels: Vec<String>,
    /// Who filed it.
    pub author: String,
    /// When it was filed.
    pub created: Timestamp,
    /// When it last changed.
    pub updated: Timestamp,
    /// How many comments it has.
    pub comments: u32,
    /// Who it is assigned to.
    pub assignee: Option<String>,
    /// Filed by the incident loop (it carries a dedup key).
    pub auto: bool,
    /// The provider's saved searches this item matches (GitHub `sections`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sections: Vec<String>,
}

impl WorkItem {
    /// An open issue in the local store with just an id, a title and a time.
    pub fn new(id: &str, title: &str, at: Timestamp) -> WorkItem {
        WorkItem {
            id: id.to_string(),
            provider: "local".into(),
            title: title.to_string(),
            body: String::new(),
            state: ItemState::Open,
            kind: ItemKind::Issue,
            severity: None,
            labels: Vec::new(),
            author: String::new(),
            created: at,
            updated: at,
            comments: 0,
            assignee: None,
            auto: false,
            sections: Vec::new(),
        }
    }
}

/// A comment on an item.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Comment {
    /// Who wrote it.
    pub author: String,
    /// Markdown text.
    pub body: String,
    /// When it was written.
    pub created: Timestamp,
}

/// The fields a user fills in to create or edit an item.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NewItem {
    /// One-line summary; must not be blank.
    pub title: String,
    /// Markdown body.
    pub body: String,
    /// Issue or incident (`None` means issue).
    pub kind: Option<ItemKind>,
    /// Severity, for incidents.
    pub severity: Option<Severity>,
    /// Labels.
    pub labels: Vec<String>,
    /// Makes a create idempotent: a second create with the same key returns the first item
    /// (a retry after a lost answer never files a duplicate).
    pub key: Option<String>,
}

/// How an item is named in messages: `#12` in the local store, `acme/api#12` on GitHub.
pub fn item_ref(id: &str) -> String {
    if id.contains('#') {
        id.to_string()
    } else {
        format!("#{id}")
    }
}

/// An item's id as lists show it: `#12` locally, `api#12` for GitHub's `acme/api#12`.
pub fn short_id(id: &str) -> String {
    match id.split_once('#') {
        Some((repo, n)) => format!("{}#{n}", repo.rsplit('/').next().unwrap_or(repo)),
        None => format!("#{id}"),
    }
}

/// Splits a comma- or space-separated label list into sorted unique labels.
pub fn parse_labels(text: &str) -> Vec<String> {
    let mut labels: Vec<String> = text
        .split([',', ' '])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    labels.sort();
    labels.dedup();
    labels
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_split_sorted_and_unique() {
        assert_eq!(parse_labels(" b, a ,, b c"), vec!["a", "b", "c"]);
        assert!(parse_labels("  ").is_empty());
    }

    #[test]
    fn names_round_trip() {
        for s in Severity::ALL {
            assert_eq!(Severity::parse(s.as_str()), Some(s));
        }
        assert_eq!(ItemKind::parse("incident"), Some(ItemKind::Incident));
        assert_eq!(ItemState::parse("closed"), Some(ItemState::Closed));
        assert_eq!(ItemState::parse("nope"), None);
    }
}
