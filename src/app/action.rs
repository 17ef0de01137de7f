//! Named actions: what keys, the palette and the config refer to.

/// Where an action applies; the help screen groups by it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Context {
    /// Anywhere.
    Global,
    /// In a list or a detail view.
    List,
    /// In the backlog pane.
    Backlog,
    /// In the builds pane.
    Builds,
    /// In the deploys pane.
    Deploys,
    /// In the health pane.
    Health,
}

impl Context {
    /// Heading in the help screen.
    pub fn title(self) -> &'static str {
        match self {
            Context::Global => "Global",
            Context::List => "Lists and views",
            Context::Backlog => "Backlog",
            Context::Builds => "Builds",
            Context::Deploys => "Deploys",
            Context::Health => "Health",
        }
    }
}

macro_rules! actions {
    ($($variant:ident, $name:literal, $ctx:ident, $mutates:literal, [$($key:literal),*], $desc:literal;)*) => {
        /// Everything a user can ask for; `snake_case` names are bindable in `[keys]`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Action {
            $(
                #[doc = $desc]
                $variant,
            )*
        }

        /// Every action with its metadata, in help order.
        pub const ACTIONS: &[ActionInfo] = &[
            $(ActionInfo {
                action: Action::$variant,
                name: $name,
                context: Context::$ctx,
                mutates: $mutates,
                default_keys: &[$($key),*],
                description: $desc,
            },)*
        ];
    };
}

actions! {
    Quit, "quit", Global, false, ["q", "ctrl-c"], "Quit flightdeck";
    Help, "help", Global, false, ["?"], "Show the keys";
    Palette, "palette", Global, false, [":"], "Command palette";
    FocusNext, "focus_next", Global, false, ["tab"], "Focus the next pane";
    FocusPrev, "focus_prev", Global, false, ["backtab"], "Focus the previous pane";
    FocusBacklog, "focus_backlog", Global, false, ["1"], "Focus the backlog";
    FocusBuilds, "focus_builds", Global, false, ["2"], "Focus the builds";
    FocusDeploys, "focus_deploys", Global, false, ["3"], "Focus the deploys";
    FocusHealth, "focus_health", Global, false, ["4"], "Focus the health";
    Zoom, "zoom", Global, false, ["z"], "Zoom the focused pane";
    Refresh, "refresh", Global, false, ["r"], "Refresh every pane now";
    CycleTheme, "cycle_theme", Global, false, ["t"], "Next colour theme";
    Suspend, "suspend", Global, false, ["ctrl-z"], "Suspend to the shell (fg returns)";
    LastMessage, "last_message", Global, false, ["!"], "Show the last status-bar message in full";
    MoveDown, "move_down", List, false, ["j", "down"], "Move down";
    MoveUp, "move_up", List, false, ["k", "up"], "Move up";
    MoveTop, "move_top", List, false, ["g", "home"], "Go to the top";
    MoveBottom, "move_bottom", List, false, ["G", "end"], "Go to the bottom";
    PageDown, "page_down", List, false, ["ctrl-d", "pgdn"], "Page down";
    PageUp, "page_up", List, false, ["ctrl-u", "pgup"], "Page up";
    Open, "open", List, false, ["enter"], "Open the detail view";
    Back, "back", List, false, ["esc"], "Back out (close the view, clear the filter)";
    OpenWeb, "open_web", List, false, ["o"], "Open the selected item or run in a browser (over SSH: show its URL)";
    Filter, "filter", List, false, ["/"], "Filter the list (is:open kind:incident label:x sev:high text)";
    NewItem, "new_item", Backlog, true, ["n"], "New item";
    EditItem, "edit_item", Backlog, true, ["e"], "Edit the selected item";
    CommentItem, "comment_item", Backlog, true, ["c"], "Comment on the selected item";
    ToggleState, "close_reopen", Backlog, true, ["x"], "Close or reopen the selected item";
    EditLabels, "label_item", Backlog, true, ["l"], "Edit the labels of the selected item";
    CycleSort, "cycle_sort", Backlog, false, ["s"], "Sort by: updated, newest, oldest, state, kind, label";
    CycleStateFilter, "cycle_state", Backlog, false, ["a"], "Show open, closed or all items";
    CycleSection, "cycle_section", Backlog, false, ["]"], "Next section: each saved GitHub search, then every item";
    AckIncident, "ack", Backlog, true, ["A"], "Acknowledge the selected incident";
    AssignItem, "assign", Backlog, true, ["W"], "Assign the selected item to someone";
    MergeItem, "merge", Backlog, true, ["M"], "Merge the selected item into another (its alerts follow)";
    DismissIncident, "dismiss", Backlog, true, ["D"], "Dismiss the selected incident: close it, mute its alert for hours";
    RunPipeline, "run_pipeline", Builds, true, ["p"], "Run a pipeline, or dispatch a GitHub workflow (choose which)";
    Rerun, "rerun", Builds, true, ["R"], "Run the selected run's pipeline again";
    CancelRun, "cancel_run", Builds, true, ["C"], "Cancel the selected running run (asks first)";
    RerunFailed, "rerun_failed", Builds, true, ["F"], "Rerun only the failed jobs of the selected GitHub run";
    SearchNext, "search_next", Builds, false, ["n"], "Next match of the log search (/ searches)";
    SearchPrev, "search_prev", Builds, false, ["N"], "Previous match of the log search";
    FirstError, "first_error", Builds, false, ["e"], "Jump to the first error in the log";
    ToggleWrap, "toggle_wrap", Builds, false, ["w"], "Wrap or cut long log lines";
    Deploy, "deploy", Deploys, true, ["d"], "Deploy a version to the selected target (plan, then confirm)";
    RollbackTarget, "rollback", Deploys, true, ["b"], "Roll the selected target back to the version before";
    AbortDeploy, "abort_deploy", Deploys, true, ["C"], "Abort the running deploy; it rolls back (asks first)";
    ResumeDeploy, "resume_deploy", Deploys, true, ["u"], "Resume a deploy whose runner stopped (asks first)";
    SilenceAlert, "silence", Health, true, ["S"], "Silence the selected Alertmanager alert for some hours";
    RemediateCheck, "remediate", Health, true, ["X"], "Run the selected check's remediation (asks first)";
}

/// An action's name, context, default keys and description.
#[derive(Clone, Copy, Debug)]
pub struct ActionInfo {
    /// The action.
    pub action: Action,
    /// Its `snake_case` name.
    pub name: &'static str,
    /// Where it applies.
    pub context: Context,
    /// Whether it changes anything (refused in read-only mode).
    pub mutates: bool,
    /// Keys bound when the config does not rebind it.
    pub default_keys: &'static [&'static str],
    /// One line for help and the palette.
    pub description: &'static str,
}

impl Action {
    /// The action's metadata.
    pub fn info(self) -> &'static ActionInfo {
        ACTIONS
            .iter()
            .find(|i| i.action == self)
            .unwrap_or(&ACTIONS[0])
    }

    /// The action with this `snake_case` name.
    pub fn from_name(name: &str) -> Option<Action> {
        ACTIONS.iter().find(|i| i.name == name).map(|i| i.action)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_round_trip() {
        for info in ACTIONS {
            assert_eq!(Action::from_name(info.name), Some(info.action));
            assert_eq!(info.action.info().name, info.name);
        }
        let mut names: Vec<_> = ACTIONS.iter().map(|i| i.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), ACTIONS.len());
    }
}
