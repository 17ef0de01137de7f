//! `flightdeck silence list|add|expire`: Alertmanager silences from the command line; adding
//! and expiring go through the gate (audited, refused in read-only mode).

use color_eyre::eyre::Result;

use crate::config::ProviderKind;
use crate::engine::health::silence;
use crate::workspace::{UsageError, Workspace};

/// The alertmanager provider named, or the only one configured.
pub fn provider(ws: &Workspace, id: Option<&str>) -> Result<silence::Alertmanager, UsageError> {
    let ams: Vec<_> = ws
        .loaded
        .config
        .providers
        .iter()
        .filter(|p| p.kind == ProviderKind::Alertmanager)
        .filter(|p| id.is_none_or(|i| i == p.id))
        .collect();
    match ams.as_slice() {
        [p] => Ok(silence::Alertmanager::new(&ws.loaded.config.http, p)),
        [] => Err(UsageError(match id {
            Some(i) => format!("no alertmanager provider {i:?}"),
            None => "no alertmanager provider configured".into(),
        })),
        _ => Err(UsageError(
            "several alertmanager providers: name one with --provider".into(),
        )),
    }
}

/// Lists silences.
pub async fn list(ws: &Workspace, id: Option<&str>) -> Result<String> {
    let am = provider(ws, id)?;
    let mut out = String::new();
    for s in silence::list(&am).await? {
        let clean = |t: &str| crate::ui::text::clean(t).into_owned();
        let s = silence::Silence {
            id: clean(&s.id),
            state: clean(&s.state),
            matchers: s.matchers.iter().map(|m| clean(m)).collect(),
            created_by: clean(&s.created_by),
            comment: clean(&s.comment),
            ends_at: clean(&s.ends_at),
        };
        out.push_str(&format!(
            "{}  {:<8} until {}  {}  by {}{}\n",
            s.id,
            s.state,
            s.ends_at,
            s.matchers.join(","),
            s.created_by,
            if s.comment.is_empty() {
                String::new()
            } else {
                format!(": {}", s.comment)
            }
        ));
    }
    if out.is_empty() {
        out.push_str("no silences\n");
    }
    Ok(out)
}

/// Creates a silence through the gate; its id.
pub async fn add(
    ws: &Workspace,
    id: Option<&str>,
    matchers: &[String],
    hours: u64,
    comment: &str,
) -> Result<String> {
    let am = provider(ws, id)?;
    let m = silence::parse_matchers(matchers).map_err(UsageError)?;
    if !(1..=720).contains(&hours) {
        return Err(UsageError("--hours must be between 1 and 720".into()).into());
    }
    let detail = format!("{} for {hours}h", matchers.join(","));
    let comment = if comment.is_empty() {
        format!("silenced from flightdeck by {}", ws.actor)
    } else {
        comment.to_string()
    };
    let fut = silence::create(&am, &m, hours, &ws.actor, &comment);
    ws.gate
        .run("create_silence", &am.id, &detail, fut)
        .await
        .map_err(|e| UsageError(e.to_string()).into())
}

/// Expires a silence through the gate.
pub async fn expire(ws: &Workspace, id: Option<&str>, silence_id: &str) -> Result<()> {
    let am = provider(ws, id)?;
    let fut = silence::expire(&am, silence_id);
    ws.gate
        .run("expire_silence", &am.id, silence_id, fut)
        .await
        .map_err(|e| UsageError(e.to_string()))?;
    Ok(())
}
