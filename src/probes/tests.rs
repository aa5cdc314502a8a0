use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Pod};
use serde_json::json;

use super::*;
use crate::api::{POD_FINALIZER, Probe};

fn run() -> RunContext {
    RunContext {
        run_name: "conformance".into(),
        run_uid: "6c1f8d2e-0000-4000-8000-000000000001".into(),
        namespace: "tests".into(),
        image: "proctor.local/probe:v1".into(),
        runtime_class_name: Some("runc".into()),
        node_selector: None,
        tolerations: None,
        service_account_name: None,
        pod_labels: BTreeMap::from([("team".into(), "node".into())]),
        pod_annotations: BTreeMap::new(),
    }
}

fn probe(yaml: &str) -> Probe {
    serde_yaml::from_str(yaml).unwrap()
}

fn pods_of(yaml: &str) -> Vec<Pod> {
    let resolved = resolve(&probe(yaml), &run(), Some(60)).unwrap();
    pods(&resolved, &run(), 0)
}

fn container(pod: &Pod) -> &Container {
    &pod.spec.as_ref().unwrap().containers[0]
}

fn command(pod: &Pod) -> Vec<String> {
    container(pod).command.clone().unwrap()
}

/// The probes of the three examples: the conformance sample, the container-probe kinds' (kept
/// apart for their weight), and the privileged kind's (kept apart: it needs the opt-in).
fn examples() -> Vec<Probe> {
    [
        include_str!("../../examples/conformance.yaml"),
        include_str!("../../examples/container-probes.yaml"),
        include_str!("../../examples/privileged.yaml"),
    ]
    .iter()
    .flat_map(|text| {
        let sample: serde_yaml::Value = serde_yaml::from_str(text).unwrap();
        serde_yaml::from_value::<Vec<Probe>>(sample["spec"]["probes"].clone()).unwrap()
    })
    .collect()
}

#[test]
fn every_catalog_probe_of_the_sample_resolves_and_shapes_a_pod() {
    let probes = examples();
    let mut kinds = Vec::new();
    for p in &probes {
        let resolved = resolve(p, &run(), None).unwrap();
        let pods = pods(&resolved, &run(), 0);
        assert_eq!(pods.len() as i32, resolved.kind.pod_count(), "{}", p.name);
        // Every probe container runs a command of Proctor's, but the one that runs the image's.
        for pod in &pods {
            assert_eq!(
                container(pod).command.is_some(),
                resolved.kind != super::ProbeKind::CommandAndArgs,
                "{} has no command",
                p.name
            );
        }
        kinds.push(resolved.kind.name());
    }
    kinds.sort_unstable();
    kinds.dedup();
    assert_eq!(
        kinds.len(),
        super::kinds::KINDS.len(),
        "the examples cover the whole catalog: {kinds:?}"
    );
}

#[test]
fn pods_meet_the_restricted_pod_security_standard() {
    let probes = examples();
    // Only the kinds that need the opt-in (spec.allowPrivileged, granted) leave the standard.
    let every_pod = probes.iter().flat_map(|p| {
        let resolved = resolve(p, &run(), None).unwrap();
        if resolved.kind.needs_privilege() {
            return Vec::new();
        }
        pods(&resolved, &run(), 0)
    });
    for pod in every_pod {
        let spec = pod.spec.as_ref().unwrap();
        let pod_sc = spec.security_context.as_ref().unwrap();
        assert_ne!(pod_sc.run_as_user, Some(0));
        assert_eq!(spec.host_pid.or(spec.host_network).or(spec.host_ipc), None);
        let sc = container(&pod).security_context.as_ref().unwrap();
        assert_ne!(sc.privileged, Some(true));
        let added = sc
            .capabilities
            .as_ref()
            .unwrap()
            .add
            .clone()
            .unwrap_or_default();
        assert!(added.iter().all(|c| c == "NET_BIND_SERVICE"), "{added:?}");
    }
    for pod in pods_of("name: p\nexitCode: {code: 3}") {
        let spec = pod.spec.as_ref().unwrap();
        let pod_sc = spec.security_context.as_ref().unwrap();
        assert_eq!(pod_sc.run_as_non_root, Some(true));
        assert_eq!(
            pod_sc.seccomp_profile.as_ref().unwrap().type_,
            "RuntimeDefault"
        );
        let sc = container(&pod).security_context.as_ref().unwrap();
        assert_eq!(sc.allow_privilege_escalation, Some(false));
        assert_eq!(
            sc.capabilities.as_ref().unwrap().drop,
            Some(vec!["ALL".to_owned()])
        );
        assert_eq!(spec.automount_service_account_token, Some(false));
    }
}

