//! Editable text: one line (titles, filters) or several (bodies, comments).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use unicode_segmentation::UnicodeSegmentation;
use unicode_width::UnicodeWidthStr;

/// What a key did to a text box.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Edit {
    /// The text or cursor changed.
    Changed,
    /// The key is not an editing key; the caller decides.
    Ignored,
}

/// A text buffer with a cursor (a byte offset on a char boundary).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TextBox {
    /// The text.
    pub text: String,
    /// Byte offset of the cursor.
    pub cursor: usize,
    /// Whether Enter inserts a newline.
    pub multiline: bool,
}

impl TextBox {
    /// A one-line box holding `text`, cursor at the end.
    pub fn line(text: &str) -> TextBox {
        TextBox {
            text: text.to_string(),
            cursor: text.len(),
            multiline: false,
        }
    }

    /// A multi-line box holding `text`, cursor at the end.
    pub fn area(text: &str) -> TextBox {
        TextBox {
            multiline: true,
            ..TextBox::line(text)
        }
    }

    /// Inserts text at the cursor; newlines become spaces in a one-line box, and control
    /// characters are dropped so pasted escapes never reach the store.
    pub fn insert_str(&mut self, s: &str) {
        let clean: String = s
            .chars()
            .filter_map(|c| match c {
                '\r' => None,
                '\n' if !self.multiline => Some(' '),
                '\n' => Some('\n'),
                '\t' => Some(' '),
                c if c.is_control() => None,
                c => Some(c),
            })
            .collect();
        self.text.insert_str(self.cursor, &clean);
        self.cursor += clean.len();
    }

    /// The start of the grapheme before the cursor: `é` typed as e + a combining accent,
    /// a flag or a ZWJ family emoji is one step, as the user sees it.
    fn prev_boundary(&self) -> usize {
        self.text[..self.cursor]
            .grapheme_indices(true)
            .next_back()
            .map_or(0, |(i, _)| i)
    }

    /// The end of the grapheme after the cursor.
    fn next_boundary(&self) -> usize {
        self.text[self.cursor..]
            .graphemes(true)
            .next()
            .map_or(self.cursor, |g| self.cursor + g.len())
    }

    fn line_start(&self, at: usize) -> usize {
        self.text[..at].rfind('\n').map_or(0, |i| i + 1)
    }

    fn line_end(&self, at: usize) -> usize {
        self.text[at..]
            .find('\n')
            .map_or(self.text.len(), |i| at + i)
    }

    /// Moves to the same column on the line before (`up`) or after.
    fn vertical(&mut self, up: bool) -> Edit {
        let start = self.line_start(self.cursor);
        // Columns as the terminal draws them: a CJK character is two.
        let col = self.text[start..self.cursor].width();
        let target_start = if up {
            if start == 0 {
                return Edit::Ignored;
            }
            self.line_start(start - 1)
        } else {
            let end = self.line_end(self.cursor);
            if end == self.text.len() {
                return Edit::Ignored;
            }
            end + 1
        };
        let target_end = self.line_end(target_start);
        let line = &self.text[target_start..target_end];
        let mut used = 0;
        let mut at = line.len();
        for (i, g) in line.grapheme_indices(true) {
            if used >= col {
                at = i;
                break;
            }
            used += g.width();
        }
        self.cursor = target_start + at;
        Edit::Changed
    }

