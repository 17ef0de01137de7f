//! Keys as data: chords parsed from names, bound to actions, overridable by the config.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::action::{ACTIONS, Action, Context};
use crate::config::KeyList;

/// One key with its modifiers, normalised so `G` and `shift-g` compare equal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KeyChord {
    /// The key.
    pub code: KeyCode,
    /// Ctrl and Alt only; Shift is folded into the character.
    pub mods: KeyModifiers,
}

impl KeyChord {
    /// Normalises a terminal key event.
    pub fn from_event(ev: &KeyEvent) -> KeyChord {
        let mut mods = ev.modifiers & (KeyModifiers::CONTROL | KeyModifiers::ALT);
        let code = match ev.code {
            KeyCode::Char(c) if mods.contains(KeyModifiers::CONTROL) => {
                KeyCode::Char(c.to_ascii_lowercase())
            }
            KeyCode::Tab if ev.modifiers.contains(KeyModifiers::SHIFT) => KeyCode::BackTab,
            other => other,
        };
        if code == KeyCode::BackTab {
            mods.remove(KeyModifiers::SHIFT);
        }
        KeyChord { code, mods }
    }

    /// Parses `q`, `G`, `ctrl-c`, `alt-x`, `shift-tab`, `enter`, `f1`, `space`, …
    pub fn parse(text: &str) -> Result<KeyChord, String> {
        let mut mods = KeyModifiers::NONE;
        let mut rest = text;
        let mut shift = false;
        loop {
            let lower = rest.to_ascii_lowercase();
            if rest.len() > 1 && (lower.starts_with("ctrl-") || lower.starts_with("ctrl+")) {
                mods |= KeyModifiers::CONTROL;
                rest = &rest[5..];
            } else if rest.len() > 1 && (lower.starts_with("alt-") || lower.starts_with("alt+")) {
                mods |= KeyModifiers::ALT;
                rest = &rest[4..];
            } else if rest.len() > 1 && (lower.starts_with("shift-") || lower.starts_with("shift+"))
            {
                shift = true;
                rest = &rest[6..];
            } else {
                break;
            }
        }
        let mut chars = rest.chars();
        let code = match (chars.next(), chars.next()) {
            (Some(c), None) => {
                let c = if shift { c.to_ascii_uppercase() } else { c };
                if mods.contains(KeyModifiers::CONTROL) {
                    KeyCode::Char(c.to_ascii_lowercase())
                } else {
                    KeyCode::Char(c)
                }
            }
            _ => match rest.to_ascii_lowercase().as_str() {
                "enter" | "return" => KeyCode::Enter,
                "esc" | "escape" => KeyCode::Esc,
                "tab" if shift => KeyCode::BackTab,
                "tab" => KeyCode::Tab,
                "backtab" => KeyCode::BackTab,
                "space" => KeyCode::Char(' '),
                "backspace" => KeyCode::Backspace,
                "delete" | "del" => KeyCode::Delete,
                "up" => KeyCode::Up,
                "down" => KeyCode::Down,
                "left" => KeyCode::Left,
                "right" => KeyCode::Right,
                "home" => KeyCode::Home,
                "end" => KeyCode::End,
                "pgup" | "pageup" => KeyCode::PageUp,
                "pgdn" | "pagedown" => KeyCode::PageDown,
                f if f.starts_with('f') => match f[1..].parse::<u8>() {
                    Ok(n) if (1..=12).contains(&n) => KeyCode::F(n),
                    _ => return Err(format!("unknown key {text:?}")),
                },
                _ => return Err(format!("unknown key {text:?}")),
            },
        };
        Ok(KeyChord { code, mods })
    }
}

