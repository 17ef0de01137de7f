//! A GitHub REST API on a loopback wiremock server, with state: issues, comments, labels,
//! workflow runs and jobs, ETags that change when the data does, pagination by `Link`, rate-limit
//! headers, and failures to inject. Payloads follow GitHub's documented shapes.
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub at_ms: i64,
    pub method: String,
    pub path: String,
    pub conditional: bool,
    pub status: u16,
    pub auth: Option<String>,
}

/// What the fake holds.
#[derive(Default)]
pub struct State {
    pub base: String,
    pub issues: HashMap<String, Vec<Value>>,
    pub comments: HashMap<String, Vec<Value>>,
    pub runs: HashMap<String, Vec<Value>>,
    pub jobs: HashMap<u64, Vec<Value>>,
    /// Bumped on every change of a repo's data: part of its ETags.
    pub version: HashMap<String, u64>,
    /// Answers to give instead of the real one, in order.
    pub inject: VecDeque<ResponseTemplate>,
    /// Rate-limited until this Unix time: every request gets a 403.
    pub limited_until: Option<i64>,
    /// Every answer is held this long (a provider that stops answering).
    pub hang: Option<std::time::Duration>,
    /// The next issue create succeeds but its answer is a 502 (a lost answer).
    pub lose_next_create: bool,
    pub seen: Vec<Seen>,
    pub remaining: i64,
    /// Workflow files by repo: (id, name, path, YAML).
    pub workflows: HashMap<String, Vec<(u64, String, String, String)>>,
    /// How a dispatch is answered: `run_id` (200 with the run), `no_content` (204), `slow`
    /// (the run starts but the answer comes after 3 s), `never` (204 and no run ever starts).
    pub dispatch_mode: String,
    /// Dispatch bodies received.
    pub dispatches: Vec<Value>,
    /// How dispatched runs end (a second after they start), by run id.
    pub outcome: HashMap<u64, &'static str>,
    /// Deployments by repo (newest first), and the deployment each dispatched run makes.
    pub deployments: HashMap<String, Vec<Value>>,
    pub run_deployment: HashMap<u64, u64>,
    pub deployment_status: HashMap<u64, String>,
    next_id: u64,
}

/// A running fake.
pub struct FakeGithub {
    pub server: MockServer,
    pub state: Arc<Mutex<State>>,
}

