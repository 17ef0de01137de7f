//! The dispatch form: the ref, then each input with its type, choices shown as ‹ value ›.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

use super::overlay::{frame_block, input_line, label_w, popup, status_line};
use super::text::{clean, fit};
use crate::app::State;
use crate::app::dispatch::DispatchForm;
use crate::domain::InputKind;
use crate::theme::{Slot, Theme};

/// Draws the dispatch form.
pub fn render(frame: &mut Frame, area: Rect, state: &State, f: &DispatchForm, theme: &Theme) {
    let inputs = f.inputs();
    let rect = popup(area, 84, (inputs.len() as u16 * 2 + 7).min(30));
    frame.render_widget(Clear, rect);
    let title = format!(
        " Dispatch {} · {} ",
        clean(&f.workflow.repo),
        clean(&f.workflow.name)
    );
    let block = frame_block(title, theme);
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    let name_w = inputs
        .iter()
        .map(|i| i.name.chars().count() + 1)
        .max()
        .unwrap_or(10)
        .clamp(10, 24);
    let w = (inner.width as usize).saturating_sub(name_w + 2);
    let mut lines = vec![Line::from(
        vec![label_w("ref", f.focus == 0, name_w, theme)]
            .into_iter()
            .chain(input_line(&f.git_ref, "", f.focus == 0, w, theme).spans)
            .collect::<Vec<_>>(),
    )];
    for (n, (i, v)) in inputs.iter().zip(&f.values).enumerate() {
        let focused = f.focus == n + 1;
        let mut spans = vec![label_w(&clean(&i.name), focused, name_w, theme)];
        match &i.kind {
            InputKind::Choice(_) | InputKind::Boolean => {
                let style = if focused {
                    theme.style(Slot::InputActive)
                } else {
                    theme.style(Slot::Input)
                };
                spans.push(Span::styled(format!("‹ {} ›", clean(&v.text)), style));
            }
            _ => spans.extend(input_line(v, "", focused, w, theme).spans),
        }
        lines.push(Line::from(spans));
        let kind = match &i.kind {
            InputKind::Text => "text".to_string(),
            InputKind::Number => "number".into(),
            InputKind::Boolean => "true/false · ←/→".into(),
            InputKind::Environment => "environment".into(),
            InputKind::Choice(o) => format!("{} · ←/→", o.join(" | ")),
        };
        let need = if i.required { "required · " } else { "" };
        // What it takes comes first, so a long description is what gets cut.
        let about = if i.description.is_empty() {
            format!("{need}{kind}")
        } else {
            format!("{need}{kind} · {}", i.description)
        };
        lines.push(Line::from(Span::styled(
            format!("{}{}", " ".repeat(name_w + 2), fit(&clean(&about), w)),
            theme.style(Slot::TextDim),
        )));
    }
    let room = (inner.height as usize).saturating_sub(2);
    lines.truncate(room);
    lines.resize(room, Line::default());
    lines.push(status_line(state, f.error.as_deref(), theme));
    lines.push(Line::from(Span::styled(
        "enter dispatches · tab next input · ←/→ change a choice · esc close",
        theme.style(Slot::TextDim),
    )));
    frame.render_widget(Paragraph::new(lines), inner);
}
