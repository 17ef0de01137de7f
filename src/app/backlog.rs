//! The backlog pane's state: items, the filtered and sorted view, selection and detail.

use crate::domain::{Comment, ItemKind, ItemState, Severity, Timestamp, WorkItem};

use super::feed::Feed;
use super::input::TextBox;

/// How the list is ordered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SortKey {
    /// Most recently changed first.
    #[default]
    Updated,
    /// Newest first.
    Newest,
    /// Oldest first (by age).
    Oldest,
    /// Open first, then newest.
    State,
    /// Incidents first (worst severity first), then newest.
    Kind,
    /// By first label, unlabelled last.
    Label,
}

impl SortKey {
    /// The next key in the cycle.
    pub fn next(self) -> SortKey {
        match self {
            SortKey::Updated => SortKey::Newest,
            SortKey::Newest => SortKey::Oldest,
            SortKey::Oldest => SortKey::State,
            SortKey::State => SortKey::Kind,
            SortKey::Kind => SortKey::Label,
            SortKey::Label => SortKey::Updated,
        }
    }

    /// Shown in the pane title.
    pub fn label(self) -> &'static str {
        match self {
            SortKey::Updated => "updated",
            SortKey::Newest => "newest",
            SortKey::Oldest => "oldest",
            SortKey::State => "state",
            SortKey::Kind => "kind",
            SortKey::Label => "label",
        }
    }
}

/// Which states the list shows when the filter does not say.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StateFilter {
    /// Open items only.
    #[default]
    Open,
    /// Closed items only.
    Closed,
    /// Everything.
    All,
}

impl StateFilter {
    /// The next filter in the cycle.
    pub fn next(self) -> StateFilter {
        match self {
            StateFilter::Open => StateFilter::Closed,
            StateFilter::Closed => StateFilter::All,
            StateFilter::All => StateFilter::Open,
        }
    }

    /// Shown in the pane title.
    pub fn label(self) -> &'static str {
        match self {
            StateFilter::Open => "open",
            StateFilter::Closed => "closed",
            StateFilter::All => "all",
        }
    }
}

/// The parsed filter: `is:open|closed|incident|issue`, `kind:`, `label:`, `sev:`, free words.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query {
    state: Option<ItemState>,
    kind: Option<ItemKind>,
    labels: Vec<String>,
    severity: Option<Severity>,
    words: Vec<String>,
}

impl Query {
    /// Parses filter text; unknown `key:value` tokens are matched as words.
    pub fn parse(text: &str) -> Query {
        let mut q = Query::default();
        for token in text.split_whitespace() {
            let lower = token.to_lowercase();
            let (key, value) = lower.split_once(':').unwrap_or(("", &lower));
            match key {
                "is" | "state" if ItemState::parse(value).is_some() => {
                    q.state = ItemState::parse(value)
                }
                "is" | "kind" if ItemKind::parse(value).is_some() => {
                    q.kind = ItemKind::parse(value)
                }
                "label" if !value.is_empty() => q.labels.push(value.to_string()),
                "sev" | "severity" if Severity::parse(value).is_some() => {
                    q.severity = Severity::parse(value)
                }
                _ => q.words.push(lower.clone()),
            }
        }
        q
    }

    fn matches(&self, item: &WorkItem, haystack: &str, default_state: StateFilter) -> bool {
        let state_ok = match (self.state, default_state) {
            (Some(s), _) => item.state == s,
            (None, StateFilter::Open) => item.state == ItemState::Open,
            (None, StateFilter::Closed) => item.state == ItemState::Closed,
            (None, StateFilter::All) => true,
        };
        state_ok
            && self.kind.is_none_or(|k| item.kind == k)
            && self.severity.is_none_or(|s| item.severity == Some(s))
            && self
                .labels
                .iter()
                .all(|l| item.labels.iter().any(|il| il.to_lowercase() == *l))
            && self.words.iter().all(|w| haystack.contains(w.as_str()))
    }
}

/// The detail view of one item.
#[derive(Clone, Debug, PartialEq)]
pub struct Detail {
    /// The item shown.
    pub item_id: String,
    /// Lines scrolled.
    pub scroll: u16,
    /// Comments once loaded (or why they could not be).
    pub comments: Option<Result<Vec<Comment>, String>>,
    /// The request whose answer is awaited.
    pub request: Option<u64>,
}

/// Everything the backlog pane shows.
#[derive(Clone, Debug, Default)]
pub struct BacklogPane {
    /// Items as the provider returned them.
    pub items: Vec<WorkItem>,
    haystacks: Vec<String>,
    order: Vec<usize>,
    /// Indices into `items` that pass the filter, in sort order.
    pub view: Vec<usize>,
    /// Selected position in `view`.
    pub selected: usize,
    /// First visible position in `view`.
    pub offset: usize,
    /// The filter text.
    pub filter: TextBox,
    /// Whether the filter line has the keyboard.
    pub filtering: bool,
    /// Sort order.
    pub sort: SortKey,
    /// Default state filter.
    pub states: StateFilter,
    /// Open detail view.
    pub detail: Option<Detail>,
    /// Where the items come from; `None` when no provider serves the backlog.
    pub feed: Option<Feed>,
    /// Why there is no feed.
    pub missing: String,
    /// The provider's saved searches (GitHub sections).
    pub sections: Vec<String>,
    /// The section shown: 0 is every item, `n` is `sections[n - 1]`.
    pub section: usize,
}