impl fmt::Display for KeyChord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.mods.contains(KeyModifiers::CONTROL) {
            f.write_str("ctrl-")?;
        }
        if self.mods.contains(KeyModifiers::ALT) {
            f.write_str("alt-")?;
        }
        match self.code {
            KeyCode::Char(' ') => f.write_str("space"),
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::Enter => f.write_str("enter"),
            KeyCode::Esc => f.write_str("esc"),
            KeyCode::Tab => f.write_str("tab"),
            KeyCode::BackTab => f.write_str("shift-tab"),
            KeyCode::Backspace => f.write_str("backspace"),
            KeyCode::Delete => f.write_str("delete"),
            KeyCode::Up => f.write_str("↑"),
            KeyCode::Down => f.write_str("↓"),
            KeyCode::Left => f.write_str("←"),
            KeyCode::Right => f.write_str("→"),
            KeyCode::Home => f.write_str("home"),
            KeyCode::End => f.write_str("end"),
            KeyCode::PageUp => f.write_str("pgup"),
            KeyCode::PageDown => f.write_str("pgdn"),
            KeyCode::F(n) => write!(f, "f{n}"),
            _ => f.write_str("?"),
        }
    }
}

/// A binding the config got wrong: the action (the config key) and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeymapError {
    /// The `[keys]` entry at fault.
    pub action: String,
    /// What is wrong.
    pub message: String,
}

/// Which action each key triggers, and which keys each action has.
#[derive(Clone, Debug)]
pub struct Keymap {
    by_key: HashMap<KeyChord, Vec<Action>>,
    by_action: HashMap<Action, Vec<KeyChord>>,
}

impl Keymap {
    /// The default bindings with the config's `[keys]` applied; a rebound action loses its
    /// defaults, and a key taken by the config is removed from whatever had it before.
    pub fn new(overrides: &BTreeMap<String, KeyList>) -> Result<Keymap, KeymapError> {
        let mut by_action: HashMap<Action, Vec<KeyChord>> = HashMap::new();
        for info in ACTIONS {
            let keys = info
                .default_keys
                .iter()
                .filter_map(|k| KeyChord::parse(k).ok())
                .collect();
            by_action.insert(info.action, keys);
        }
        // What each override binds, to refuse one key given to two actions that could meet.
        let mut claimed: Vec<(KeyChord, Action, &str)> = Vec::new();
        for (name, keys) in overrides {
            let err = |message: String| KeymapError {
                action: name.clone(),
                message,
            };
            let action = Action::from_name(name).ok_or_else(|| {
                err(format!(
                    "unknown action {name:?}; `?` in the cockpit lists them"
                ))
            })?;
            let chords = keys
                .keys()
                .into_iter()
                .map(KeyChord::parse)
                .collect::<Result<Vec<_>, _>>()
                .map_err(err)?;
            let ctx = action.info().context;
            for k in &chords {
                let clash = claimed.iter().find(|(c, a, _)| {
                    let other = a.info().context;
                    c == k
                        && (other == ctx
                            || matches!(other, Context::Global | Context::List)
                            || matches!(ctx, Context::Global | Context::List))
                });
                if let Some((_, _, first)) = clash {
                    return Err(err(format!(
                        "key {:?} is bound to both {first:?} and {name:?}; give each its own key",
                        k.to_string()
                    )));
                }
                claimed.push((*k, action, name));
            }
            for list in by_action.values_mut() {
                list.retain(|k| !chords.contains(k));
            }
            by_action.insert(action, chords);
        }
        let mut by_key = HashMap::new();
        for info in ACTIONS {
            for k in &by_action[&info.action] {
                by_key.entry(*k).or_insert_with(Vec::new).push(info.action);
            }
        }
        Ok(Keymap { by_key, by_action })
    }

    /// The action bound to a key event.
    pub fn action_for(&self, ev: &KeyEvent) -> Option<Action> {
        self.by_key
            .get(&KeyChord::from_event(ev))
            .and_then(|a| a.first().copied())
    }

    /// The action a key means where `ctx` has the keyboard: a pane's own binding first
    /// (`n` is "new item" in the backlog and "next match" in a log), then a global one.
    pub fn action_in(&self, ev: &KeyEvent, ctx: Context) -> Option<Action> {
        let actions = self.by_key.get(&KeyChord::from_event(ev))?;
        actions
            .iter()
            .find(|a| a.info().context == ctx)
            .or_else(|| {
                actions
                    .iter()
                    .find(|a| matches!(a.info().context, Context::Global | Context::List))
            })
            .or(actions.first())
            .copied()
    }

    /// The keys bound to an action, in binding order.
    pub fn keys_for(&self, action: Action) -> &[KeyChord] {
        self.by_action.get(&action).map_or(&[], Vec::as_slice)
    }

