//! The `ansible` engine against real Ansible: a 3-host local inventory, a rolling playbook
//! whose `serial` and `max_fail_percentage` come from the target's strategy; one host fails,
//! the deploy aborts and the touched hosts roll back.

mod common;

use common::Sandbox;
use common::fleet::{journal, target, versions, write_config};

const PLAYBOOK: &str = r#"
- hosts: web
  gather_facts: false
  serial: "{{ flightdeck_serial }}"
  max_fail_percentage: "{{ flightdeck_max_fail_percentage }}"
  tasks:
    - name: install
      ansible.builtin.copy:
        content: "{{ flightdeck_version }}"
        dest: "{{ lookup('env', 'OUT') }}/{{ inventory_hostname }}.version"
    - name: health
      ansible.builtin.fail:
        msg: "{{ inventory_hostname }} does not start {{ flightdeck_version }}"
      when: flightdeck_version == 'bad' and inventory_hostname == 'h2'
"#;

const INVENTORY: &str = "[web]\nh1\nh2\nh3\n\n[all:vars]\nansible_connection=local\nansible_python_interpreter=/usr/bin/python3\n";

#[test]
fn a_failing_host_aborts_the_rolling_playbook_and_the_touched_hosts_roll_back() {
    assert!(
        std::process::Command::new("ansible-playbook")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success()),
        "ansible-playbook is not installed (apt-get install ansible-core); .ci/run installs it"
    );
    let sb = Sandbox::new();
    let out = sb.path().join("out");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(sb.path().join("deploy.yml"), PLAYBOOK).unwrap();
    std::fs::write(sb.path().join("inv.ini"), INVENTORY).unwrap();
    write_config(
        &sb,
        &format!(
            r#"
[[targets]]
name = "web"
environment = "staging"
engine = "ansible"
inventory = "inv.ini"
ansible = {{ playbook = "deploy.yml" }}
env = {{ OUT = "{}", HOME = "{}" }}
"#,
            out.display(),
            sb.path().display()
        ),
    );
    let read = |h: &str| std::fs::read_to_string(out.join(format!("{h}.version"))).unwrap();

    let (code, o, e) = sb.run(&["deploy", "web", "good"]);
    assert_eq!(code, 0, "{o}{e}");
    assert!(o.contains("serial 1, max_fail_percentage 0"), "{o}");
    assert_eq!(
        [read("h1"), read("h2"), read("h3")],
        ["good", "good", "good"]
    );

    let (code, o, e) = sb.run(&["deploy", "web", "bad"]);
    assert_eq!(code, 1, "{o}{e}");
    assert!(o.contains("h2 does not start bad"), "{o}");
    assert!(o.contains(": rolled_back in"), "{o}");
    assert_eq!(
        [read("h1"), read("h2"), read("h3")],
        ["good", "good", "good"]
    );
    let s = sb.status(&[]);
    let t = target(&s, "web");
    assert_eq!(t["state"], "rolled_back");
    assert_eq!(versions(t), ["good", "good", "good"]);
    // Serial 1 and a budget of 0: h3 was never touched by the bad version.
    let j = journal(&sb.state().join("t/store.db"), 2);
    assert!(
        !j.iter().any(|(p, n, _, _)| p == "forward" && n == "h3"),
        "{j:?}"
    );
    for h in ["h1", "h2"] {
        assert!(
            j.iter()
                .any(|(p, n, s, st)| p == "rollback" && n == h && s == "rollback" && st == "ok"),
            "{h} rolled back: {j:?}"
        );
    }
}

