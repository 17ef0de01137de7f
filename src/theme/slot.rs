//! The semantic slots widgets ask the theme for.

macro_rules! slots {
    ($($variant:ident = $name:literal,)*) => {
        /// A meaning a style is chosen for (`status.failure`, `border.focused`, …).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Slot {
            $(
                #[doc = concat!("`", $name, "`")]
                $variant,
            )*
        }

        impl Slot {
            /// Every slot, in declaration order.
            pub const ALL: &'static [Slot] = &[$(Slot::$variant,)*];

            /// The TOML key.
            pub fn name(self) -> &'static str {
                match self {
                    $(Slot::$variant => $name,)*
                }
            }
        }
    };
}

slots! {
    Text = "text",
    TextDim = "text.dim",
    Border = "border",
    BorderFocused = "border.focused",
    Title = "title",
    TitleFocused = "title.focused",
    Selection = "selection",
    Statusbar = "statusbar",
    StatusbarWorkspace = "statusbar.workspace",
    StatusbarKey = "statusbar.key",
    StatusbarHint = "statusbar.hint",
    BadgeReadonly = "badge.readonly",
    BadgeError = "badge.error",
    BadgeOk = "badge.ok",
    BadgeStale = "badge.stale",
    TabActive = "tab.active",
    TabInactive = "tab.inactive",
    ItemOpen = "item.open",
    ItemClosed = "item.closed",
    KindIssue = "kind.issue",
    KindIncident = "kind.incident",
    SeverityCritical = "severity.critical",
    SeverityHigh = "severity.high",
    SeverityMedium = "severity.medium",
    SeverityLow = "severity.low",
    Label = "label",
    Match = "match",
    StatusSuccess = "status.success",
    StatusFailure = "status.failure",
    StatusRunning = "status.running",
    StatusQueued = "status.queued",
    StatusCancelled = "status.cancelled",
    HealthOk = "health.ok",
    HealthWarn = "health.warn",
    HealthCrit = "health.crit",
    HealthUnknown = "health.unknown",
    MarkdownHeading = "markdown.heading",
    MarkdownCode = "markdown.code",
    MarkdownQuote = "markdown.quote",
    MarkdownLink = "markdown.link",
    Overlay = "overlay",
    OverlayBorder = "overlay.border",
    Input = "input",
    InputActive = "input.active",
    HelpKey = "help.key",
    HelpSection = "help.section",
    Error = "error",
    Warning = "warning",
    Info = "info",
}