struct Handler(Arc<Mutex<State>>);

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn iso(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn user(login: &str) -> Value {
    json!({"login": login, "id": 1, "type": "User", "html_url": format!("https://github.com/{login}")})
}

/// A sandbox whose config has the fake GitHub as provider `gh` for `acme/api`, feeding `panes`
/// (`backlog`, `builds`); `provider` adds keys to the provider, `rest` adds tables after it.
pub fn gh_workspace(
    gh: &FakeGithub,
    panes: &[&str],
    provider: &str,
    rest: &str,
) -> crate::common::Sandbox {
    let sb = crate::common::Sandbox::new();
    let mut cfg = String::new();
    for p in panes {
        cfg.push_str(&format!("[{p}]\nprovider = \"gh\"\n"));
    }
    cfg.push_str(&format!(
        "[[providers]]\nid = \"gh\"\nkind = \"github\"\nrepos = [\"acme/api\"]\napi_url = \"{}\"\n{provider}\n{rest}",
        gh.url()
    ));
    crate::common::fleet::write_config(&sb, &cfg);
    sb
}

/// GitHub's answer to a token it refuses.
pub fn bad_credentials() -> ResponseTemplate {
    ResponseTemplate::new(401).set_body_json(json!({"message": "Bad credentials"}))
}

impl FakeGithub {
    pub async fn start() -> FakeGithub {
        let server = MockServer::start().await;
        let state = Arc::new(Mutex::new(State {
            base: server.uri(),
            remaining: 5000,
            next_id: 1000,
            dispatch_mode: "run_id".into(),
            ..State::default()
        }));
        Mock::given(any())
            .respond_with(Handler(Arc::clone(&state)))
            .mount(&server)
            .await;
        FakeGithub { server, state }
    }

    pub fn url(&self) -> String {
        self.server.uri()
    }

    /// Adds an issue (or pull request) to `repo`; returns its number.
    pub fn add_issue(&self, repo: &str, title: &str, labels: &[&str], pr: bool) -> u64 {
        let mut s = self.state.lock().unwrap();
        s.add_issue(repo, title, "", labels, pr)
    }

    /// Adds a workflow run with one job of two steps.
    pub fn add_run(&self, repo: &str, name: &str, status: &str, conclusion: Option<&str>) -> u64 {
        let mut s = self.state.lock().unwrap();
        s.next_id += 1;
        let id = s.next_id;
        let t = now_ms() / 1000 - 600;
        let n = s.runs.get(repo).map_or(0, |r| r.len()) as u64 + 1;
        let run = json!({
            "id": id, "name": name, "run_number": n, "status": status, "conclusion": conclusion,
            "head_branch": "main", "head_sha": "0123456789abcdef0123456789abcdef01234567",
            "event": "push", "actor": user("octocat"), "triggering_actor": user("octocat"),
            "run_started_at": iso(t), "created_at": iso(t), "updated_at": iso(t + 90),
            "html_url": format!("https://github.com/{repo}/actions/runs/{id}"),
            "workflow_id": 7, "run_attempt": 1,
        });
        s.runs.entry(repo.into()).or_default().insert(0, run);
        s.jobs.insert(id, vec![json!({
            "id": id * 10, "run_id": id, "name": "build", "status": status, "conclusion": conclusion,
            "started_at": iso(t), "completed_at": conclusion.map(|_| iso(t + 90)),
            "steps": [
                {"name": "Set up job", "status": "completed", "conclusion": "success", "number": 1,
                 "started_at": iso(t), "completed_at": iso(t + 2)},
                {"name": "cargo test", "status": status, "conclusion": conclusion, "number": 2,
                 "started_at": iso(t + 2), "completed_at": conclusion.map(|_| iso(t + 90))},
            ]
        })]);
        s.bump(&format!("{repo}/runs"));
        id
    }

    /// Adds a workflow file to `repo`.
    pub fn add_workflow(&self, repo: &str, id: u64, name: &str, yaml: &str) {
        let mut s = self.state.lock().unwrap();
        let path = format!(".github/workflows/{}.yml", name.to_lowercase());
        s.workflows
            .entry(repo.into())
            .or_default()
            .push((id, name.into(), path, yaml.into()));
    }

    /// Runs started by someone else through a dispatch of workflow `wid`.
    pub fn add_dispatch_run(&self, repo: &str, wid: u64, title: &str) -> u64 {
        let mut s = self.state.lock().unwrap();
        s.dispatch_run(repo, wid, title)
    }

    /// Every request seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }

    /// The issues of a repo as stored.
    pub fn issues(&self, repo: &str) -> Vec<Value> {
        self.state
            .lock()
            .unwrap()
            .issues
            .get(repo)
            .cloned()
            .unwrap_or_default()
    }
}

impl State {
    pub fn bump(&mut self, repo: &str) {
        *self.version.entry(repo.to_string()).or_default() += 1;
    }

    pub fn add_issue(
        &mut self,
        repo: &str,
        title: &str,
        body: &str,
        labels: &[&str],
        pr: bool,
    ) -> u64 {
        let list = self.issues.entry(repo.to_string()).or_default();
        let n = list.len() as u64 + 1;
        let t = now_ms() / 1000;
        let mut v = json!({
            "id": 5000 + n, "node_id": "I_x", "number": n, "title": title, "body": body,
            "state": "open", "locked": false,
            "labels": labels.iter().map(|l| json!({"name": l, "color": "ededed"})).collect::<Vec<_>>(),
            "user": user("octocat"), "assignee": null, "assignees": [],
            "comments": 0, "created_at": iso(t), "updated_at": iso(t),
            "html_url": format!("https://github.com/{repo}/issues/{n}"),
        });
        if pr {
            v["pull_request"] = json!({"url": "x"});
        }
        list.insert(0, v);
        self.bump(repo);
        n
    }

    pub fn dispatch_run(&mut self, repo: &str, wid: u64, title: &str) -> u64 {
        self.next_id += 1;
        let id = self.next_id;
        let t = now_ms() / 1000;
        let n = self.runs.get(repo).map_or(0, |r| r.len()) as u64 + 1;
        let run = json!({
            "id": id, "name": "Deploy", "display_title": title, "run_number": n, "status": "queued",
            "conclusion": null, "head_branch": "main", "head_sha": "89abcdef0123456789abcdef0123456789abcdef",
            "event": "workflow_dispatch", "workflow_id": wid, "actor": user("octocat"),
            "run_started_at": iso(t), "created_at": iso(t), "updated_at": iso(t),
        });
        self.runs
            .entry(repo.to_string())
            .or_default()
            .insert(0, run);
        self.jobs.insert(id, vec![]);
        self.bump(&format!("{repo}/runs"));
        id
    }

    /// An ETag that changes with the data behind `key` and differs between URLs (query too).
    fn etag(&self, key: &str, url: &str) -> String {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        url.hash(&mut h);
        format!(
            "W/\"{}-{:x}\"",
            self.version.get(key).copied().unwrap_or(0),
            h.finish()
        )
    }
}

fn query(req: &Request, name: &str) -> Option<String> {
    req.url
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.to_string())
}