/// A rolling update written the way Ansible's own documentation writes one: each host leaves
/// the balancer's pool (a task delegated to `lb1`), an old-version probe whose failure is
/// ignored, the install notifies a handler, the host rejoins the pool.
const ROLLING: &str = r#"
- hosts: web
  gather_facts: false
  serial: "{{ flightdeck_serial }}"
  max_fail_percentage: "{{ flightdeck_max_fail_percentage }}"
  pre_tasks:
    - name: take out of the pool
      ansible.builtin.file:
        path: "{{ lookup('env', 'OUT') }}/pool/{{ inventory_hostname }}"
        state: absent
      delegate_to: lb1
  tasks:
    - name: probe the running version
      ansible.builtin.command: "false"
      changed_when: false
      ignore_errors: true
    - name: warm the cache
      block:
        - name: try the fast path
          ansible.builtin.fail:
            msg: "no fast path on {{ inventory_hostname }}"
      rescue:
        - name: take the slow path
          ansible.builtin.debug:
            msg: slow path
    - name: install
      ansible.builtin.copy:
        content: "{{ flightdeck_version }}"
        dest: "{{ lookup('env', 'OUT') }}/{{ inventory_hostname }}.version"
      notify: restart
    - name: health
      ansible.builtin.fail:
        msg: "{{ inventory_hostname }} does not start {{ flightdeck_version }}"
      when: flightdeck_version == 'bad' and inventory_hostname == 'h2'
  handlers:
    - name: restart
      ansible.builtin.copy:
        content: "{{ flightdeck_version }}"
        dest: "{{ lookup('env', 'OUT') }}/{{ inventory_hostname }}.restarted"
  post_tasks:
    - name: back into the pool
      ansible.builtin.file:
        path: "{{ lookup('env', 'OUT') }}/pool/{{ inventory_hostname }}"
        state: touch
      delegate_to: lb1
"#;

const LOCAL: &str = "ansible_connection=local ansible_python_interpreter=/usr/bin/python3";

/// A sandbox with the rolling playbook, an inventory of `web` hosts and `lb1`, and a target.
fn rolling(web: &[&str], extra_inventory: &str) -> (Sandbox, std::path::PathBuf) {
    let sb = Sandbox::new();
    let out = sb.path().join("out");
    std::fs::create_dir_all(out.join("pool")).unwrap();
    std::fs::write(sb.path().join("deploy.yml"), ROLLING).unwrap();
    let hosts: String = web.iter().map(|h| format!("{h} {LOCAL}\n")).collect();
    std::fs::write(
        sb.path().join("inv.ini"),
        format!("[web]\n{hosts}{extra_inventory}\n[lb]\nlb1 ansible_host=127.0.0.1 {LOCAL}\n"),
    )
    .unwrap();
    let nodes: Vec<String> = web
        .iter()
        .chain(
            extra_inventory
                .split_whitespace()
                .take(1)
                .collect::<Vec<_>>()
                .iter(),
        )
        .map(|h| format!("\"{h}\""))
        .collect();
    write_config(
        &sb,
        &format!(
            r#"
[[targets]]
name = "web"
environment = "staging"
engine = "ansible"
inventory = "inv.ini"
nodes = [{}]
ansible = {{ playbook = "deploy.yml" }}
env = {{ OUT = "{}", HOME = "{}" }}
"#,
            nodes.join(", "),
            out.display(),
            sb.path().display()
        ),
    );
    (sb, out)
}

