//! `privileged`: what the security context grants beyond the restricted Pod Security Standard
//! reaches the process, and only that. Pod 0 runs one container per setup: privileged (every
//! capability, no seccomp filter, a network link can be added), root but unprivileged (the
//! same operation refused), one capability dropped from the runtime's default set, `add: [ALL]`
//! (every capability, still filtered), seccomp Unconfined with SYS_ADMIN (sethostname works),
//! privilege escalation allowed or left unset for a non-root user (no_new_privs not set), and
//! root creating files in emptyDirs on disk and on tmpfs, hostPath volumes (a directory, a
//! symlink, a subPath, after an init container wrote into them on the node), a sysctl named
//! with slashes. Pod 1 shares the node's PID, IPC and network namespaces, with host aliases,
//! beside a container mounting the node's /etc/hosts. Pod 2 asks for an unsafe sysctl, which
//! the kubelet must refuse. Each container reports in its termination message.
//! Needs `spec.allowPrivileged`, granted by the controller's operator, in a namespace whose Pod
//! Security level is privileged. Catches a runtime that ignores what the context asks: caps
//! not dropped or not given, a filter where none was asked, host namespaces not joined.

use k8s_openapi::api::core::v1::{
    Capabilities, Container, ContainerPort, EnvVar, EnvVarSource, HostAlias, HostPathVolumeSource,
    ObjectFieldSelector, PodSpec, SeccompProfile, SecurityContext, Sysctl, Volume, VolumeMount,
};

use super::capabilities::names;
use super::empty_dir_modes::{
    DISK, MEMORY, MODES, SCRIPT as MODES_SCRIPT, volumes as empty_dir_volumes,
};
use super::namespaces::{NODE_IPC, NODE_PID, NODE_UTS};
use super::{Kind, ProbeKind, field, mount};
use crate::api::Check;
use crate::api::Probe;
use crate::controller::drive::{At, Step};
use crate::probes::PROBE_UID;
use crate::probes::catalog::Entry;
use crate::verdict::{Evidence, Outcome, PodObservation, check, equal};

pub const PODS: i32 = 4;
/// The host alias pod 1 asks for.
pub const ALIAS_IP: &str = "10.123.45.68";
pub const ALIAS_NAME: &str = "proctor-host-alias";
/// The hostname the unconfined container sets (in its pod's UTS namespace).
pub const SET_HOSTNAME: &str = "proctor-sethostname";
/// What pod 3's server answers on its hostPort.
pub const PORT_BANNER: &str = "proctor-host-port";
/// The first line of the /etc/hosts the kubelet writes for a host-network pod.
pub const HOST_NETWORK_HEADER: &str = "# Kubernetes-managed hosts file (host network).";

/// A safe sysctl, named with slashes (pod 0).
pub const SLASHED_SYSCTL: &str = "kernel/shm_rmid_forced";
/// An unsafe sysctl (pod 2): refused by a kubelet that does not list it in
/// `--allowed-unsafe-sysctls` (none does by default).
pub const UNSAFE_SYSCTL: &str = "kernel.msgmax";
/// Where the hostPath setups mount the pod's directory on the node, and its subPath.
const HOST_ROOT: &str = "/mnt/proctor-host";
const HOST_SUB: &str = "/mnt/proctor-host-sub";
const HOST_CONTENT: &str = "proctor wrote this on the node";
/// Where the propagation setups mount their hostPath directory, and the emptyDir through
/// which pod 0's containers wait for each other.
const PROP: &str = "/mnt/proctor-prop";
const STATE: &str = "/mnt/proctor-state";

const CAP_CHOWN: u32 = 0;
const CAP_NET_ADMIN: u32 = 12;
const CAP_SYS_ADMIN: u32 = 21;