#[test]
fn pods_are_labelled_owned_and_named_deterministically() {
    let first = pods_of("name: exit\nexitCode: {code: 3}");
    let again = pods_of("name: exit\nexitCode: {code: 3}");
    assert_eq!(first, again);
    let pod = &first[0];
    let name = pod.metadata.name.as_deref().unwrap();
    assert!(
        name.starts_with("conforma-") && name.ends_with("-exit-0"),
        "{name}"
    );
    let labels = pod.metadata.labels.as_ref().unwrap();
    assert_eq!(labels["app.kubernetes.io/managed-by"], "proctor");
    assert_eq!(labels["proctor.dev/run-uid"], run().run_uid);
    assert_eq!(labels["proctor.dev/probe"], "exit");
    assert_eq!(labels["team"], "node");
    let owner = &pod.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.controller),
        ("TestRun", Some(true))
    );
}

#[test]
fn the_longest_names_fit_in_a_dns_label() {
    let names = PodNames::new(&"r".repeat(253), "uid");
    let name = names.pod(&"p".repeat(40), 99, Some(99));
    assert!(name.len() <= 63, "{} chars: {name}", name.len());
}

/// Every (probe, attempt, index) the schema accepts has a name of its own, even where probe
/// names look like another probe's name with an attempt or index appended.
#[test]
fn pod_names_are_injective_over_probe_attempt_and_index() {
    let names = PodNames::new("run", "uid");
    let probes = [
        "x", "x-0", "x-0-0", "x-0-p0", "x-p0", "x-1", "p0", "0", "x-0-p1-0",
    ];
    let mut seen = std::collections::BTreeMap::new();
    for probe in probes {
        for attempt in [0, 1, 10, 19] {
            for index in [None, Some(0), Some(1), Some(10), Some(49)] {
                let name = names.pod(probe, attempt, index);
                if let Some(other) = seen.insert(name.clone(), (probe, attempt, index)) {
                    panic!(
                        "{name} is the pod of {other:?} and of {:?}",
                        (probe, attempt, index)
                    );
                }
            }
        }
    }
    for node in ["proctor-node", "node-0", "n"] {
        assert!(!seen.contains_key(&names.inspector(node)));
    }
    // An inspector is named after its probe's "inspector" never: `-n<hex>` ends no probe pod.
    let inspector = names.inspector("node-0");
    assert!(!seen.contains_key(&inspector));
    assert_ne!(inspector, names.inspector("node-1"));
}

#[test]
fn the_inspector_is_pinned_to_the_node_it_looks_at_by_required_affinity() {
    let pod = inspector_pod(&run(), "node-7");
    let spec = pod.spec.as_ref().unwrap();
    assert_eq!(spec.host_pid, Some(true));
    assert_eq!(
        spec.node_name, None,
        "scheduled: the scheduler's rules still apply"
    );
    let tolerations = spec.tolerations.as_ref().unwrap();
    assert_eq!(tolerations.len(), 1);
    assert_eq!(tolerations[0].operator.as_deref(), Some("Exists"));
    let terms = &spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|n| {
            n.required_during_scheduling_ignored_during_execution
                .as_ref()
        })
        .unwrap()
        .node_selector_terms;
    assert_eq!(terms.len(), 1);
    let fields = terms[0].match_fields.as_ref().unwrap();
    assert_eq!(
        (fields[0].key.as_str(), fields[0].operator.as_str()),
        ("metadata.name", "In")
    );
    assert_eq!(fields[0].values, Some(vec!["node-7".to_owned()]));
    assert_eq!(
        pod.metadata.name,
        Some(run().names().inspector("node-7")),
        "named after its node"
    );
    assert!(pod.metadata.name.unwrap().len() <= 63);
}

