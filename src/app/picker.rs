//! The picker: choose one of several options (a pipeline, a version, a workflow), with
//! `j`/`k`, `g`/`G`, Home/End and PageUp/PageDown, and a filter that narrows the list as you
//! type (`/`, or any other character).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::overlay::Choice;

/// A list of options, one of them selected, possibly narrowed by a filter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Picker {
    /// Heading.
    pub title: String,
    /// The options (what is chosen).
    pub options: Vec<String>,
    /// A word or two beside each option ("current", "downgrade"), or nothing.
    pub notes: Vec<String>,
    /// The selected option (an index into `options`).
    pub selected: usize,
    /// The filter being typed, when one is.
    pub filter: Option<String>,
    /// What the choice is for.
    pub then: Choice,
}

/// What a key did to the picker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Picked {
    /// Still choosing.
    Open,
    /// This option (an index into `options`) was chosen.
    Chosen(usize),
    /// Closed without a choice.
    Closed,
}

impl Picker {
    /// A picker on the first option.
    pub fn new(title: String, options: Vec<String>, then: Choice) -> Picker {
        Picker {
            title,
            notes: vec![String::new(); options.len()],
            options,
            selected: 0,
            filter: None,
            then,
        }
    }

    /// The options the filter lets through, in order (indices into `options`).
    pub fn visible(&self) -> Vec<usize> {
        let needle = self.filter.as_deref().unwrap_or("").to_lowercase();
        (0..self.options.len())
            .filter(|&i| needle.is_empty() || self.options[i].to_lowercase().contains(&needle))
            .collect()
    }

    fn keep_selection_visible(&mut self) {
        let visible = self.visible();
        if !visible.contains(&self.selected)
            && let Some(&first) = visible.first()
        {
            self.selected = first;
        }
    }

    fn move_to(&mut self, f: impl Fn(usize, usize) -> usize) {
        let visible = self.visible();
        if visible.is_empty() {
            return;
        }
        let pos = visible
            .iter()
            .position(|&i| i == self.selected)
            .unwrap_or(0);
        self.selected = visible[f(pos, visible.len() - 1).min(visible.len() - 1)];
    }

    /// Takes one key.
    pub fn key(&mut self, key: &KeyEvent) -> Picked {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Enter => {
                return if self.visible().contains(&self.selected) {
                    Picked::Chosen(self.selected)
                } else {
                    Picked::Open
                };
            }
            KeyCode::Down | KeyCode::Tab => self.move_to(|p, _| p + 1),
            KeyCode::Up | KeyCode::BackTab => self.move_to(|p, _| p.saturating_sub(1)),
            KeyCode::Char('n') if ctrl => self.move_to(|p, _| p + 1),
            KeyCode::Char('p') if ctrl => self.move_to(|p, _| p.saturating_sub(1)),
            KeyCode::Home => self.move_to(|_, _| 0),
            KeyCode::End => self.move_to(|_, last| last),
            KeyCode::PageDown => self.move_to(|p, _| p + 10),
            KeyCode::PageUp => self.move_to(|p, _| p.saturating_sub(10)),
            KeyCode::Esc if self.filter.is_some() => {
                self.filter = None;
            }
            KeyCode::Esc => return Picked::Closed,
            KeyCode::Backspace => {
                if let Some(f) = &mut self.filter {
                    f.pop();
                    if f.is_empty() {
                        self.filter = None;
                    }
                }
            }
            KeyCode::Char(c) if !ctrl && self.filter.is_some() => {
                if let Some(f) = &mut self.filter {
                    f.push(c);
                }
                self.keep_selection_visible();
            }
            KeyCode::Char('j') if !ctrl => self.move_to(|p, _| p + 1),
            KeyCode::Char('k') if !ctrl => self.move_to(|p, _| p.saturating_sub(1)),
            KeyCode::Char('g') if !ctrl => self.move_to(|_, _| 0),
            KeyCode::Char('G') => self.move_to(|_, last| last),
            KeyCode::Char('q') if !ctrl => return Picked::Closed,
            KeyCode::Char('/') if !ctrl => self.filter = Some(String::new()),
            // Any other character starts the filter with itself: `v1.4` narrows at once.
            KeyCode::Char(c) if !ctrl && !c.is_control() => {
                self.filter = Some(c.to_string());
                self.keep_selection_visible();
            }
            _ => {}
        }
        Picked::Open
    }
}