pub const KIND: Kind = Kind {
    name: "privileged",
    resolve,
    entry: Entry {
        kind: "privileged",
        checks: "privileged: every capability, no seccomp filter, a network link can be added; root without privileged: uid 0, the link refused, no NET_ADMIN or SYS_ADMIN; one default capability dropped (CHOWN): gone, chown refused; add ALL: every capability, the seccomp filter kept; seccomp Unconfined with SYS_ADMIN: no filter, sethostname works; allowPrivilegeEscalation true or unset for a non-root user: no_new_privs not set; root creates files of modes 0644, 0666 and 0777 in emptyDirs on disk and tmpfs; a sysctl named with slashes is set; hostPath: a file an init container wrote on the node is read through the directory, through a symlink and through a subPath, and /tmp is 1777; hostPID, hostIPC and hostNetwork: the node's PID, IPC, UTS and network namespaces (the node's IP on an interface), the host aliases in the kubelet's host-network /etc/hosts, a mounted /etc/hosts left alone; an unsafe sysctl fails the pod (SysctlForbidden)",
        parameters: "- (needs spec.allowPrivileged, granted by the controller's operator, and a namespace at the privileged Pod Security level)",
        runs: "three pods: nine containers, one per security context, each reading /proc/self/status and trying what its context allows or denies (ip link add, chown, hostname, files in emptyDirs, hostPath files, after an init container wrote them on the node under /tmp); a pod with hostPID, hostIPC, hostNetwork and hostAliases reading its namespaces, interfaces and /etc/hosts, beside one mounting the node's /etc/hosts; a pod asking for the unsafe sysctl kernel.msgmax; each container reports in its termination message",
        catches: "a security context beyond the restricted level ignored: capabilities not dropped or not given, privileged containers filtered or unprivileged ones let through, no_new_privs set where escalation is allowed, host namespaces or host paths not joined, unsafe sysctls let through",
        faults: "insecure, propagation",
    },
};

fn resolve(probe: &Probe) -> Option<ProbeKind> {
    probe.privileged.as_ref().map(|_| ProbeKind::Privileged)
}

/// One container of pod 0: its name, its security context, what it does beyond the report.
struct Setup {
    name: &'static str,
    context: fn() -> SecurityContext,
    /// Shell run after the common report; prints `KEY: VALUE` lines.
    extra: &'static str,
}

fn root() -> SecurityContext {
    SecurityContext {
        run_as_user: Some(0),
        run_as_group: Some(0),
        run_as_non_root: Some(false),
        ..SecurityContext::default()
    }
}

fn caps(drop: &[&str], add: &[&str]) -> Option<Capabilities> {
    let list = |l: &[&str]| (!l.is_empty()).then(|| l.iter().map(|c| (*c).to_owned()).collect());
    Some(Capabilities {
        drop: list(drop),
        add: list(add),
    })
}

fn unconfined() -> Option<SeccompProfile> {
    Some(SeccompProfile {
        type_: "Unconfined".into(),
        ..SeccompProfile::default()
    })
}

const LINK: &str = r#"if ip link add proctor0 type bridge 2>/dev/null; then ip link del proctor0; echo "link: added"; else echo "link: refused"; fi"#;

const SETUPS: &[Setup] = &[
    Setup {
        name: crate::probes::CONTAINER,
        context: || SecurityContext {
            privileged: Some(true),
            ..root()
        },
        extra: LINK,
    },
    Setup {
        name: "root-unprivileged",
        context: || SecurityContext {
            privileged: Some(false),
            ..root()
        },
        extra: LINK,
    },
    Setup {
        name: "drop-chown",
        context: || SecurityContext {
            capabilities: caps(&["CHOWN"], &[]),
            ..root()
        },
        extra: r#"touch /tmp/proctor-chown; if chown 2000 /tmp/proctor-chown 2>/dev/null; then echo "chown: done"; else echo "chown: refused"; fi"#,
    },
    Setup {
        name: "add-all",
        context: || SecurityContext {
            capabilities: caps(&[], &["ALL"]),
            ..root()
        },
        extra: "true",
    },
    Setup {
        name: "unconfined",
        context: || SecurityContext {
            capabilities: caps(&[], &["SYS_ADMIN"]),
            seccomp_profile: unconfined(),
            ..root()
        },
        extra: r#"if hostname "$2" 2>/dev/null; then echo "sethostname: $(hostname)"; else echo "sethostname: refused"; fi"#,
    },
    Setup {
        name: "escalation-allowed",
        context: || SecurityContext {
            allow_privilege_escalation: Some(true),
            capabilities: caps(&["ALL"], &[]),
            ..SecurityContext::default()
        },
        extra: "true",
    },
    Setup {
        name: "escalation-unset",
        context: || SecurityContext {
            capabilities: caps(&["ALL"], &[]),
            ..SecurityContext::default()
        },
        extra: "true",
    },
    Setup {
        name: "root-modes",
        context: root,
        extra: "true",
    },
];

