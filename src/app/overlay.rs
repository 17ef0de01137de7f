//! Overlays on top of the panes: help, the command palette, and the item, comment and label forms.

use crate::domain::{ItemKind, NewItem, Severity, WorkItem, backlog::parse_labels};

use super::action::{ACTIONS, Action};
use super::input::TextBox;
use super::palette::fuzzy_score;

/// A field of the item form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// One-line title.
    Title,
    /// Issue or incident.
    Kind,
    /// Incident severity.
    Severity,
    /// Comma-separated labels.
    Labels,
    /// Markdown body.
    Body,
}

/// The create / edit form.
#[derive(Clone, Debug, PartialEq)]
pub struct ItemForm {
    /// The item being edited; `None` creates a new one.
    pub editing: Option<String>,
    /// Title.
    pub title: TextBox,
    /// Kind.
    pub kind: ItemKind,
    /// Severity (used when the kind is incident).
    pub severity: Severity,
    /// Labels.
    pub labels: TextBox,
    /// Body.
    pub body: TextBox,
    /// The focused field.
    pub focus: Field,
    /// Why the last submit failed.
    pub error: Option<String>,
    /// The edited item's `updated` time when the form opened (edits of a newer item are refused).
    pub base: Option<crate::domain::Timestamp>,
    /// Idempotency key of the item this form creates, fixed when the form opens, so a retry
    /// after a timeout never files the item twice.
    pub key: Option<String>,
}

impl ItemForm {
    /// An empty form for a new item.
    pub fn new() -> ItemForm {
        ItemForm {
            editing: None,
            title: TextBox::line(""),
            kind: ItemKind::Issue,
            severity: Severity::Medium,
            labels: TextBox::line(""),
            body: TextBox::area(""),
            focus: Field::Title,
            error: None,
            base: None,
            key: None,
        }
    }

    /// A form holding an existing item.
    pub fn edit(item: &WorkItem) -> ItemForm {
        ItemForm {
            editing: Some(item.id.clone()),
            title: TextBox::line(&item.title),
            kind: item.kind,
            severity: item.severity.unwrap_or(Severity::Medium),
            labels: TextBox::line(&item.labels.join(", ")),
            body: TextBox::area(&item.body),
            base: Some(item.updated),
            ..ItemForm::new()
        }
    }

    /// The fields in tab order (severity only for incidents).
    pub fn fields(&self) -> Vec<Field> {
        let mut f = vec![Field::Title, Field::Kind];
        if self.kind == ItemKind::Incident {
            f.push(Field::Severity);
        }
        f.extend([Field::Labels, Field::Body]);
        f
    }

    /// Moves focus forward or back, wrapping.
    pub fn cycle_focus(&mut self, forward: bool) {
        let fields = self.fields();
        let pos = fields.iter().position(|f| *f == self.focus).unwrap_or(0);
        let n = fields.len();
        self.focus = fields[if forward {
            (pos + 1) % n
        } else {
            (pos + n - 1) % n
        }];
    }

    /// Changes the kind, or the severity: forward (→) raises it toward critical, back (←)
    /// lowers it toward low, stopping at either end.
    pub fn cycle_choice(&mut self, forward: bool) {
        match self.focus {
            Field::Kind => {
                self.kind = match self.kind {
                    ItemKind::Issue => ItemKind::Incident,
                    ItemKind::Incident => ItemKind::Issue,
                }
            }
            Field::Severity => {
                let all = Severity::ALL;
                let pos = all.iter().position(|s| *s == self.severity).unwrap_or(0);
                // `ALL` runs from critical down to low.
                self.severity = all[if forward {
                    pos.saturating_sub(1)
                } else {
                    (pos + 1).min(all.len() - 1)
                }];
            }
            _ => {}
        }
    }

    /// The text box of the focused field, if it is a text field.
    pub fn focused_text(&mut self) -> Option<&mut TextBox> {
        match self.focus {
            Field::Title => Some(&mut self.title),
            Field::Labels => Some(&mut self.labels),
            Field::Body => Some(&mut self.body),
            Field::Kind | Field::Severity => None,
        }
    }

    /// The item the form describes.
    pub fn to_item(&self) -> NewItem {
        NewItem {
            title: self.title.text.trim().to_string(),
            body: self.body.text.clone(),
            kind: Some(self.kind),
            severity: (self.kind == ItemKind::Incident).then_some(self.severity),
            labels: parse_labels(&self.labels.text),
            key: self.key.clone(),
        }
    }
}

impl Default for ItemForm {
    fn default() -> Self {
        ItemForm::new()
    }
}

/// The command palette: a query and the actions that match it.
#[derive(Clone, Debug, PartialEq)]
pub struct PaletteState {
    /// What was typed.
    pub input: TextBox,
    /// Selected row in `matches()`.
    pub selected: usize,
}

impl PaletteState {
    /// Actions matching the query, best first.
    pub fn matches(&self) -> Vec<Action> {
        let mut scored: Vec<(i32, usize, Action)> = ACTIONS
            .iter()
            .enumerate()
            .filter(|(_, i)| i.action != Action::Palette)
            .filter_map(|(n, i)| {
                let by_name = fuzzy_score(&self.input.text, i.name);
                let by_desc = fuzzy_score(&self.input.text, i.description).map(|s| s - 2);
                by_name.max(by_desc).map(|s| (s, n, i.action))
            })
            .collect();
        scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        scored.into_iter().map(|(_, _, a)| a).collect()
    }
}

