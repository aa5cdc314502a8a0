//! Just enough of runc's command line to find the subcommand and the arguments a fault needs.

use std::ffi::OsString;
use std::path::PathBuf;

/// What runc is being asked to do, as far as any fault cares.
#[derive(Debug, PartialEq, Eq)]
pub enum Invocation {
    /// `create` or `run`: a new container from a bundle.
    Create {
        bundle: PathBuf,
    },
    /// `exec`: a new process in a running container, described by the `--process` file.
    Exec {
        process: Option<PathBuf>,
    },
    /// `kill`: `signal_at` is the index (in the arguments after argv[0]) where the signal is or,
    /// when `present` is false, where runc's default (SIGTERM) would have to be written.
    Kill {
        signal_at: usize,
        present: bool,
        id: Option<String>,
    },
    /// `delete`: the container's end.
    Delete {
        id: Option<String>,
    },
    Other,
}

/// The arguments before the subcommand: what a nested runc call (`runc state`) must repeat.
pub fn global_args(args: &[OsString]) -> Vec<OsString> {
    let strs: Vec<&str> = args.iter().map(|a| a.to_str().unwrap_or("")).collect();
    let mut i = 0;
    while i < strs.len() && strs[i].starts_with('-') {
        i += if takes_value(strs[i], GLOBAL_FLAGS_WITH_VALUE) {
            2
        } else {
            1
        };
    }
    args[..i.min(args.len())].to_vec()
}

/// runc's global flags that take a value (`--root /run/runc`), before the subcommand.
const GLOBAL_FLAGS_WITH_VALUE: &[&str] =
    &["--root", "--log", "--log-format", "--criu", "--rootless"];
/// Flags of `create`/`run`/`kill` that take a value.
const COMMAND_FLAGS_WITH_VALUE: &[&str] = &[
    "--process",
    "-p",
    "--bundle",
    "-b",
    "--console-socket",
    "--pid-file",
    "--preserve-fds",
];

impl Invocation {
    /// `args` are runc's arguments without argv[0].
    pub fn parse(args: &[OsString]) -> Invocation {
        let strs: Vec<&str> = args.iter().map(|a| a.to_str().unwrap_or("")).collect();
        let mut i = 0;
        while i < strs.len() && strs[i].starts_with('-') {
            i += if takes_value(strs[i], GLOBAL_FLAGS_WITH_VALUE) {
                2
            } else {
                1
            };
        }
        let Some(&command) = strs.get(i) else {
            return Invocation::Other;
        };
        let (flags, positionals) = split_command_args(&strs, i + 1);
        match command {
            "create" | "run" => {
                let bundle = flag_value(&flags, &["--bundle", "-b"])
                    .map(PathBuf::from)
                    .or_else(|| std::env::current_dir().ok())
                    .unwrap_or_default();
                Invocation::Create { bundle }
            }
            "exec" => Invocation::Exec {
                process: flag_value(&flags, &["--process", "-p"]).map(PathBuf::from),
            },
            "kill" => {
                let id = positionals.first().map(|&i| strs[i].to_owned());
                match positionals.get(1) {
                    Some(&at) => Invocation::Kill {
                        signal_at: at,
                        present: true,
                        id,
                    },
                    None => Invocation::Kill {
                        signal_at: strs.len(),
                        present: false,
                        id,
                    },
                }
            }
            "delete" => Invocation::Delete {
                id: positionals.first().map(|&i| strs[i].to_owned()),
            },
            _ => Invocation::Other,
        }
    }
}

fn takes_value(flag: &str, with_value: &[&str]) -> bool {
    !flag.contains('=') && with_value.contains(&flag)
}

/// Splits a subcommand's arguments (from `start`) into `(flag, value)` pairs and the indices of
/// positional arguments.
fn split_command_args<'a>(strs: &[&'a str], start: usize) -> (Vec<(&'a str, &'a str)>, Vec<usize>) {
    let mut flags = Vec::new();
    let mut positionals = Vec::new();
    let mut i = start;
    while i < strs.len() {
        let arg = strs[i];
        if arg == "--" {
            positionals.extend(i + 1..strs.len());
            break;
        }
        if arg.starts_with('-') && arg.len() > 1 {
            if let Some((flag, value)) = arg.split_once('=') {
                flags.push((flag, value));
            } else if takes_value(arg, COMMAND_FLAGS_WITH_VALUE) {
                flags.push((arg, strs.get(i + 1).copied().unwrap_or("")));
                i += 1;
            } else {
                flags.push((arg, ""));
            }
        } else {
            positionals.push(i);
        }
        i += 1;
    }
    (flags, positionals)
}

fn flag_value<'a>(flags: &[(&'a str, &'a str)], names: &[&str]) -> Option<&'a str> {
    flags
        .iter()
        .rev()
        .find(|(flag, _)| names.contains(flag))
        .map(|(_, value)| *value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Invocation {
        let args: Vec<OsString> = line.split_whitespace().map(OsString::from).collect();
        Invocation::parse(&args)
    }

    #[test]
    fn create_as_the_containerd_shim_calls_it_finds_the_bundle() {
        let invocation = parse(
            "--root /run/containerd/runc/k8s.io --log /b/log.json --log-format json \
             create --bundle /b --pid-file /b/init.pid abc123",
        );
        assert_eq!(
            invocation,
            Invocation::Create {
                bundle: PathBuf::from("/b")
            }
        );
    }

    #[test]
    fn bundle_given_with_equals_sign_or_short_flag_is_found() {
        assert_eq!(
            parse("create --bundle=/x id"),
            Invocation::Create {
                bundle: PathBuf::from("/x")
            }
        );
        assert_eq!(
            parse("--systemd-cgroup run -b /y id"),
            Invocation::Create {
                bundle: PathBuf::from("/y")
            }
        );
    }

    #[test]
    fn kill_signal_position_is_found_after_flags() {
        let line = "--root /r --log /l kill --all abc 15";
        assert_eq!(
            parse(line),
            Invocation::Kill {
                signal_at: 7,
                present: true,
                id: Some("abc".into())
            }
        );
    }

    #[test]
    fn kill_without_signal_points_past_the_end() {
        assert_eq!(
            parse("kill abc"),
            Invocation::Kill {
                signal_at: 2,
                present: false,
                id: Some("abc".into())
            }
        );
        assert_eq!(
            parse("--root /r delete --force abc"),
            Invocation::Delete {
                id: Some("abc".into())
            }
        );
        let args: Vec<OsString> = "--root /r --log /l kill abc 9"
            .split(' ')
            .map(OsString::from)
            .collect();
        assert_eq!(global_args(&args), args[..4].to_vec());
    }

    #[test]
    fn other_commands_are_passed_through() {
        assert_eq!(parse("--root /r state abc"), Invocation::Other);
        assert_eq!(
            parse("--root /r exec --process /p.json --detach --pid-file /x abc"),
            Invocation::Exec {
                process: Some(PathBuf::from("/p.json"))
            }
        );
        assert_eq!(parse("--version"), Invocation::Other);
    }
}