/// Every container's first lines: its ids, capabilities, no_new_privs and seccomp mode.
const REPORT: &str = r#"grep -E '^(Uid|CapBnd|CapEff|NoNewPrivs|Seccomp):' /proc/self/status"#;

/// A container whose script's output (stdout and stderr) is also its termination message.
fn reporting(base: &Container, name: &str, source: &str, args: &[&str]) -> Container {
    let mut c = base.clone();
    c.name = name.to_owned();
    let mut command = [
        "sh",
        "-c",
        &format!("{{ {source}; }} 2>&1 | tee /dev/termination-log"),
        "probe",
    ]
    .map(str::to_owned)
    .to_vec();
    command.extend(args.iter().map(|a| (*a).to_owned()));
    c.command = Some(command);
    c
}

pub fn shape(spec: &mut PodSpec, index: usize, pod_name: &str) {
    spec.termination_grace_period_seconds = Some(1);
    // Each container says who it runs as; the pod's default stays the non-root probe user.
    if let Some(context) = spec.security_context.as_mut() {
        context.run_as_non_root = None;
        context.fs_group = None;
    }
    let Some(base) = spec.containers.first().cloned() else {
        return;
    };
    match index {
        1 => return shape_host(spec, &base, host_port(pod_name)),
        2 => return shape_unsafe_sysctl(spec, &base),
        3 => return shape_port_server(spec, &base, host_port(pod_name)),
        _ => {}
    }
    // A safe sysctl named with slashes, read back by the root-modes container.
    if let Some(context) = spec.security_context.as_mut() {
        context.sysctls = Some(vec![Sysctl {
            name: SLASHED_SYSCTL.into(),
            value: "1".into(),
        }]);
    }
    let workspace = host_workspace(pod_name);
    let mut volumes = empty_dir_volumes();
    volumes.extend([
        host_path("host-root", &workspace, Some("DirectoryOrCreate")),
        host_path("host-link", &format!("{workspace}/link"), None),
        host_path("host-tmp", "/tmp", Some("Directory")),
        host_path(
            "host-prop",
            &format!("{workspace}/prop"),
            Some("DirectoryOrCreate"),
        ),
        super::empty_dir("state"),
    ]);
    spec.volumes = Some(volumes);
    spec.containers = SETUPS
        .iter()
        .map(|setup| {
            let mut c = if setup.name == "root-modes" {
                let mut args = vec!["proctor wrote this", DISK, MEMORY];
                args.extend(MODES);
                let mut c = reporting(
                    &base,
                    setup.name,
                    &format!("{REPORT}; echo \"slashedSysctl: $(cat /proc/sys/kernel/shm_rmid_forced)\"; {MODES_SCRIPT}"),
                    &args,
                );
                c.volume_mounts = Some(vec![
                    mount("disk", DISK, false),
                    mount("memory", MEMORY, false),
                ]);
                c
            } else {
                reporting(
                    &base,
                    setup.name,
                    &format!("{REPORT}; {}", setup.extra),
                    &["-", SET_HOSTNAME],
                )
            };
            c.security_context = Some((setup.context)());
            c
        })
        .collect();
    spec.init_containers = Some(vec![host_writer(&base)]);
    spec.containers.push(host_reader(&base, &workspace));
    spec.containers.extend(propagation(&base));
}