/// What a draft is a draft of: the editor kind and the item (`None` for a new item).
pub type DraftKey = (&'static str, Option<String>);

impl Overlay {
    /// The key a closed editor is kept under, for the editors that keep drafts.
    pub fn draft_key(&self) -> Option<DraftKey> {
        match self {
            Overlay::Form(f) => Some(("form", f.editing.clone())),
            Overlay::Comment { item, .. } => Some(("comment", Some(item.clone()))),
            Overlay::Labels { item, .. } => Some(("labels", Some(item.clone()))),
            _ => None,
        }
    }
}

/// An action waiting for its confirmation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Confirmed {
    /// Throw away the draft kept under this key.
    DiscardDraft(DraftKey),
    /// Cancel this run.
    CancelRun(String),
    /// Abort (true) or resume (false) deploy `1` of target `0`.
    SteerDeploy(String, i64, bool),
    /// Run the remediation of this check.
    Remediate(String),
    /// Dispatch this workflow on this ref with these inputs.
    Dispatch(
        crate::domain::Workflow,
        String,
        std::collections::BTreeMap<String, String>,
    ),
}

/// What a choice is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Choice {
    /// Which pipeline to run.
    Pipeline,
    /// Which version to deploy to this target.
    Version(String),
    /// Which workflow to dispatch.
    Workflow(Vec<crate::domain::Workflow>),
}

/// What a one-line triage prompt asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Triage {
    /// Who to assign to (empty unassigns).
    Assign,
    /// Which item to merge into.
    Merge,
    /// How many hours to mute.
    Dismiss,
    /// How many hours to silence an alert (the item is the check's name).
    Silence,
}

impl Triage {
    /// The prompt's title and hint.
    pub fn text(self, item: &str) -> (String, &'static str) {
        match self {
            Triage::Assign => (
                format!(" Assign #{item} to "),
                "a name (empty unassigns) · enter save · esc cancel",
            ),
            Triage::Merge => (
                format!(" Merge #{item} into "),
                "the item's number · enter merge · esc cancel",
            ),
            Triage::Dismiss => (
                format!(" Dismiss #{item}: mute its alert for how many hours "),
                "hours (1–720) · enter dismiss · esc cancel",
            ),
            Triage::Silence => (
                format!(" Silence {item} for how many hours "),
                "hours (1–720) · enter silences it in Alertmanager · esc cancel",
            ),
        }
    }
}

/// Something drawn over the panes that takes the keyboard.
#[derive(Clone, Debug, PartialEq)]
pub enum Overlay {
    /// The key reference.
    Help {
        /// Lines scrolled.
        scroll: u16,
    },
    /// The command palette.
    Palette(PaletteState),
    /// Create or edit an item.
    Form(ItemForm),
    /// Dispatch a workflow with its inputs.
    Dispatch(super::dispatch::DispatchForm),
    /// A web page's address, shown until dismissed (over SSH, for copying).
    Url(String),
    /// The last status-bar message, whole, until dismissed.
    Message(String),
    /// Write a comment.
    Comment {
        /// Item id.
        item: String,
        /// The text.
        text: TextBox,
        /// Why the last submit failed.
        error: Option<String>,
    },
    /// Pick one of several options (which pipeline to run, which version to deploy).
    Choose(super::picker::Picker),
    /// A deploy plan waiting for its confirmation.
    DeployPlan(super::deploys::DeployConfirm),
    /// A yes/no question before something that cannot be undone; only a plain `y` says yes.
    Confirm {
        /// The question.
        prompt: String,
        /// What `y` does.
        then: Confirmed,
    },
    /// Edit labels.
    Labels {
        /// Item id.
        item: String,
        /// The labels, comma-separated.
        text: TextBox,
        /// Why the last submit failed.
        error: Option<String>,
    },
    /// A one-line triage question: who, into which item, how long.
    Triage {
        /// Item id.
        item: String,
        /// What is asked.
        what: Triage,
        /// The answer.
        text: TextBox,
        /// Why the last submit failed.
        error: Option<String>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_field_only_for_incidents() {
        let mut f = ItemForm::new();
        assert!(!f.fields().contains(&Field::Severity));
        f.focus = Field::Kind;
        f.cycle_choice(true);
        assert_eq!(f.kind, ItemKind::Incident);
        f.cycle_focus(true);
        assert_eq!(f.focus, Field::Severity);
        // → raises, ← lowers, and both stop at the ends.
        f.cycle_choice(true);
        assert_eq!(f.severity, Severity::High);
        f.cycle_choice(true);
        f.cycle_choice(true);
        assert_eq!(f.severity, Severity::Critical);
        for _ in 0..5 {
            f.cycle_choice(false);
        }
        assert_eq!(f.severity, Severity::Low);
        f.cycle_choice(true);
        f.cycle_choice(true);
        assert_eq!(f.severity, Severity::High);
        f.title = TextBox::line("  x ");
        f.labels = TextBox::line("b, a");
        let item = f.to_item();
        assert_eq!(
            (item.title.as_str(), item.severity),
            ("x", Some(Severity::High))
        );
        assert_eq!(item.labels, ["a", "b"]);
    }

    #[test]
    fn palette_matches_every_action_when_empty_and_filters() {
        let mut p = PaletteState {
            input: TextBox::line(""),
            selected: 0,
        };
        assert_eq!(p.matches().len(), ACTIONS.len() - 1);
        p.input = TextBox::line("newit");
        assert_eq!(p.matches()[0], Action::NewItem);
        p.input = TextBox::line("quit");
        assert_eq!(p.matches()[0], Action::Quit);
    }
}