/// The issue numbered `n` (as the path spells it) in `repo`.
fn issue_mut<'a>(s: &'a mut State, repo: &str, n: &str) -> Option<&'a mut Value> {
    let n: u64 = n.parse().ok()?;
    s.issues
        .get_mut(repo)?
        .iter_mut()
        .find(|i| i["number"].as_u64() == Some(n))
}

fn repo_of(segs: &[&str]) -> String {
    format!("{}/{}", segs[1], segs[2])
}

impl Respond for Handler {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut s = self.0.lock().unwrap();
        let path = req.url.path().to_string();
        let inm = req
            .headers
            .get("if-none-match")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let auth = req
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let mut res = respond(&mut s, req, &path, inm.as_deref());
        if let Some(d) = s.hang {
            res.0 = res.0.set_delay(d);
        }
        let now = now_ms();
        let status = res.1;
        s.seen.push(Seen {
            at_ms: now,
            method: req.method.to_string(),
            path: format!(
                "{}{}",
                path,
                req.url.query().map(|q| format!("?{q}")).unwrap_or_default()
            ),
            conditional: inm.is_some(),
            status,
            auth,
        });
        res.0
    }
}

fn limits(t: ResponseTemplate, s: &State) -> ResponseTemplate {
    t.insert_header("x-ratelimit-limit", "5000")
        .insert_header("x-ratelimit-remaining", s.remaining.to_string().as_str())
        .insert_header(
            "x-ratelimit-reset",
            (now_ms() / 1000 + 3600).to_string().as_str(),
        )
        .insert_header("x-oauth-scopes", "repo, workflow")
}