impl BacklogPane {
    /// The name of the section shown, if one is.
    pub fn section_name(&self) -> Option<&str> {
        self.section
            .checked_sub(1)
            .and_then(|i| self.sections.get(i))
            .map(String::as_str)
    }

    /// Shows the next section (after the last, every item again).
    pub fn next_section(&mut self) {
        self.section = (self.section + 1) % (self.sections.len() + 1);
        self.refilter();
    }

    /// Replaces the items, keeping the selection on the same item when it is still shown.
    pub fn set_items(&mut self, items: Vec<WorkItem>) {
        let keep = self.selected_item().map(|i| i.id.clone());
        self.haystacks = items
            .iter()
            .map(|i| {
                format!(
                    "#{} {} {} {}",
                    i.id,
                    i.title.to_lowercase(),
                    i.labels.join(" ").to_lowercase(),
                    i.author.to_lowercase()
                )
            })
            .collect();
        self.items = items;
        self.resort();
        if let Some(id) = keep {
            self.select_id(&id);
        }
    }

    /// Recomputes the sort order (after new items or a new sort key).
    pub fn resort(&mut self) {
        let items = &self.items;
        let mut order: Vec<usize> = (0..items.len()).collect();
        let newest = |a: &WorkItem, b: &WorkItem| b.created.cmp(&a.created).then(b.id.cmp(&a.id));
        order.sort_by(|&a, &b| {
            let (x, y) = (&items[a], &items[b]);
            match self.sort {
                SortKey::Updated => y.updated.cmp(&x.updated).then(newest(x, y)),
                SortKey::Newest => newest(x, y),
                SortKey::Oldest => newest(y, x),
                SortKey::State => x.state.cmp(&y.state).then(newest(x, y)),
                SortKey::Kind => y
                    .kind
                    .cmp(&x.kind)
                    .then(x.severity.cmp(&y.severity))
                    .then(newest(x, y)),
                SortKey::Label => match (x.labels.first(), y.labels.first()) {
                    (Some(a), Some(b)) => a.cmp(b),
                    (Some(_), None) => std::cmp::Ordering::Less,
                    (None, Some(_)) => std::cmp::Ordering::Greater,
                    (None, None) => std::cmp::Ordering::Equal,
                }
                .then(newest(x, y)),
            }
        });
        self.order = order;
        self.refilter();
    }

    /// Which states the view shows: an `is:open` / `is:closed` in the filter wins over `a`.
    pub fn states_label(&self) -> &'static str {
        match Query::parse(&self.filter.text).state {
            Some(s) => s.as_str(),
            None => self.states.label(),
        }
    }

    /// Recomputes the view from the filter text (cheap: one pass over precomputed text).
    pub fn refilter(&mut self) {
        let keep = self.selected_item().map(|i| i.id.clone());
        let q = Query::parse(&self.filter.text);
        let section = self.section_name().map(str::to_string);
        self.view = self
            .order
            .iter()
            .copied()
            .filter(|&i| {
                section
                    .as_ref()
                    .is_none_or(|s| self.items[i].sections.contains(s))
            })
            .filter(|&i| q.matches(&self.items[i], &self.haystacks[i], self.states))
            .collect();
        self.selected = 0;
        self.offset = 0;
        if let Some(id) = keep {
            self.select_id(&id);
        }
    }

    /// Selects the item with this id if it is in the view.
    pub fn select_id(&mut self, id: &str) {
        if let Some(pos) = self.view.iter().position(|&i| self.items[i].id == id) {
            self.selected = pos;
        }
        self.selected = self.selected.min(self.view.len().saturating_sub(1));
    }

    /// The selected item.
    pub fn selected_item(&self) -> Option<&WorkItem> {
        self.view.get(self.selected).map(|&i| &self.items[i])
    }

    /// The item with this id.
    pub fn item(&self, id: &str) -> Option<&WorkItem> {
        self.items.iter().find(|i| i.id == id)
    }

    /// Moves the selection by `delta` rows (clamped) and keeps it within `rows` visible rows.
    pub fn move_by(&mut self, delta: isize, rows: usize) {
        let last = self.view.len().saturating_sub(1) as isize;
        self.selected = (self.selected as isize + delta).clamp(0, last.max(0)) as usize;
        self.scroll_into_view(rows);
    }

    /// Adjusts `offset` so the selection is visible in `rows` rows.
    pub fn scroll_into_view(&mut self, rows: usize) {
        let rows = rows.max(1);
        if self.selected < self.offset {
            self.offset = self.selected;
        } else if self.selected >= self.offset + rows {
            self.offset = self.selected + 1 - rows;
        }
        let max_offset = self.view.len().saturating_sub(rows);
        self.offset = self.offset.min(max_offset);
    }

    /// Counts per state, for the title.
    pub fn counts(&self) -> (usize, usize) {
        let open = self
            .items
            .iter()
            .filter(|i| i.state == ItemState::Open)
            .count();
        (open, self.items.len() - open)
    }
}