    /// The keys of an action joined for display (`j/↓`), or `—` when unbound.
    pub fn label(&self, action: Action) -> String {
        let keys = self.keys_for(action);
        if keys.is_empty() {
            return "—".into();
        }
        keys.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("/")
    }
}

impl Default for Keymap {
    fn default() -> Self {
        match Keymap::new(&BTreeMap::new()) {
            Ok(k) => k,
            Err(_) => Keymap {
                by_key: HashMap::new(),
                by_action: HashMap::new(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::KeyEventKind;

    fn ev(code: KeyCode, mods: KeyModifiers) -> KeyEvent {
        KeyEvent::new_with_kind(code, mods, KeyEventKind::Press)
    }

    #[test]
    fn parse_and_display() {
        for k in [
            "q",
            "G",
            "ctrl-c",
            "alt-y",
            "enter",
            "shift-tab",
            "f5",
            "space",
            "/",
        ] {
            let c = KeyChord::parse(k).unwrap();
            assert_eq!(
                KeyChord::parse(&c.to_string().replace('↑', "up")).unwrap(),
                c,
                "{k}"
            );
        }
        assert_eq!(
            KeyChord::parse("shift-g").unwrap(),
            KeyChord::parse("G").unwrap()
        );
        assert!(KeyChord::parse("hyper-x").is_err());
    }

    #[test]
    fn defaults_and_event_normalisation() {
        let km = Keymap::default();
        assert_eq!(
            km.action_for(&ev(KeyCode::Char('q'), KeyModifiers::NONE)),
            Some(Action::Quit)
        );
        assert_eq!(
            km.action_for(&ev(KeyCode::Char('G'), KeyModifiers::SHIFT)),
            Some(Action::MoveBottom)
        );
        assert_eq!(
            km.action_for(&ev(KeyCode::BackTab, KeyModifiers::SHIFT)),
            Some(Action::FocusPrev)
        );
        // Esc then y arrives as alt-y and must not act as a plain key (B3).
        assert_eq!(
            km.action_for(&ev(KeyCode::Char('j'), KeyModifiers::ALT)),
            None
        );
    }

    #[test]
    fn default_keys_never_clash_where_they_apply() {
        let km = Keymap::default();
        for (key, actions) in &km.by_key {
            let shared = actions
                .iter()
                .any(|a| matches!(a.info().context, Context::Global | Context::List));
            assert!(
                !(shared && actions.len() > 1),
                "{key} is global and also {actions:?}"
            );
            let mut ctxs: Vec<_> = actions.iter().map(|a| a.info().context).collect();
            ctxs.sort();
            ctxs.dedup();
            assert_eq!(
                ctxs.len(),
                actions.len(),
                "{key} bound twice in one pane: {actions:?}"
            );
        }
    }

    #[test]
    fn one_key_for_two_actions_that_meet_is_refused() {
        let mut o = BTreeMap::new();
        o.insert("quit".to_string(), KeyList::One("x".into()));
        o.insert("help".to_string(), KeyList::One("x".into()));
        let e = Keymap::new(&o).unwrap_err();
        assert!(
            e.message.contains("bound to both \"help\" and \"quit\""),
            "{}",
            e.message
        );
    }

    #[test]
    fn overrides_replace_and_steal() {
        let mut o = BTreeMap::new();
        o.insert("quit".to_string(), KeyList::One("x".into()));
        let km = Keymap::new(&o).unwrap();
        assert_eq!(
            km.action_for(&ev(KeyCode::Char('x'), KeyModifiers::NONE)),
            Some(Action::Quit)
        );
        assert_eq!(
            km.action_for(&ev(KeyCode::Char('q'), KeyModifiers::NONE)),
            None
        );
        assert!(
            km.keys_for(Action::ToggleState).is_empty(),
            "x was taken from close_reopen"
        );
        o.insert("fly".to_string(), KeyList::One("f".into()));
        assert_eq!(Keymap::new(&o).unwrap_err().action, "fly");
        let mut bad = BTreeMap::new();
        bad.insert("quit".to_string(), KeyList::One("hyper-q".into()));
        assert!(Keymap::new(&bad).unwrap_err().message.contains("hyper-q"));
    }
}
