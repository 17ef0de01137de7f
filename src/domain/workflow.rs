//! Workflows a person may dispatch, with the typed inputs they declare.

use std::collections::BTreeMap;

use serde::Serialize;

/// What an input accepts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InputKind {
    /// Any text.
    Text,
    /// A number.
    Number,
    /// `true` or `false`.
    Boolean,
    /// One of these options.
    Choice(Vec<String>),
    /// The name of a deployment environment.
    Environment,
}

/// One input of a workflow.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WorkflowInput {
    /// Its name.
    pub name: String,
    /// What it is for.
    pub description: String,
    /// Whether it must be given.
    pub required: bool,
    /// Its default value.
    pub default: Option<String>,
    /// What it accepts.
    pub kind: InputKind,
}

/// A workflow that can be dispatched by hand.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Workflow {
    /// `owner/name`.
    pub repo: String,
    /// Workflow id.
    pub id: u64,
    /// Its name.
    pub name: String,
    /// Its file (`.github/workflows/deploy.yml`).
    pub path: String,
    /// The branch dispatches run on unless another is given.
    pub default_ref: String,
    /// Its inputs, in declaration order.
    pub inputs: Vec<WorkflowInput>,
    /// Its runs carry the `flightdeck_id` input in their title (`run-name`), so the run of a
    /// dispatch is found exactly.
    pub correlated: bool,
}

impl WorkflowInput {
    /// Checks one value; the value sent (booleans and numbers normalised).
    pub fn check(&self, value: &str) -> Result<String, String> {
        let v = value.trim();
        if v.is_empty() {
            return match &self.default {
                _ if self.required && self.default.is_none() => {
                    Err(format!("{} is required", self.name))
                }
                Some(d) => Ok(d.clone()),
                None => Ok(String::new()),
            };
        }
        match &self.kind {
            InputKind::Boolean => match v {
                "true" | "yes" | "y" | "1" => Ok("true".into()),
                "false" | "no" | "n" | "0" => Ok("false".into()),
                _ => Err(format!("{} is true or false", self.name)),
            },
            InputKind::Number => v
                .parse::<f64>()
                .ok()
                .filter(|n| n.is_finite())
                .map(|_| v.to_string())
                .ok_or_else(|| format!("{} is a number", self.name)),
            InputKind::Choice(options) if !options.iter().any(|o| o == v) => {
                Err(format!("{} is one of: {}", self.name, options.join(", ")))
            }
            _ => Ok(v.to_string()),
        }
    }
}

impl Workflow {
    /// Checks every value against its input; the inputs to send.
    pub fn check(
        &self,
        values: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>, String> {
        if let Some(k) = values
            .keys()
            .find(|k| !self.inputs.iter().any(|i| &i.name == *k))
        {
            return Err(format!("{} has no input {k}", self.name));
        }
        let mut out = BTreeMap::new();
        for i in &self.inputs {
            let v = i.check(values.get(&i.name).map_or("", String::as_str))?;
            if !v.is_empty() {
                out.insert(i.name.clone(), v);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(name: &str, kind: InputKind, required: bool, default: Option<&str>) -> WorkflowInput {
        WorkflowInput {
            name: name.into(),
            description: String::new(),
            required,
            default: default.map(String::from),
            kind,
        }
    }

    #[test]
    fn inputs_are_checked_by_type() {
        let w = Workflow {
            repo: "a/b".into(),
            id: 1,
            name: "Deploy".into(),
            path: "x".into(),
            default_ref: "main".into(),
            correlated: false,
            inputs: vec![
                input(
                    "env",
                    InputKind::Choice(vec!["staging".into(), "prod".into()]),
                    true,
                    None,
                ),
                input("dry", InputKind::Boolean, false, Some("false")),
                input("replicas", InputKind::Number, false, None),
            ],
        };
        let mut v = BTreeMap::new();
        assert_eq!(w.check(&v).unwrap_err(), "env is required");
        v.insert("env".into(), "qa".into());
        assert!(w.check(&v).unwrap_err().contains("one of: staging, prod"));
        v.insert("env".into(), "prod".into());
        v.insert("replicas".into(), "three".into());
        assert_eq!(w.check(&v).unwrap_err(), "replicas is a number");
        v.insert("replicas".into(), "3".into());
        v.insert("dry".into(), "yes".into());
        let out = w.check(&v).unwrap();
        assert_eq!(out["dry"], "true");
        assert_eq!(out["replicas"], "3");
        v.insert("nope".into(), "1".into());
        assert!(w.check(&v).is_err());
    }
}