fn respond(s: &mut State, req: &Request, path: &str, inm: Option<&str>) -> (ResponseTemplate, u16) {
    let now = now_ms() / 1000;
    if let Some(until) = s.limited_until {
        if now < until {
            let t = ResponseTemplate::new(403)
                .insert_header("x-ratelimit-limit", "5000")
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-reset", until.to_string().as_str())
                .set_body_json(json!({"message": "API rate limit exceeded for user ID 1.", "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"}));
            return (t, 403);
        }
        s.limited_until = None;
    }
    if let Some(t) = s.inject.pop_front() {
        return (t, 0);
    }
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let method = req.method.as_str();
    let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
    // Conditional GETs of unchanged data: 304, not counted against the budget.
    let full = format!("{path}?{}", req.url.query().unwrap_or(""));
    let cond = |s: &State, key: &str, v: Value| -> (ResponseTemplate, u16) {
        let etag = s.etag(key, &full);
        if inm == Some(etag.as_str()) {
            return (
                limits(ResponseTemplate::new(304), s).insert_header("etag", etag.as_str()),
                304,
            );
        }
        (
            limits(ResponseTemplate::new(200), s)
                .insert_header("etag", etag.as_str())
                .set_body_json(v),
            200,
        )
    };
    match (method, segs.as_slice()) {
        ("GET", ["repos", _, _, "issues"]) => {
            let repo = repo_of(&segs);
            let mut list: Vec<Value> = s.issues.get(&repo).cloned().unwrap_or_default();
            if let Some(l) = query(req, "labels") {
                list.retain(|i| i["labels"].as_array().unwrap().iter().any(|x| x["name"] == l.as_str()));
            }
            if query(req, "state").as_deref() == Some("open") {
                list.retain(|i| i["state"] == "open");
            }
            let per: usize = query(req, "per_page").and_then(|p| p.parse().ok()).unwrap_or(30);
            let page: usize = query(req, "page").and_then(|p| p.parse().ok()).unwrap_or(1);
            let chunk: Vec<Value> = list.iter().skip((page - 1) * per).take(per).cloned().collect();
            s.remaining -= 1;
            let (mut t, st) = cond(s, &repo, Value::Array(chunk));
            if page * per < list.len() {
                let mut url = req.url.clone();
                let pairs: Vec<(String, String)> = url
                    .query_pairs()
                    .filter(|(k, _)| k != "page")
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
                url.query_pairs_mut().clear().extend_pairs(pairs).append_pair("page", &(page + 1).to_string());
                t = t.insert_header("link", format!("<{}>; rel=\"next\"", url).as_str());
            }
            (t, st)
        }
        ("GET", ["repos", _, _, "issues", n]) => {
            let repo = repo_of(&segs);
            match issue_mut(s, &repo, n).map(|i| i.clone()) {
                Some(i) => cond(s, &repo, i),
                None => (ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"})), 404),
            }
        }
        ("POST", ["repos", _, _, "issues"]) => {
            let repo = repo_of(&segs);
            let labels: Vec<String> = body["labels"].as_array().map(|a| a.iter().filter_map(|l| l.as_str().map(String::from)).collect()).unwrap_or_default();
            let lr: Vec<&str> = labels.iter().map(String::as_str).collect();
            let n = s.add_issue(&repo, body["title"].as_str().unwrap_or(""), body["body"].as_str().unwrap_or(""), &lr, false);
            s.remaining -= 1;
            if s.lose_next_create {
                s.lose_next_create = false;
                return (ResponseTemplate::new(502).set_body_string("<html><head><title>502 Bad Gateway</title></head></html>"), 502);
            }
            let i = s.issues[&repo].iter().find(|i| i["number"] == n).cloned().unwrap();
            (limits(ResponseTemplate::new(201), s).set_body_json(i), 201)
        }
        ("PATCH", ["repos", _, _, "issues", n]) => {
            let repo = repo_of(&segs);
            let t = iso(now);
            let Some(i) = issue_mut(s, &repo, n) else {
                return (ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"})), 404);
            };
            for k in ["title", "body", "state"] {
                if let Some(v) = body.get(k) {
                    i[k] = v.clone();
                }
            }
            if let Some(l) = body.get("labels").and_then(|l| l.as_array()) {
                i["labels"] = Value::Array(l.iter().map(|n| json!({"name": n})).collect());
            }
            if let Some(a) = body.get("assignees").and_then(|a| a.as_array()) {
                i["assignee"] = a.first().map(|l| user(l.as_str().unwrap())).unwrap_or(Value::Null);
                i["assignees"] = Value::Array(a.iter().map(|l| user(l.as_str().unwrap())).collect());
            }
            i["updated_at"] = json!(t);
            let out = i.clone();
            s.bump(&repo);
            (limits(ResponseTemplate::new(200), s).set_body_json(out), 200)
        }
        ("POST" | "PUT", ["repos", _, _, "issues", n, "labels"]) => {
            let repo = repo_of(&segs);
            let Some(i) = issue_mut(s, &repo, n) else {
                return (ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"})), 404);
            };
            let new: Vec<Value> = body["labels"].as_array().cloned().unwrap_or_default();
            let mut names: Vec<String> = if method == "PUT" { Vec::new() } else {
                i["labels"].as_array().unwrap().iter().map(|l| l["name"].as_str().unwrap().to_string()).collect()
            };
            names.extend(new.iter().filter_map(|l| l.as_str().map(String::from)));
            names.sort();
            names.dedup();
            i["labels"] = Value::Array(names.iter().map(|n| json!({"name": n})).collect());
            let out = i["labels"].clone();
            s.bump(&repo);
            (limits(ResponseTemplate::new(200), s).set_body_json(out), 200)
        }
        ("GET", ["repos", _, _, "issues", n, "comments"]) => {
            let repo = repo_of(&segs);
            let key = format!("{repo}#{n}");
            let list = s.comments.get(&key).cloned().unwrap_or_default();
            cond(s, &repo, Value::Array(list))
        }
        ("POST", ["repos", _, _, "issues", n, "comments"]) => {
            let repo = repo_of(&segs);
            let key = format!("{repo}#{n}");
            let c = json!({"id": now_ms(), "body": body["body"], "user": user("flightdeck-bot"), "created_at": iso(now), "updated_at": iso(now)});
            s.comments.entry(key).or_default().push(c.clone());
            if let Some(i) = issue_mut(s, &repo, n) {
                i["comments"] = json!(i["comments"].as_u64().unwrap_or(0) + 1);
            }
            s.bump(&repo);
            (limits(ResponseTemplate::new(201), s).set_body_json(c), 201)
        }
        ("GET", ["repos", _, _, "actions", "runs"]) => {
            let repo = repo_of(&segs);
            let mut list = s.runs.get(&repo).cloned().unwrap_or_default();
            if let Some(b) = query(req, "branch") {
                list.retain(|r| r["head_branch"] == b.as_str());
            }
            s.remaining -= 1;
            let n = list.len();
            cond(s, &format!("{repo}/runs"), json!({"total_count": n, "workflow_runs": list}))
        }
        ("GET", ["repos", _, _, "actions", "runs", id, "jobs"]) => {
            let id: u64 = id.parse().unwrap_or(0);
            let jobs = s.jobs.get(&id).cloned().unwrap_or_default();
            s.remaining -= 1;
            let repo = repo_of(&segs);
            cond(s, &format!("{repo}/runs"), json!({"total_count": jobs.len(), "jobs": jobs}))
        }
        ("GET", ["repos", _, _]) => {
            let repo = repo_of(&segs);
            (limits(ResponseTemplate::new(200), s).set_body_json(json!({"id": 1, "full_name": repo, "private": true, "default_branch": "main"})), 200)
        }
        ("POST", ["repos", _, _, "actions", "runs", id, verb]) => {
            let id: u64 = id.parse().unwrap_or(0);
            let repo = repo_of(&segs);
            let Some(run) = s.runs.get_mut(&repo).and_then(|l| l.iter_mut().find(|r| r["id"] == id)) else {
                return (ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"})), 404);
            };
            let done = run["status"] == "completed";
            match *verb {
                "cancel" if done => return (ResponseTemplate::new(409).set_body_json(json!({"message": "Cannot cancel a workflow run that is completed."})), 409),
                "cancel" => {
                    run["status"] = json!("completed");
                    run["conclusion"] = json!("cancelled");
                }
                "rerun" | "rerun-failed-jobs" if done => {
                    run["status"] = json!("queued");
                    run["conclusion"] = Value::Null;
                    run["run_started_at"] = json!(iso(now));
                    run["run_attempt"] = json!(run["run_attempt"].as_u64().unwrap_or(1) + 1);
                }
                _ => return (ResponseTemplate::new(403).set_body_json(json!({"message": "This workflow is already running"})), 403),
            }
            run["updated_at"] = json!(iso(now + 1));
            s.bump(&format!("{repo}/runs"));
            let code = if *verb == "cancel" { 202 } else { 201 };
            (limits(ResponseTemplate::new(code), s).set_body_json(json!({})), code)
        }
        ("GET", ["repos", _, _, "actions", "jobs", id, "logs"]) => {
            let url = format!("{}/_blob/job-logs/{id}?sig=abc", s.base);
            (limits(ResponseTemplate::new(302), s).insert_header("location", url.as_str()), 302)
        }
        ("GET", ["_blob", "job-logs", id]) => {
            let text = format!(
                "2026-11-28T10:00:00.0000000Z ##[group]Run cargo test\n2026-11-28T10:00:01.0000000Z test ok for job {id}\n2026-11-28T10:00:02.0000000Z \u{1b}]0;pwned\u{7}error: test failed\n"
            );
            (ResponseTemplate::new(200).set_body_string(text), 200)
        }
        ("GET", ["repos", _, _, "actions", "workflows"]) => {
            let repo = repo_of(&segs);
            let list: Vec<Value> = s.workflows.get(&repo).into_iter().flatten().map(|(id, name, path, _)| {
                json!({"id": id, "node_id": "W_x", "name": name, "path": path, "state": "active",
                       "html_url": format!("https://github.com/{repo}/blob/main/{path}")})
            }).collect();
            cond(s, &format!("{repo}/workflows"), json!({"total_count": list.len(), "workflows": list}))
        }
        ("GET", ["repos", _, _, "contents", rest @ ..]) => {
            use base64::Engine as _;
            let repo = repo_of(&segs);
            let path = rest.join("/");
            match s.workflows.get(&repo).into_iter().flatten().find(|w| w.2 == path) {
                Some(w) => {
                    let b64 = base64::engine::general_purpose::STANDARD.encode(&w.3);
                    // GitHub wraps the base64 at 60 columns.
                    let wrapped: Vec<String> = b64.as_bytes().chunks(60).map(|c| String::from_utf8_lossy(c).into_owned()).collect();
                    cond(s, &format!("{repo}/workflows"), json!({"type": "file", "encoding": "base64", "path": path, "content": wrapped.join("\n")}))
                }
                None => (ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"})), 404),
            }
        }
        ("POST", ["repos", _, _, "actions", "workflows", wid, "dispatches"]) => {
            let repo = repo_of(&segs);
            let wid: u64 = wid.parse().unwrap_or(0);
            s.dispatches.push(body.clone());
            let title = format!(
                "Deploy {} {}",
                body["inputs"]["environment"].as_str().unwrap_or(""),
                body["inputs"]["flightdeck_id"].as_str().unwrap_or("")
            );
            // A deploy workflow: version `bad` fails, any other succeeds, a second after it starts.
            let fails = body["inputs"]["version"] == "bad";
            match s.dispatch_mode.as_str() {
                "run_id" => {
                    let id = s.dispatch_run(&repo, wid, &title);
                    s.outcome.insert(id, if fails { "failure" } else { "success" });
                    // A job with `environment:` records a deployment, in progress until the run ends.
                    if let Some(env) = body["inputs"]["environment"].as_str() {
                        s.next_id += 1;
                        let dep = s.next_id;
                        let d = json!({
                            "id": dep, "ref": body["ref"], "sha": "89abcdef0123456789abcdef0123456789abcdef",
                            "environment": env, "creator": user("github-actions[bot]"),
                            "created_at": iso(now), "description": format!("version {}", body["inputs"]["version"].as_str().unwrap_or("")),
                        });
                        s.deployments.entry(repo.clone()).or_default().insert(0, d);
                        s.run_deployment.insert(id, dep);
                        s.deployment_status.insert(dep, "in_progress".into());
                    }
                    (limits(ResponseTemplate::new(200), s).set_body_json(json!({"workflow_run_id": id, "run_url": format!("{}/repos/{repo}/actions/runs/{id}", s.base), "html_url": format!("https://github.com/{repo}/actions/runs/{id}")})), 200)
                }
                "no_content" => {
                    s.dispatch_run(&repo, wid, &title);
                    (limits(ResponseTemplate::new(204), s), 204)
                }
                "slow" => {
                    s.dispatch_run(&repo, wid, &title);
                    (limits(ResponseTemplate::new(204), s).set_delay(std::time::Duration::from_secs(3)), 204)
                }
                "reject" => (
                    ResponseTemplate::new(422).set_body_json(json!({"message": "Unexpected inputs provided: [\"nope\"]"})),
                    422,
                ),
                _ => (limits(ResponseTemplate::new(204), s), 204),
            }
        }
        ("GET", ["repos", _, _, "actions", "workflows", name]) => {
            let repo = repo_of(&segs);
            match s.workflows.get(&repo).into_iter().flatten().find(|w| w.0.to_string() == *name || w.2.ends_with(&format!("/{name}"))) {
                Some((id, wname, path, _)) => {
                    let v = json!({"id": id, "name": wname, "path": path, "state": "active"});
                    cond(s, &format!("{repo}/workflows"), v)
                }
                None => (ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"})), 404),
            }
        }
        ("GET", ["repos", _, _, "actions", "runs", id]) => {
            let repo = repo_of(&segs);
            let id: u64 = id.parse().unwrap_or(0);
            let end = s.outcome.get(&id).copied();
            let Some(run) = s.runs.get_mut(&repo).and_then(|l| l.iter_mut().find(|r| r["id"] == id)) else {
                return (ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"})), 404);
            };
            let started = chrono::DateTime::parse_from_rfc3339(run["created_at"].as_str().unwrap()).unwrap().timestamp();
            let mut ended = None;
            if let Some(c) = end.filter(|_| now > started && run["status"] != "completed") {
                run["status"] = json!("completed");
                run["conclusion"] = json!(c);
                run["updated_at"] = json!(iso(now));
                ended = Some(c);
            }
            let v = run.clone();
            if ended.is_some() {
                // The run changed: lists of runs change their ETag too.
                s.bump(&format!("{repo}/runs"));
            }
            if let (Some(c), Some(dep)) = (ended, s.run_deployment.get(&id).copied()) {
                s.deployment_status.insert(dep, c.to_string());
            }
            (limits(ResponseTemplate::new(200), s).set_body_json(v), 200)
        }
        ("GET", ["repos", _, _, "actions", "workflows", wid, "runs"]) => {
            let repo = repo_of(&segs);
            let wid: u64 = wid.parse().unwrap_or(0);
            let mut list = s.runs.get(&repo).cloned().unwrap_or_default();
            list.retain(|r| r["workflow_id"] == wid);
            if let Some(e) = query(req, "event") {
                list.retain(|r| r["event"] == e.as_str());
            }
            let n = list.len();
            (limits(ResponseTemplate::new(200), s).set_body_json(json!({"total_count": n, "workflow_runs": list})), 200)
        }
        ("GET", ["search", "issues"]) => {
            // The qualifiers the tests use: repo:, is:open|closed, is:issue, label:, assignee:.
            let q = query(req, "q").unwrap_or_default();
            let mut found = Vec::new();
            for (repo, list) in &s.issues {
                for i in list {
                    let ok = q.split_whitespace().all(|t| match t.split_once(':') {
                        Some(("repo", _)) => q.split_whitespace().any(|x| x == format!("repo:{repo}")),
                        Some(("is", "open")) => i["state"] == "open",
                        Some(("is", "closed")) => i["state"] == "closed",
                        Some(("is", "issue")) => i.get("pull_request").is_none(),
                        Some(("label", l)) => i["labels"].as_array().unwrap().iter().any(|x| x["name"] == l),
                        Some(("assignee", a)) => i["assignee"]["login"] == a,
                        _ => i["title"].as_str().unwrap().to_lowercase().contains(&t.to_lowercase()),
                    });
                    if ok {
                        let mut v = i.clone();
                        v["repository_url"] = json!(format!("{}/repos/{repo}", s.base));
                        found.push(v);
                    }
                }
            }
            let n = found.len();
            // Any change anywhere changes a search's ETag.
            let all: u64 = s.version.iter().filter(|(k, _)| *k != "search").map(|(_, v)| v).sum();
            s.version.insert("search".into(), all);
            cond(s, "search", json!({"total_count": n, "incomplete_results": false, "items": found}))
        }
        ("GET", ["repos", _, _, "releases"]) => {
            let list = json!([
                {"id": 2, "tag_name": "v2", "name": "v2", "draft": false, "prerelease": false, "published_at": iso(now - 3600)},
                {"id": 3, "tag_name": "v3-draft", "name": "wip", "draft": true, "prerelease": false, "published_at": null},
                {"id": 1, "tag_name": "v1", "name": "v1", "draft": false, "prerelease": false, "published_at": iso(now - 7200)},
            ]);
            (limits(ResponseTemplate::new(200), s).set_body_json(list), 200)
        }
        ("GET", ["repos", _, _, "deployments"]) => {
            let repo = repo_of(&segs);
            let mut list = s.deployments.get(&repo).cloned().unwrap_or_default();
            if let Some(e) = query(req, "environment") {
                list.retain(|d| d["environment"] == e.as_str());
            }
            let per: usize = query(req, "per_page").and_then(|p| p.parse().ok()).unwrap_or(30);
            list.truncate(per);
            (limits(ResponseTemplate::new(200), s).set_body_json(Value::Array(list)), 200)
        }
        ("GET", ["repos", _, _, "deployments", id, "statuses"]) => {
            let id: u64 = id.parse().unwrap_or(0);
            let list = match s.deployment_status.get(&id) {
                Some(st) => vec![json!({"id": id * 10, "state": st, "created_at": iso(now), "creator": user("github-actions[bot]")})],
                None => vec![],
            };
            (limits(ResponseTemplate::new(200), s).set_body_json(Value::Array(list)), 200)
        }
        ("GET", ["rate_limit"]) => (
            limits(ResponseTemplate::new(200), s).set_body_json(json!({"resources": {"core": {"limit": 5000, "remaining": s.remaining, "reset": now + 3600, "used": 5000 - s.remaining}}, "rate": {"limit": 5000, "remaining": s.remaining, "reset": now + 3600}})),
            200,
        ),
        _ => (ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest"})), 404),
    }
}