#[test]
fn pod_names_differ_between_runs_of_the_same_name() {
    let a = PodNames::new("run", "uid-a").pod("p", 0, None);
    let b = PodNames::new("run", "uid-b").pod("p", 0, None);
    assert_ne!(a, b);
}

#[test]
fn fnv1a_is_the_published_function() {
    // Test vectors of FNV-1a 64.
    assert_eq!(fnv1a64(&[""]), 0xcbf2_9ce4_8422_2325);
    assert_eq!(fnv1a64(&["a"]), 0xaf63_dc4c_8601_ec8c);
    assert_eq!(fnv1a64(&["foobar"]), 0x8594_4171_f739_67e8);
}

#[test]
fn user_strings_reach_scripts_only_as_arguments() {
    let hostile = r#"$(touch /tmp/pwned); `id`; ' " \ $HOME"#;
    let text = serde_json::to_string(hostile).unwrap();
    for yaml in [
        format!("name: p\nstderr: {{text: {text}}}"),
        format!("name: p\nunicodeOutput: {{text: {text}}}"),
        format!("name: p\nterminationMessage: {{text: {text}}}"),
        format!("name: p\nterminationMessage: {{text: {text}, fallbackToLogsOnError: true}}"),
        format!("name: p\nenv: {{value: {text}}}"),
    ] {
        let pod = &pods_of(&yaml)[0];
        let command = command(pod);
        assert_eq!(&command[..2], ["sh", "-c"], "{yaml}");
        assert!(
            !command[2].contains("pwned"),
            "user text in the script: {command:?}"
        );
        assert_eq!(command[3], "probe");
    }
}