/// Three containers on one hostPath directory: `prop-shared` (privileged, Bidirectional)
/// mounts a tmpfs inside it once the other two run; `prop-slave` (HostToContainer) must see
/// it, having received it through the node; `prop-private` (None) must not. The mount is
/// removed once both looked (and before the reader removes the directory).
fn propagation(base: &Container) -> Vec<Container> {
    let with = |name: &str, propagation: Option<&str>, privileged: bool, source: &str| {
        let mut c = reporting(base, name, source, &[PROP, STATE, name]);
        c.security_context = Some(SecurityContext {
            privileged: privileged.then_some(true),
            ..root()
        });
        c.volume_mounts = Some(vec![
            VolumeMount {
                mount_propagation: propagation.map(str::to_owned),
                ..mount("host-prop", PROP, false)
            },
            mount("state", STATE, false),
        ]);
        c
    };
    let looks = r#"touch "$2/up-$3"; n=0; while [ ! -e "$2/mounted" ] && [ $n -lt 300 ]; do sleep 0.2; n=$((n+1)); done; if [ -e "$1/m/file" ]; then echo "propagated: yes"; else echo "propagated: no"; fi; touch "$2/seen-$3""#;
    vec![
        with(
            "prop-shared",
            Some("Bidirectional"),
            true,
            r#"n=0; while { [ ! -e "$2/up-prop-slave" ] || [ ! -e "$2/up-prop-private" ]; } && [ $n -lt 300 ]; do sleep 0.2; n=$((n+1)); done; mkdir -p "$1/m" && mount -t tmpfs proctor-prop "$1/m" && echo x > "$1/m/file" && echo "mounted: yes"; touch "$2/mounted"; n=0; while { [ ! -e "$2/seen-prop-slave" ] || [ ! -e "$2/seen-prop-private" ]; } && [ $n -lt 300 ]; do sleep 0.2; n=$((n+1)); done; umount "$1/m"; touch "$2/prop-done""#,
        ),
        with("prop-slave", Some("HostToContainer"), false, looks),
        with("prop-private", None, false, looks),
    ]
}

/// The pod's directory on the node (under /tmp), for the hostPath setups; the reader removes
/// it once it has read it.
fn host_workspace(pod_name: &str) -> String {
    format!("/tmp/proctor-{pod_name}")
}

fn host_path(name: &str, path: &str, type_: Option<&str>) -> Volume {
    Volume {
        name: name.into(),
        host_path: Some(HostPathVolumeSource {
            path: path.into(),
            type_: type_.map(str::to_owned),
        }),
        ..Volume::default()
    }
}

/// An init container that writes, as root, into the pod's directory on the node: a file in
/// `dir`, a symlink `link` to `dir`, and a file through a subPath mount of `sub`.
fn host_writer(base: &Container) -> Container {
    let mut c = base.clone();
    c.name = "host-writer".into();
    c.security_context = Some(root());
    c.volume_mounts = Some(vec![
        mount("host-root", HOST_ROOT, false),
        VolumeMount {
            sub_path: Some("sub".into()),
            ..mount("host-root", HOST_SUB, false)
        },
    ]);
    c.command = Some(
        [
            "sh",
            "-c",
            r#"mkdir -p "$1/dir" && printf '%s' "$3" > "$1/dir/file" && ln -sfn dir "$1/link" && printf '%s' "$3" > "$2/file""#,
            "probe",
            HOST_ROOT,
            HOST_SUB,
            HOST_CONTENT,
        ]
        .map(str::to_owned)
        .to_vec(),
    );
    c
}

/// An app container that reads what the writer left: the file through the whole directory,
/// through the symlink's own hostPath volume, and the subPath's file; /tmp's mode; then
/// removes the pod's directory from the node.
fn host_reader(base: &Container, workspace: &str) -> Container {
    let mut c = reporting(
        base,
        "host-reader",
        r#"echo "hostFile: $(cat "$1/dir/file")"; echo "hostLink: $(cat "$2/file")"; echo "hostSubPath: $(cat "$1/sub/file")"; echo "hostTmpMode: $(stat -c %A "$3")"; n=0; while [ ! -e "$5/prop-done" ] && [ $n -lt 300 ]; do sleep 0.2; n=$((n+1)); done; rm -rf "$3/$4""#,
        &[
            HOST_ROOT,
            "/mnt/proctor-host-link",
            "/mnt/proctor-host-tmp",
            workspace.trim_start_matches("/tmp/"),
            STATE,
        ],
    );
    c.security_context = Some(root());
    c.volume_mounts = Some(vec![
        mount("state", STATE, false),
        mount("host-root", HOST_ROOT, true),
        mount("host-link", "/mnt/proctor-host-link", true),
        mount("host-tmp", "/mnt/proctor-host-tmp", false),
    ]);
    c
}

/// Pod 2: an unsafe sysctl the kubelet does not allow: it must refuse the pod.
fn shape_unsafe_sysctl(spec: &mut PodSpec, base: &Container) {
    if let Some(context) = spec.security_context.as_mut() {
        context.sysctls = Some(vec![Sysctl {
            name: UNSAFE_SYSCTL.into(),
            value: "65536".into(),
        }]);
    }
    let mut c = base.clone();
    c.name = "unsafe-sysctl".into();
    c.command = Some(["sh", "-c", "exit 0"].map(str::to_owned).to_vec());
    spec.containers = vec![c];
}