/// A version's sort key when it reads like one (`v1.4.0`, `2.10`, `r12`, `1.0-rc1`): its
/// numbers, then whether it is a release (a pre-release sorts first), then its suffix.
fn version_key(v: &str) -> Option<(Vec<u64>, bool, String)> {
    let body = v.strip_prefix(['v', 'V', 'r']).unwrap_or(v);
    let (nums, suffix) = match body.find(['-', '+']) {
        Some(i) => (&body[..i], &body[i..]),
        None => (body, ""),
    };
    let parts: Option<Vec<u64>> = nums.split('.').map(|p| p.parse().ok()).collect();
    Some((parts?, suffix.is_empty(), suffix.to_string()))
}

/// The version picker's options, notes and first selection: newest first when every version
/// reads like one, `current` and `downgrade` said in words, and the newest above the current
/// one selected (else the first that is not current).
pub fn versions(known: &[String], current: Option<&str>) -> (Vec<String>, Vec<String>, usize) {
    let keys: Option<Vec<_>> = known.iter().map(|v| version_key(v)).collect();
    let mut options = known.to_vec();
    let ordered = keys.is_some();
    if ordered {
        options.sort_by_key(|v| std::cmp::Reverse(version_key(v)));
    }
    let cur_key = current.and_then(version_key);
    let notes: Vec<String> = options
        .iter()
        .map(|v| {
            if Some(v.as_str()) == current {
                "current".into()
            } else if ordered && cur_key.is_some() && version_key(v) < cur_key {
                "downgrade".into()
            } else {
                String::new()
            }
        })
        .collect();
    let selected = if ordered {
        // Newest first: the first above the current one is the newest of them.
        options
            .iter()
            .position(|v| cur_key.is_none() || version_key(v) > cur_key)
            .or_else(|| options.iter().position(|v| Some(v.as_str()) != current))
            .unwrap_or(0)
    } else {
        options
            .iter()
            .position(|v| Some(v.as_str()) != current)
            .unwrap_or(0)
    };
    (options, notes, selected)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(c: KeyCode) -> KeyEvent {
        KeyEvent::new(c, KeyModifiers::NONE)
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn versions_start_on_the_newest_above_the_current_one_and_say_which_is_which() {
        let (o, n, s) = versions(&strings(&["v1", "v2", "v10", "v3"]), Some("v2"));
        assert_eq!(o, ["v10", "v3", "v2", "v1"]);
        assert_eq!(n, ["", "", "current", "downgrade"]);
        assert_eq!(o[s], "v10");
        // On the newest already: nothing above, so the next one down (a downgrade, marked).
        let (o, n, s) = versions(&strings(&["v1", "v2"]), Some("v2"));
        assert_eq!((o[s].as_str(), n[s].as_str()), ("v1", "downgrade"));
        // Nothing deployed: the newest.
        let (o, _, s) = versions(&strings(&["1.0-rc1", "1.0", "0.9"]), None);
        assert_eq!(o, ["1.0", "1.0-rc1", "0.9"]);
        assert_eq!(s, 0);
        // Names that are not versions keep their order.
        let (o, n, s) = versions(&strings(&["main-abc", "main-def"]), Some("main-abc"));
        assert_eq!(o, ["main-abc", "main-def"]);
        assert_eq!((s, n[0].as_str()), (1, "current"));
    }

    #[test]
    fn keys_move_jump_and_filter_as_you_type() {
        let mut p = Picker::new(
            "t".into(),
            strings(&["v3", "v2", "v1", "v1.5"]),
            Choice::Pipeline,
        );
        p.key(&key(KeyCode::Char('G')));
        assert_eq!(p.selected, 3);
        p.key(&key(KeyCode::Char('g')));
        assert_eq!(p.selected, 0);
        p.key(&key(KeyCode::End));
        p.key(&key(KeyCode::Home));
        p.key(&key(KeyCode::Char('j')));
        assert_eq!(p.selected, 1);
        // Typing narrows at once; the selection moves into what is left.
        p.key(&key(KeyCode::Char('1')));
        assert_eq!(p.visible(), [2, 3]);
        assert_eq!(p.selected, 2);
        p.key(&key(KeyCode::Char('.')));
        assert_eq!(p.visible(), [3]);
        assert_eq!(p.key(&key(KeyCode::Enter)), Picked::Chosen(3));
        // Esc clears the filter first, then closes.
        assert_eq!(p.key(&key(KeyCode::Esc)), Picked::Open);
        assert_eq!(p.visible().len(), 4);
        assert_eq!(p.key(&key(KeyCode::Esc)), Picked::Closed);
        // A filter that matches nothing chooses nothing.
        p.key(&key(KeyCode::Char('/')));
        p.key(&key(KeyCode::Char('z')));
        assert!(p.visible().is_empty());
        assert_eq!(p.key(&key(KeyCode::Enter)), Picked::Open);
    }
}