#[test]
fn exit_code_probe_exits_with_the_code() {
    let pod = &pods_of("name: p\nexitCode: {code: 42}")[0];
    assert_eq!(command(pod), ["sh", "-c", r#"exit "$1""#, "probe", "42"]);
    assert_eq!(
        pod.spec.as_ref().unwrap().restart_policy.as_deref(),
        Some("Never")
    );
}

#[test]
fn env_probe_defaults_to_a_value_that_breaks_naive_parsing() {
    let pod = &pods_of("name: p\nenv: {}")[0];
    let env = container(pod).env.clone().unwrap();
    assert_eq!(env[0].name, DEFAULT_ENV_NAME);
    let value = env[0].value.clone().unwrap();
    assert!(
        value.contains('=') && value.contains(' ') && !value.is_ascii(),
        "{value}"
    );
    assert_eq!(command(pod)[4], DEFAULT_ENV_NAME);
}

#[test]
fn kind_specific_pod_fields() {
    let cases: Vec<(&str, serde_json::Value)> = vec![
        (
            "name: p\noomKill: {limitMiB: 16}",
            json!({"limits": {"memory": "16Mi"}, "cmd": "64M"}),
        ),
        (
            "name: p\ndeadlineExceeded: {seconds: 5}",
            json!({"activeDeadlineSeconds": 5}),
        ),
        (
            "name: p\nrestartCount: {failures: 2}",
            json!({"restartPolicy": "OnFailure"}),
        ),
        (
            "name: p\ngracefulShutdown: {gracePeriodSeconds: 7}",
            json!({"terminationGracePeriodSeconds": 7}),
        ),
        (
            "name: p\nworkingDir: {path: /var/tmp}",
            json!({"workingDir": "/var/tmp"}),
        ),
        ("name: p\nreadOnlyVolume: {}", json!({"readOnly": true})),
        (
            "name: p\nterminationMessage: {fallbackToLogsOnError: true}",
            json!({"terminationMessagePolicy": "FallbackToLogsOnError"}),
        ),
    ];
    for (yaml, wanted) in cases {
        let pod = serde_json::to_value(&pods_of(yaml)[0]).unwrap();
        let text = pod.to_string();
        for (key, value) in wanted.as_object().unwrap() {
            let needle = match key.as_str() {
                "cmd" => value.as_str().unwrap().to_owned(),
                _ => format!("\"{key}\":{value}"),
            };
            assert!(text.contains(&needle), "{yaml}: {needle} not in {text}");
        }
    }
}

#[test]
fn multi_pod_kinds_create_indexed_pods() {
    let pods = pods_of("name: burst\nconcurrentStart: {pods: 3}");
    let names: Vec<_> = pods
        .iter()
        .map(|p| p.metadata.name.clone().unwrap())
        .collect();
    assert_eq!(names.len(), 3);
    assert!(names[2].ends_with("-burst-0-p2"), "{names:?}");
}

#[test]
fn only_pods_proctor_deletes_itself_carry_the_finalizer() {
    let finalizers = |yaml: &str| pods_of(yaml)[0].metadata.finalizers.clone();
    assert_eq!(
        finalizers("name: p\ngracefulShutdown: {}"),
        Some(vec![POD_FINALIZER.to_owned()])
    );
    assert_eq!(
        finalizers("name: p\nprocessGroupKill: {}"),
        Some(vec![POD_FINALIZER.to_owned()])
    );
    assert_eq!(finalizers("name: p\nexitCode: {code: 1}"), None);
    // Churn pods must be free to disappear: a finalizer would keep them Terminating.
    assert_eq!(finalizers("name: p\nrapidCreateDelete: {pods: 2}"), None);
}

#[test]
fn overrides_beat_run_defaults() {
    let p = probe(
        "name: p\nimage: other:1\nruntimeClassName: faulty-env\ntimeoutSeconds: 9\nrepeat: 3\nenv: {}",
    );
    let resolved = resolve(&p, &run(), Some(60)).unwrap();
    assert_eq!(resolved.image, "other:1");
    assert_eq!(resolved.runtime_class_name.as_deref(), Some("faulty-env"));
    assert_eq!((resolved.timeout_seconds, resolved.repeat), (9, 3));
    let defaulted = resolve(&probe("name: p\nenv: {}"), &run(), None).unwrap();
    assert_eq!(defaulted.image, run().image);
    assert_eq!(defaulted.runtime_class_name.as_deref(), Some("runc"));
    assert_eq!(defaulted.timeout_seconds, DEFAULT_TIMEOUT_SECONDS);
}

#[test]
fn a_probe_with_no_or_two_kinds_is_invalid() {
    assert_eq!(
        resolve(&probe("name: p"), &run(), None),
        Err(InvalidProbe::NoKind { probe: "p".into() })
    );
    let err = resolve(&probe("name: p\nenv: {}\nstderr: {}"), &run(), None).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"probe "p" sets 2 kinds (env, stderr); it needs exactly one"#
    );
}

/// The inspector's script, run here on the host's own process table: it finds a process whose
/// argument is a pod's whole marker, not one whose marker merely starts with a name, and never
/// itself.
#[test]
fn the_inspect_script_finds_exactly_the_marked_processes() {
    let marker = process_marker("run-abc123-churn-1-0");
    let mut marked = std::process::Command::new("sh")
        .args(["-c", "sleep 30", &marker])
        .spawn()
        .unwrap();
    let list = |names: &[&str]| {
        let command = inspect_command(&names.iter().map(|n| n.to_string()).collect::<Vec<_>>());
        let out = std::process::Command::new(&command[0])
            .args(&command[1..])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let found = list(&["run-abc123-churn-1-1", "run-abc123-churn-1-0"]);
    let not_found = list(&["run-abc123-churn-1", "run-abc123-churn-1-00"]);
    marked.kill().unwrap();
    marked.wait().unwrap();
    let lines: Vec<_> = found.lines().collect();
    assert_eq!(lines.len(), 1, "{found}");
    assert!(
        lines[0].starts_with(&format!("{} sh -c sleep 30 {marker}", marked.id())),
        "{found}"
    );
    assert_eq!(not_found, "");
}

#[test]
fn churn_pods_carry_their_marker_on_a_detached_child() {
    let pods = pods_of("name: churn\nrapidCreateDelete: {pods: 2}");
    for pod in &pods {
        let name = pod.metadata.name.clone().unwrap();
        let container = &pod.spec.as_ref().unwrap().containers[0];
        let command = container.command.clone().unwrap();
        assert_eq!(command.last(), Some(&process_marker(&name)));
        assert!(
            command[2].contains("</dev/null >/dev/null 2>&1 &"),
            "{command:?}"
        );
    }
}

#[test]
fn a_secret_volume_gets_one_secret_per_pod_owned_and_named_after_it() {
    let yaml = r#"
name: sec
custom:
  command: ["cat", "/s/key"]
  volumes:
    - {name: scratch, mountPath: /tmp/x, emptyDir: {}}
    - {name: creds, mountPath: /s, secretData: {key: value}}
  expect: {exitCode: 0}
"#;
    let resolved = resolve(&probe(yaml), &run(), Some(60)).unwrap();
    let pods = pods(&resolved, &run(), 0);
    let secrets = secrets(&resolved, &pods);
    assert_eq!(secrets.len(), 1, "only the secretData volume has a Secret");
    let secret = &secrets[0];
    let pod = &pods[0];
    let pod_name = pod.metadata.name.clone().unwrap();
    assert_eq!(
        secret.metadata.name.as_deref(),
        Some(format!("{pod_name}.creds").as_str())
    );
    assert_eq!(secret.metadata.namespace.as_deref(), Some("tests"));
    assert_eq!(secret.metadata.labels, pod.metadata.labels);
    assert_eq!(
        secret.metadata.owner_references,
        pod.metadata.owner_references
    );
    assert_eq!(
        secret.string_data,
        Some(BTreeMap::from([("key".to_owned(), "value".to_owned())]))
    );
    let exit = probe("{name: e, exitCode: {code: 3}}");
    let exit = resolve(&exit, &run(), None).unwrap();
    assert!(super::secrets(&exit, &super::pods(&exit, &run(), 0)).is_empty());
}

/// A capability beyond NET_BIND_SERVICE makes a pod the restricted standard refuses: the probe
/// then needs the privileged opt-in (and is Skipped without it), but never the inspector.
#[test]
fn capabilities_beyond_the_restricted_set_need_privilege() {
    let kind = |yaml: &str| ProbeKind::of(&serde_yaml::from_str::<Probe>(yaml).unwrap()).unwrap();
    let default = kind("name: c\ncapabilities: {}");
    let none = kind("name: c\ncapabilities: {add: []}");
    let admin = kind("name: c\ncapabilities: {add: [NET_BIND_SERVICE, SYS_ADMIN]}");
    assert!(!default.needs_privilege() && !none.needs_privilege());
    assert!(admin.needs_privilege());
    assert!(!admin.uses_inspector(true));
    assert!(admin.privilege_needed_for().contains("restricted"));
    let pods = pods_of("name: c\ncapabilities: {add: [SYS_ADMIN]}");
    let added = container(&pods[0])
        .security_context
        .as_ref()
        .and_then(|s| s.capabilities.as_ref())
        .and_then(|c| c.add.clone());
    assert_eq!(added, Some(vec!["SYS_ADMIN".to_owned()]));
}