/// The hostPort of pod 3, the same for every pod of one attempt (from their common name; the
/// pods of two runs on one node would otherwise wait for each other's port).
pub fn host_port(pod_name: &str) -> i32 {
    let attempt = pod_name
        .rsplit_once("-p")
        .map_or(pod_name, |(prefix, _)| prefix);
    // FNV-1a: stable across builds, unlike the standard library's hasher.
    let hash = attempt.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    20_000 + (hash % 10_000) as i32
}

/// Pod 3: a server on a hostPort, answering one connection with [`PORT_BANNER`] (it gives up
/// after a minute), for pod 1 to reach at the node's IP.
fn shape_port_server(spec: &mut PodSpec, base: &Container, port: i32) {
    let mut c = base.clone();
    c.name = "port-server".into();
    c.ports = Some(vec![ContainerPort {
        container_port: 8080,
        host_port: Some(port),
        protocol: Some("TCP".into()),
        ..ContainerPort::default()
    }]);
    c.command = Some(
        [
            "sh",
            "-c",
            r#"timeout 60 nc -l -p 8080 -e echo "$1"; true"#,
            "probe",
            PORT_BANNER,
        ]
        .map(str::to_owned)
        .to_vec(),
    );
    spec.containers = vec![c];
}

fn shape_host(spec: &mut PodSpec, base: &Container, port: i32) {
    spec.host_pid = Some(true);
    spec.host_ipc = Some(true);
    spec.host_network = Some(true);
    spec.host_aliases = Some(vec![HostAlias {
        ip: ALIAS_IP.into(),
        hostnames: Some(vec![ALIAS_NAME.into()]),
    }]);
    let mut c = reporting(
        base,
        "host-1",
        r#"for n in pid ipc uts; do echo "$n: $(readlink /proc/self/ns/$n)"; done; echo "hostIp: $HOST_IP"; if ip -o addr | grep -q " $HOST_IP/"; then echo "hostIpOnInterface: yes"; else echo "hostIpOnInterface: no"; fi; echo "alias: $(grep -F "$1" /etc/hosts | tr -s ' \t' ' ')"; echo "hostsHeader: $(head -n 1 /etc/hosts)"; n=0; got=; while [ -z "$got" ] && [ $n -lt 30 ]; do got=$(nc -w 2 "$HOST_IP" "$2" </dev/null 2>/dev/null); [ -n "$got" ] || sleep 1; n=$((n+1)); done; echo "hostPort: ${got:-unreachable}""#,
        &[ALIAS_NAME, &port.to_string()],
    );
    c.env = Some(vec![EnvVar {
        name: "HOST_IP".into(),
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                field_path: "status.hostIP".into(),
                ..ObjectFieldSelector::default()
            }),
            ..EnvVarSource::default()
        }),
        ..EnvVar::default()
    }]);
    let mut own = reporting(
        base,
        "host-hosts",
        r#"echo "hostsHeader: $(head -n 1 /etc/hosts)""#,
        &[],
    );
    own.volume_mounts = Some(vec![mount("node-hosts", "/etc/hosts", true)]);
    spec.volumes = Some(vec![host_path("node-hosts", "/etc/hosts", Some("File"))]);
    spec.containers = vec![c, own];
}

/// Judged once the four pods ended (pod 2 is refused by the kubelet, so it ends at once).
pub fn step(at: &At) -> Step {
    match at.observed {
        [p0, p1, p2, p3] if [p0, p1, p2, p3].iter().all(|p| p.is_finished()) => {
            Step::Judge { read_log: false }
        }
        _ => Step::Wait,
    }
}

/// A container's report (its termination message).
struct Report<'a>(&'a str);

impl Report<'_> {
    fn get(&self, key: &str) -> &str {
        field(self.0, key).unwrap_or("not reported")
    }

    fn mask(&self, key: &str) -> Option<u64> {
        field(self.0, key).and_then(|hex| u64::from_str_radix(hex, 16).ok())
    }

    fn euid(&self) -> &str {
        self.get("Uid")
            .split_whitespace()
            .nth(1)
            .unwrap_or("not reported")
    }
}