fn journal_details(db: &std::path::Path, id: i64) -> Vec<String> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare("SELECT phase, node, step, status, detail FROM deploy_journal WHERE deploy_id = ?1 ORDER BY seq")
        .unwrap();
    stmt.query_map([id], |r| {
        Ok(format!(
            "{} {} {} {} {}",
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, String>(4)?
        ))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

#[test]
fn a_documented_rolling_update_with_a_delegated_balancer_task_succeeds() {
    let (sb, out) = rolling(&["h1", "h2", "h3"], "");
    let (code, o, e) = sb.run(&["deploy", "web", "v2", "--yes"]);
    assert_eq!(code, 0, "{o}{e}");
    let s = sb.status(&[]);
    let t = target(&s, "web");
    assert_eq!(t["state"], "succeeded", "{o}");
    assert_eq!(versions(t), ["v2", "v2", "v2"]);
    for h in ["h1", "h2", "h3"] {
        assert!(out.join("pool").join(h).exists(), "{h} is back in the pool");
        assert!(
            out.join(format!("{h}.restarted")).exists(),
            "{h}'s handler ran"
        );
    }
    let j = journal_details(&sb.state().join("t/store.db"), 1);
    let has = |line: &str| j.iter().any(|l| l == line);
    assert!(
        has("forward h1 task:take out of the pool ok ok via lb1"),
        "{j:#?}"
    );
    assert!(
        j.iter()
            .any(|l| l
                .starts_with("forward h2 task:probe the running version ignored failed, ignored:")),
        "{j:#?}"
    );
    assert!(has("forward h3 handler:restart ok changed"), "{j:#?}");
    assert!(
        has("forward h3 task:back into the pool ok changed via lb1"),
        "{j:#?}"
    );
    assert!(has("forward h2 task:health skip skipped"), "{j:#?}");
    assert!(
        has("forward h2 task:try the fast path rescued failed, rescued: no fast path on h2"),
        "{j:#?}"
    );
    assert!(has("forward h2 task:take the slow path ok ok"), "{j:#?}");
    assert!(
        has("forward h1 errors handled ok 1 rescued, 1 ignored"),
        "{j:#?}"
    );
    for h in ["h1", "h2", "h3"] {
        assert!(has(&format!("forward {h} recap ok ")), "{j:#?}");
    }
    assert!(
        !j.iter().any(|l| l.contains(" lb1 ")),
        "lb1 is no host of the deploy: {j:#?}"
    );
}

#[test]
fn the_rolling_update_with_a_failing_host_stops_and_rolls_back() {
    let (sb, out) = rolling(&["h1", "h2", "h3"], "");
    let (code, o, e) = sb.run(&["deploy", "web", "v1", "--yes"]);
    assert_eq!(code, 0, "{o}{e}");
    let (code, o, e) = sb.run(&["deploy", "web", "bad", "--yes"]);
    assert_eq!(code, 1, "{o}{e}");
    assert!(o.contains("h2 does not start bad"), "{o}");
    let s = sb.status(&[]);
    let t = target(&s, "web");
    assert_eq!(t["state"], "rolled_back", "{o}");
    assert_eq!(versions(t), ["v1", "v1", "v1"]);
    let read = |h: &str| std::fs::read_to_string(out.join(format!("{h}.version"))).unwrap();
    assert_eq!([read("h1"), read("h2"), read("h3")], ["v1", "v1", "v1"]);
}

#[test]
fn an_unreachable_host_counts_against_the_budget() {
    let (sb, out) = rolling(&["h1", "h2", "h3"], &format!("h4 {LOCAL}\n"));
    let (code, o, e) = sb.run(&["deploy", "web", "v1", "--yes"]);
    assert_eq!(code, 0, "{o}{e}");
    // Now h4 is reached over ssh on a port where nothing listens.
    std::fs::write(
        sb.path().join("inv.ini"),
        format!(
            "[web]\nh1 {LOCAL}\nh2 {LOCAL}\nh3 {LOCAL}\nh4 ansible_connection=ssh ansible_host=127.0.0.1 ansible_port=1 ansible_ssh_common_args='-o ConnectTimeout=2'\n\n[lb]\nlb1 {LOCAL}\n"
        ),
    )
    .unwrap();
    let (code, o, e) = sb.run(&["deploy", "web", "v2", "--yes"]);
    assert_eq!(code, 1, "{o}{e}");
    assert!(o.contains("h4: unreachable"), "{o}");
    assert!(o.contains("over the 0% failure budget"), "{o}");
    // h4 left the balancer's pool (a task delegated to lb1) before it proved unreachable, so
    // it was touched; it cannot be rolled back, and says so. The others are back on v1.
    let s = sb.status(&[]);
    let t = target(&s, "web");
    assert_eq!(t["state"], "failed_rollback", "{o}");
    assert!(o.contains("rollback failed: h4: unreachable"), "{o}");
    let read = |h: &str| std::fs::read_to_string(out.join(format!("{h}.version"))).unwrap();
    assert_eq!([read("h1"), read("h2"), read("h3")], ["v1", "v1", "v1"]);
}