/// Rows the detail view of `item` takes at `width` columns, lines wrapped (an estimate that
/// errs long: scrolling stops at the end instead of into blank space).
pub fn detail_rows(item: &WorkItem, comments: Option<&[Comment]>, width: usize) -> usize {
    let width = width.max(1);
    let rows = |text: &str| -> usize {
        text.lines()
            .map(|l| l.chars().count().div_ceil(width).max(1))
            .sum::<usize>()
            .max(1)
    };
    let mut n = 4 + rows(&item.title) + rows(&item.body) + 2;
    for c in comments.unwrap_or_default() {
        n += 2 + rows(&c.body);
    }
    n
}

/// Age of `then` at `now` in a short form: `45s`, `12m`, `3h`, `5d`, `8w`.
pub fn age(now: Timestamp, then: Timestamp) -> String {
    let s = (now - then).max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86400 => format!("{}h", s / 3600),
        86400..1_209_600 => format!("{}d", s / 86400),
        _ => format!("{}w", s / 604_800),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn item(
        id: u32,
        title: &str,
        state: ItemState,
        kind: ItemKind,
        labels: &[&str],
    ) -> WorkItem {
        WorkItem {
            id: id.to_string(),
            provider: "local".into(),
            title: title.into(),
            body: String::new(),
            state,
            kind,
            severity: (kind == ItemKind::Incident).then_some(Severity::High),
            labels: labels.iter().map(|s| s.to_string()).collect(),
            author: "ana".into(),
            created: id as i64 * 10,
            updated: id as i64 * 10,
            comments: 0,
            assignee: None,
            auto: false,
            sections: Vec::new(),
        }
    }

    fn pane() -> BacklogPane {
        let mut p = BacklogPane::default();
        p.set_items(vec![
            item(
                1,
                "Disk full on db",
                ItemState::Open,
                ItemKind::Incident,
                &["ops"],
            ),
            item(
                2,
                "Add dark mode",
                ItemState::Open,
                ItemKind::Issue,
                &["ui"],
            ),
            item(
                3,
                "Old bug",
                ItemState::Closed,
                ItemKind::Issue,
                &["ui", "bug"],
            ),
        ]);
        p
    }

    fn ids(p: &BacklogPane) -> Vec<&str> {
        p.view.iter().map(|&i| p.items[i].id.as_str()).collect()
    }

    #[test]
    fn default_view_is_open_items_newest_first() {
        assert_eq!(ids(&pane()), ["2", "1"]);
    }

    #[test]
    fn filter_tokens() {
        let mut p = pane();
        for (text, want) in [
            ("is:closed", vec!["3"]),
            ("kind:incident", vec!["1"]),
            ("is:incident", vec!["1"]),
            ("label:ui", vec!["2"]),
            ("is:closed label:bug", vec!["3"]),
            ("DARK", vec!["2"]),
            ("#1", vec!["1"]),
            ("sev:high", vec!["1"]),
            ("nothing-matches", vec![]),
        ] {
            p.filter = TextBox::line(text);
            p.refilter();
            assert_eq!(ids(&p), want, "{text}");
        }
        // The header names the states shown: the filter's `is:` wins over the `a` cycle.
        p.filter = TextBox::line("is:closed");
        assert_eq!(p.states_label(), "closed");
        p.filter = TextBox::line("label:ui");
        assert_eq!(p.states_label(), "open");
    }

    #[test]
    fn state_filter_and_sorts() {
        let mut p = pane();
        p.states = StateFilter::All;
        p.sort = SortKey::Oldest;
        p.resort();
        assert_eq!(ids(&p), ["1", "2", "3"]);
        p.sort = SortKey::Kind;
        p.resort();
        assert_eq!(ids(&p)[0], "1");
        p.sort = SortKey::Label;
        p.resort();
        assert_eq!(ids(&p), ["1", "3", "2"]);
        p.sort = SortKey::State;
        p.resort();
        assert_eq!(ids(&p), ["2", "1", "3"]);
    }

    #[test]
    fn selection_survives_refresh_and_scrolls() {
        let mut p = pane();
        p.move_by(1, 1);
        assert_eq!(p.selected_item().unwrap().id, "1");
        assert_eq!(p.offset, 1);
        let mut items = p.items.clone();
        items.push(item(9, "newer", ItemState::Open, ItemKind::Issue, &[]));
        p.set_items(items);
        assert_eq!(p.selected_item().unwrap().id, "1");
        p.move_by(-10, 5);
        assert_eq!((p.selected, p.offset), (0, 0));
    }

    #[test]
    fn ages() {
        assert_eq!(age(100, 55), "45s");
        assert_eq!(age(10_000, 0), "2h");
        assert_eq!(age(0, 10), "0s");
        assert_eq!(age(90 * 86400, 0), "12w");
    }
}