fn shown(mask: Option<u64>) -> String {
    mask.map_or_else(|| "not reported".to_owned(), names)
}

fn report<'a>(pod: &'a PodObservation, name: &str) -> Option<Report<'a>> {
    pod.containers
        .iter()
        .find(|c| c.name == name)
        .and_then(|c| c.message.as_deref())
        .map(Report)
}

pub fn judge(evidence: &Evidence) -> Option<Outcome> {
    let [p0, p1, p2, _] = evidence.pods.as_slice() else {
        return None;
    };
    let mut missing = Vec::new();
    let mut reports = Vec::new();
    for name in SETUPS.iter().map(|s| s.name).chain([
        "host-reader",
        "prop-shared",
        "prop-slave",
        "prop-private",
    ]) {
        match report(p0, name) {
            Some(r) => reports.push(r),
            None => missing.push(name),
        }
    }
    let host = report(p1, "host-1");
    let hosts_mount = report(p1, "host-hosts");
    for (name, r) in [("host-1", &host), ("host-hosts", &hosts_mount)] {
        if r.is_none() {
            missing.push(name);
        }
    }
    let (Some(host), Some(hosts_mount), true) = (host, hosts_mount, missing.is_empty()) else {
        return Some(Outcome::error(
            "NotReported",
            format!(
                "containers of the privileged probe ended without their report (termination message): {}",
                missing.join(", ")
            ),
        ));
    };
    let [
        privileged,
        unprivileged,
        drop_chown,
        add_all,
        unconfined,
        allowed,
        unset,
        modes,
        reader,
        shared,
        slave,
        private,
    ] = reports.as_slice()
    else {
        return None;
    };
    let mut checks: Vec<Check> = Vec::new();
    // Root without privileged first: a runtime that hands out privileges fails here.
    let denied = |r: &Report, bit: u32| r.mask("CapEff").is_some_and(|m| m & (1 << bit) == 0);
    checks.push(equal("unprivilegedUid", "0", unprivileged.euid()));
    checks.push(equal(
        "unprivilegedLink",
        "refused",
        unprivileged.get("link"),
    ));
    checks.push(check(
        "unprivilegedCapabilities",
        "neither NET_ADMIN nor SYS_ADMIN",
        shown(unprivileged.mask("CapEff")),
        denied(unprivileged, CAP_NET_ADMIN) && denied(unprivileged, CAP_SYS_ADMIN),
    ));
    checks.push(check(
        "droppedCapability",
        "CHOWN in neither the bounding nor the effective set",
        format!(
            "bounding {}; effective {}",
            shown(drop_chown.mask("CapBnd")),
            shown(drop_chown.mask("CapEff"))
        ),
        denied(drop_chown, CAP_CHOWN)
            && drop_chown
                .mask("CapBnd")
                .is_some_and(|m| m & (1 << CAP_CHOWN) == 0),
    ));
    checks.push(equal("droppedChown", "refused", drop_chown.get("chown")));
    // "Every capability" is every one the node's own bounding set holds, which a container
    // cannot read: the privileged container's set must equal add-all's, and hold the
    // administrative ones beyond the unprivileged container's.
    let admin = (1u64 << CAP_NET_ADMIN) | (1 << CAP_SYS_ADMIN);
    let granted = |r: &Report| match (
        r.mask("CapBnd"),
        r.mask("CapEff"),
        unprivileged.mask("CapBnd"),
    ) {
        (Some(bounding), Some(effective), Some(default)) => {
            bounding == effective && bounding & (default | admin) == default | admin
        }
        _ => false,
    };
    checks.push(check(
        "privilegedCapabilities",
        "every capability (the default ones, NET_ADMIN, SYS_ADMIN...), bounding and effective",
        format!(
            "bounding {}; effective {}",
            shown(privileged.mask("CapBnd")),
            shown(privileged.mask("CapEff"))
        ),
        granted(privileged),
    ));
    checks.push(check(
        "addAllCapabilities",
        "the privileged container's set, bounding and effective",
        format!(
            "bounding {}; effective {}",
            shown(add_all.mask("CapBnd")),
            shown(add_all.mask("CapEff"))
        ),
        granted(add_all) && add_all.mask("CapBnd") == privileged.mask("CapBnd"),
    ));
    checks.push(equal("privilegedSeccomp", "0", privileged.get("Seccomp")));
    checks.push(equal("privilegedLink", "added", privileged.get("link")));
    checks.push(equal("addAllSeccomp", "2", add_all.get("Seccomp")));
    checks.push(equal("unconfinedSeccomp", "0", unconfined.get("Seccomp")));
    checks.push(equal(
        "unconfinedSethostname",
        SET_HOSTNAME,
        unconfined.get("sethostname"),
    ));
    for (name, r) in [("escalationAllowed", allowed), ("escalationUnset", unset)] {
        checks.push(equal(
            name,
            format!("uid {PROBE_UID}, NoNewPrivs 0"),
            format!("uid {}, NoNewPrivs {}", r.euid(), r.get("NoNewPrivs")),
        ));
    }
    checks.push(equal("rootUid", "0", modes.euid()));
    checks.push(equal("rootMemoryMedium", "tmpfs", modes.get("tmpfs type")));
    for (dir, medium) in [(DISK, "disk"), (MEMORY, "tmpfs")] {
        for mode in MODES {
            checks.push(equal(
                "rootFile",
                format!("{medium} {mode} proctor wrote this"),
                format!("{medium} {}", modes.get(&format!("{dir} {mode}"))),
            ));
        }
    }
    checks.push(equal("slashedSysctl", "1", modes.get("slashedSysctl")));
    for (name, key) in [
        ("hostPathFile", "hostFile"),
        ("hostPathSymlink", "hostLink"),
        ("hostPathSubPath", "hostSubPath"),
    ] {
        checks.push(equal(name, HOST_CONTENT, reader.get(key)));
    }
    checks.push(equal(
        "hostPathTmpMode",
        "drwxrwxrwt",
        reader.get("hostTmpMode"),
    ));
    checks.push(equal("propagationShared", "yes", shared.get("mounted")));
    checks.push(equal(
        "propagationHostToContainer",
        "yes",
        slave.get("propagated"),
    ));
    checks.push(equal("propagationNone", "no", private.get("propagated")));
    checks.push(equal(
        "unsafeSysctl",
        "pod Failed: SysctlForbidden".to_owned(),
        format!(
            "pod {}: {}",
            p2.phase.as_deref().unwrap_or("?"),
            p2.reason.as_deref().unwrap_or("no reason")
        ),
    ));
    let host_ns: Vec<String> = [("pid", NODE_PID), ("ipc", NODE_IPC), ("uts", NODE_UTS)]
        .iter()
        .filter(|(key, node)| host.get(key) != *node)
        .map(|(key, _)| format!("{key} {}", host.get(key)))
        .collect();
    checks.push(check(
        "hostNamespaces",
        "the node's PID, IPC and UTS namespaces",
        if host_ns.is_empty() {
            "the node's".to_owned()
        } else {
            format!("its own: {}", host_ns.join(", "))
        },
        host_ns.is_empty(),
    ));
    checks.push(equal(
        "hostNetwork",
        format!("{} on an interface", host.get("hostIp")),
        format!(
            "{} {}",
            host.get("hostIp"),
            if host.get("hostIpOnInterface") == "yes" {
                "on an interface"
            } else {
                "on no interface"
            }
        ),
    ));
    checks.push(equal(
        "hostNetworkAliases",
        format!("{ALIAS_IP} {ALIAS_NAME}"),
        host.get("alias").to_owned(),
    ));
    checks.push(equal("hostPort", PORT_BANNER, host.get("hostPort")));
    // The kubelet writes the host network's /etc/hosts under a header of its own, and leaves
    // a container's own /etc/hosts mount alone.
    checks.push(equal(
        "hostNetworkHostsHeader",
        HOST_NETWORK_HEADER,
        host.get("hostsHeader"),
    ));
    let own = hosts_mount.get("hostsHeader");
    checks.push(check(
        "mountedHostsUnmanaged",
        "the node's file, not the kubelet's",
        own,
        !own.starts_with("# Kubernetes-managed"),
    ));
    Some(Outcome::from_checks(
        checks,
        "each security context beyond the restricted level got what it asked, and only that; the host pod shares the node's namespaces".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Verdict;

    fn pods(texts: [&str; 4]) -> Evidence {
        super::super::recorded(&texts)
    }

    fn failed(outcome: &Outcome) -> Vec<&str> {
        outcome
            .checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| c.name.as_str())
            .collect()
    }

    /// Pods recorded on the test cluster: under runc every setup got what it asked; under
    /// faulty-insecure (root, every capability, no no_new_privs, no seccomp filter) the
    /// setups that ask for less get more.
    #[test]
    fn each_security_context_is_judged_from_its_containers_report() {
        let runc = judge(&pods([
            include_str!("../../../tests/fixtures/pods/privileged-runc-0.json"),
            include_str!("../../../tests/fixtures/pods/privileged-runc-1.json"),
            include_str!("../../../tests/fixtures/pods/privileged-runc-2.json"),
            include_str!("../../../tests/fixtures/pods/privileged-runc-3.json"),
        ]))
        .unwrap();
        assert_eq!(runc.verdict, Verdict::Passed, "{runc:?}");
        assert_eq!(runc.checks.len(), 37);
        let faulty = judge(&pods([
            include_str!("../../../tests/fixtures/pods/privileged-faulty-insecure-0.json"),
            include_str!("../../../tests/fixtures/pods/privileged-faulty-insecure-1.json"),
            include_str!("../../../tests/fixtures/pods/privileged-faulty-insecure-2.json"),
            include_str!("../../../tests/fixtures/pods/privileged-faulty-insecure-3.json"),
        ]))
        .unwrap();
        assert_eq!(
            (faulty.verdict, faulty.reason.as_str()),
            (Verdict::Failed, "UnprivilegedLinkMismatch")
        );
        assert_eq!(
            failed(&faulty),
            [
                "unprivilegedLink",
                "unprivilegedCapabilities",
                "droppedCapability",
                "droppedChown",
                "addAllSeccomp",
                "escalationAllowed",
                "escalationUnset"
            ]
        );
    }

    /// A privileged container held back (the default set, filtered) and a host pod in
    /// namespaces of its own fail; a container without its report is an Error.
    #[test]
    fn privileges_withheld_and_host_namespaces_not_joined_fail() {
        let mut evidence = pods([
            include_str!("../../../tests/fixtures/pods/privileged-runc-0.json"),
            include_str!("../../../tests/fixtures/pods/privileged-runc-1.json"),
            include_str!("../../../tests/fixtures/pods/privileged-runc-2.json"),
            include_str!("../../../tests/fixtures/pods/privileged-runc-3.json"),
        ]);
        let unprivileged = evidence.pods[0]
            .containers
            .iter()
            .find(|c| c.name == "root-unprivileged")
            .and_then(|c| c.message.clone())
            .unwrap();
        for c in &mut evidence.pods[0].containers {
            if c.name == crate::probes::CONTAINER {
                c.message = Some(unprivileged.clone());
            }
        }
        for c in &mut evidence.pods[1].containers {
            let message = c.message.clone().unwrap();
            c.message = Some(message.replace(NODE_PID, "pid:[4026532999]"));
        }
        let outcome = judge(&evidence).unwrap();
        assert_eq!(
            failed(&outcome),
            [
                "privilegedCapabilities",
                "addAllCapabilities",
                "privilegedSeccomp",
                "privilegedLink",
                "hostNamespaces"
            ]
        );
        // A kubelet that runs the pod with the unsafe sysctl.
        evidence.pods[2].phase = Some("Succeeded".into());
        evidence.pods[2].reason = None;
        let outcome = judge(&evidence).unwrap();
        assert!(failed(&outcome).contains(&"unsafeSysctl"), "{outcome:?}");
        evidence.pods[1].containers[0].message = None;
        let outcome = judge(&evidence).unwrap();
        assert_eq!(
            (outcome.verdict, outcome.reason.as_str()),
            (Verdict::Error, "NotReported")
        );
        assert!(outcome.message.ends_with(": host-1"), "{}", outcome.message);
    }

    #[test]
    fn the_pods_of_one_attempt_share_a_host_port_that_differs_between_runs() {
        let port = host_port("run-1a2b3c-privileged-0-p1");
        assert_eq!(port, host_port("run-1a2b3c-privileged-0-p3"));
        assert_ne!(port, host_port("run-4d5e6f-privileged-0-p3"));
        assert!((20_000..30_000).contains(&port));
    }
}
