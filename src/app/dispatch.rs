//! The dispatch form: a workflow's typed inputs, checked before anything is sent.

use std::collections::BTreeMap;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::input::TextBox;
use crate::domain::{InputKind, Workflow, WorkflowInput};
use crate::providers::github::dispatch::CORRELATION_INPUT;

/// A workflow about to be dispatched.
#[derive(Clone, Debug, PartialEq)]
pub struct DispatchForm {
    /// The workflow.
    pub workflow: Workflow,
    /// The branch or tag it runs on.
    pub git_ref: TextBox,
    /// One value per shown input, in order.
    pub values: Vec<TextBox>,
    /// 0 is the ref; `n` is the `n`th shown input.
    pub focus: usize,
    /// Why the last submit was refused.
    pub error: Option<String>,
}

/// What a key did to the form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FormKey {
    /// Keep editing.
    Edit,
    /// Close it.
    Close,
    /// Send it: the ref and the checked inputs.
    Submit(String, BTreeMap<String, String>),
}

impl DispatchForm {
    /// A form with every input at its default.
    pub fn new(workflow: Workflow) -> DispatchForm {
        let values = shown(&workflow)
            .map(|i| {
                let first = match &i.kind {
                    InputKind::Choice(o) => o.first().cloned(),
                    InputKind::Boolean => Some("false".into()),
                    _ => None,
                };
                TextBox::line(&i.default.clone().or(first).unwrap_or_default())
            })
            .collect();
        DispatchForm {
            git_ref: TextBox::line(&workflow.default_ref),
            workflow,
            values,
            focus: 0,
            error: None,
        }
    }

    /// The inputs shown (the correlation input is filled in by flightdeck).
    pub fn inputs(&self) -> Vec<&WorkflowInput> {
        shown(&self.workflow).collect()
    }

    fn fields(&self) -> usize {
        1 + self.values.len()
    }

    /// Handles a key.
    pub fn key(&mut self, key: &KeyEvent) -> FormKey {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Esc => return FormKey::Close,
            KeyCode::Char('s') if ctrl => return self.submit(),
            KeyCode::Enter => return self.submit(),
            KeyCode::Tab | KeyCode::Down => self.focus = (self.focus + 1) % self.fields(),
            KeyCode::BackTab | KeyCode::Up => {
                self.focus = (self.focus + self.fields() - 1) % self.fields()
            }
            KeyCode::Left | KeyCode::Right | KeyCode::Char(' ') if self.options().is_some() => {
                let opts = self.options().unwrap_or_default();
                let t = &mut self.values[self.focus - 1];
                let at = opts.iter().position(|o| *o == t.text).unwrap_or(0);
                let n = opts.len().max(1);
                let next = if key.code == KeyCode::Left {
                    (at + n - 1) % n
                } else {
                    (at + 1) % n
                };
                *t = TextBox::line(opts.get(next).map_or("", String::as_str));
            }
            _ if self.options().is_some() => {}
            _ => {
                let t = if self.focus == 0 {
                    &mut self.git_ref
                } else {
                    &mut self.values[self.focus - 1]
                };
                t.key(key);
            }
        }
        self.error = None;
        FormKey::Edit
    }

    /// The focused text box (none on a choice), for pastes.
    pub fn focused_text(&mut self) -> Option<&mut TextBox> {
        if self.options().is_some() {
            return None;
        }
        match self.focus {
            0 => Some(&mut self.git_ref),
            n => self.values.get_mut(n - 1),
        }
    }

    /// The options of the focused input, when it is a choice or a boolean.
    fn options(&self) -> Option<Vec<String>> {
        let i = self.inputs().get(self.focus.checked_sub(1)?).copied()?;
        match &i.kind {
            InputKind::Choice(o) => Some(o.clone()),
            InputKind::Boolean => Some(vec!["false".into(), "true".into()]),
            _ => None,
        }
    }

    fn submit(&mut self) -> FormKey {
        let git_ref = self.git_ref.text.trim().to_string();
        if git_ref.is_empty() || git_ref.starts_with('-') || git_ref.contains(char::is_whitespace) {
            self.error = Some("the ref is a branch or tag name".into());
            return FormKey::Edit;
        }
        let values: BTreeMap<String, String> = self
            .inputs()
            .iter()
            .zip(&self.values)
            .map(|(i, v)| (i.name.clone(), v.text.clone()))
            .collect();
        match self.workflow.check(&values) {
            Ok(v) => FormKey::Submit(git_ref, v),
            Err(e) => {
                self.error = Some(e);
                FormKey::Edit
            }
        }
    }
}

fn shown(w: &Workflow) -> impl Iterator<Item = &WorkflowInput> {
    w.inputs.iter().filter(|i| i.name != CORRELATION_INPUT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(f: &mut DispatchForm, code: KeyCode) -> FormKey {
        f.key(&KeyEvent::new(code, KeyModifiers::NONE))
    }

    #[test]
    fn typed_inputs_are_edited_and_checked() {
        let w = Workflow {
            repo: "a/b".into(),
            id: 1,
            name: "Deploy".into(),
            path: "p".into(),
            default_ref: "main".into(),
            correlated: true,
            inputs: vec![
                WorkflowInput {
                    name: "environment".into(),
                    description: String::new(),
                    required: true,
                    default: None,
                    kind: InputKind::Choice(vec!["staging".into(), "production".into()]),
                },
                WorkflowInput {
                    name: "replicas".into(),
                    description: String::new(),
                    required: false,
                    default: None,
                    kind: InputKind::Number,
                },
                WorkflowInput {
                    name: CORRELATION_INPUT.into(),
                    description: String::new(),
                    required: false,
                    default: None,
                    kind: InputKind::Text,
                },
            ],
        };
        let mut f = DispatchForm::new(w);
        assert_eq!(f.inputs().len(), 2, "the correlation input is not shown");
        assert_eq!(f.values[0].text, "staging");
        press(&mut f, KeyCode::Tab);
        press(&mut f, KeyCode::Right);
        assert_eq!(f.values[0].text, "production");
        press(&mut f, KeyCode::Char('x'));
        assert_eq!(f.values[0].text, "production", "a choice takes no typing");
        press(&mut f, KeyCode::Tab);
        press(&mut f, KeyCode::Char('x'));
        assert_eq!(press(&mut f, KeyCode::Enter), FormKey::Edit);
        assert_eq!(f.error.as_deref(), Some("replicas is a number"));
        press(&mut f, KeyCode::Backspace);
        press(&mut f, KeyCode::Char('3'));
        let FormKey::Submit(r, v) = press(&mut f, KeyCode::Enter) else {
            panic!("{:?}", f.error);
        };
        assert_eq!(r, "main");
        assert_eq!(v["environment"], "production");
        assert_eq!(v["replicas"], "3");
        assert_eq!(press(&mut f, KeyCode::Esc), FormKey::Close);
    }
}