    /// Applies an editing key.
    pub fn key(&mut self, ev: &KeyEvent) -> Edit {
        let ctrl = ev.modifiers.contains(KeyModifiers::CONTROL);
        let alt = ev.modifiers.contains(KeyModifiers::ALT);
        match ev.code {
            KeyCode::Char('u') if ctrl => {
                let start = self.line_start(self.cursor);
                self.text.replace_range(start..self.cursor, "");
                self.cursor = start;
            }
            KeyCode::Char('w') if ctrl => {
                let before = &self.text[..self.cursor];
                let trimmed = before.trim_end_matches(' ');
                let start = trimmed.rfind([' ', '\n']).map_or(0, |i| i + 1);
                self.text.replace_range(start..self.cursor, "");
                self.cursor = start;
            }
            KeyCode::Char('a') if ctrl => self.cursor = self.line_start(self.cursor),
            KeyCode::Char('e') if ctrl => self.cursor = self.line_end(self.cursor),
            KeyCode::Char(c) if !ctrl && !alt => {
                let mut buf = [0u8; 4];
                self.insert_str(c.encode_utf8(&mut buf));
            }
            KeyCode::Enter if self.multiline && !ctrl && !alt => self.insert_str("\n"),
            KeyCode::Backspace if self.cursor > 0 => {
                let p = self.prev_boundary();
                self.text.replace_range(p..self.cursor, "");
                self.cursor = p;
            }
            KeyCode::Delete if self.cursor < self.text.len() => {
                let n = self.next_boundary();
                self.text.replace_range(self.cursor..n, "");
            }
            KeyCode::Left => self.cursor = self.prev_boundary(),
            KeyCode::Right => self.cursor = self.next_boundary(),
            KeyCode::Home => self.cursor = self.line_start(self.cursor),
            KeyCode::End => self.cursor = self.line_end(self.cursor),
            KeyCode::Up if self.multiline => return self.vertical(true),
            KeyCode::Down if self.multiline => return self.vertical(false),
            KeyCode::Backspace | KeyCode::Delete => {}
            _ => return Edit::Ignored,
        }
        Edit::Changed
    }

    /// Line index (0-based) of the cursor.
    pub fn cursor_line(&self) -> usize {
        self.text[..self.cursor].matches('\n').count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn typing_editing_and_unicode() {
        let mut t = TextBox::line("");
        for c in "héllo wörld".chars() {
            t.key(&k(KeyCode::Char(c)));
        }
        t.key(&k(KeyCode::Backspace));
        t.key(&k(KeyCode::Left));
        t.key(&k(KeyCode::Char('X')));
        assert_eq!(t.text, "héllo wörXl");
        t.key(&KeyEvent::new(KeyCode::Char('w'), KeyModifiers::CONTROL));
        assert_eq!(t.text, "héllo l");
        t.key(&k(KeyCode::Home));
        t.key(&k(KeyCode::Delete));
        assert_eq!(t.text, "éllo l");
        assert_eq!(t.key(&k(KeyCode::Enter)), Edit::Ignored);
    }

    /// Editing goes by what the user sees: a combining accent, a ZWJ emoji and a flag are
    /// one step each, and up/down keep the column as drawn (CJK is two wide).
    #[test]
    fn edits_by_grapheme_and_width() {
        let mut t = TextBox::line("");
        t.insert_str("e\u{301}👩\u{200d}👩\u{200d}👧🇯🇵x");
        t.key(&k(KeyCode::Backspace));
        t.key(&k(KeyCode::Backspace));
        assert_eq!(
            t.text, "e\u{301}👩\u{200d}👩\u{200d}👧",
            "the flag went whole"
        );
        t.key(&k(KeyCode::Left));
        t.key(&k(KeyCode::Backspace));
        assert_eq!(t.text, "👩\u{200d}👩\u{200d}👧", "é went whole");
        t.key(&k(KeyCode::Delete));
        assert_eq!(t.text, "", "the family went whole");
        let mut a = TextBox::area("本番です\nabcdefgh");
        a.key(&k(KeyCode::Up));
        a.key(&k(KeyCode::Home));
        a.key(&k(KeyCode::Right));
        a.key(&k(KeyCode::Right));
        a.key(&k(KeyCode::Down));
        assert_eq!(
            &a.text[a.cursor..],
            "efgh",
            "two CJK characters are four columns"
        );
    }

    #[test]
    fn paste_is_sanitised() {
        let mut t = TextBox::line("");
        t.insert_str("a\x1b]52;c;ZXZpbA==\x07b\nc\r\n");
        assert_eq!(t.text, "a]52;c;ZXZpbA==b c ");
        let mut a = TextBox::area("");
        a.insert_str("x\r\ny\u{9b}2J");
        assert_eq!(a.text, "x\ny2J");
    }

    #[test]
    fn multiline_moves_by_column() {
        let mut t = TextBox::area("abcd\nxy\nlonger");
        t.key(&k(KeyCode::Up));
        assert_eq!(t.cursor_line(), 1);
        assert_eq!(t.cursor, "abcd\nxy".len());
        t.key(&k(KeyCode::Up));
        assert_eq!(t.cursor, 2);
        t.key(&k(KeyCode::Enter));
        assert_eq!(t.text, "ab\ncd\nxy\nlonger");
    }
}
