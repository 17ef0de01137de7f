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
