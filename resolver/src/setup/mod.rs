//! `parapet setup`: the first-run step on a home box.
//!
//! Finds the box's address and network on the LAN ([`lan`]), writes the
//! home config for them ([`write`](mod@write): the shipped `config/home.toml` with the
//! box's address as sinkhole and warning page, its network in `[access]
//! allow`), checks that port 53 is free and says exactly what to do when
//! systemd-resolved or another DNS server holds it ([`port53`]; with
//! `--free-port-53` it writes resolved's drop-in itself), then prints the
//! one router setting to change.
//!
//! Everything it reads from the system comes through an [`Environment`], so
//! tests run it against a fake root, a chosen probe port and given
//! interfaces. Exit codes: 0 ready, 1 config written but port 53 needs the
//! step printed, 2 nothing written (no LAN address, a config that would be
//! lost, a write error).

pub(crate) mod lan;
pub(crate) mod port53;
pub(crate) mod write;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use ipnet::Ipv4Net;

use lan::{InterfaceAddr, Lan};
use port53::PortState;

/// Where the config goes by default (the package's conffile).
pub(crate) const DEFAULT_OUTPUT: &str = "/etc/parapet/parapet.toml";

/// `parapet setup` flags.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct SetupArgs {
    /// Where to write the config.
    #[arg(short, long, value_name = "FILE", default_value = DEFAULT_OUTPUT)]
    pub output: PathBuf,
    /// Replace a config that is not the shipped one (the old file is kept as
    /// FILE.parapet-setup-old). The shipped file is replaced without it.
    #[arg(long)]
    pub force: bool,
    /// If systemd-resolved's stub holds port 53, turn it off (writes
    /// /etc/systemd/resolved.conf.d/parapet.conf: DNSStubListener=no).
    #[arg(long = "free-port-53")]
    pub free_port_53: bool,
    /// The box's address and prefix, in place of the one found
    /// (192.168.1.2/24).
    #[arg(long, value_name = "IP/PREFIX")]
    pub address: Option<Ipv4Net>,
    /// Print the config and the checks; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Root of the files read and written (tests).
    #[arg(long, hide = true, default_value = "/")]
    pub root: PathBuf,
    /// Address probed for port 53 (tests).
    #[arg(long, hide = true, default_value = "0.0.0.0:53")]
    pub probe: SocketAddr,
}

/// What setup reads from the system.
#[derive(Debug, Clone)]
pub(crate) struct Environment {
    /// Root of the files read and written: the route table at
    /// `proc/net/route`, resolved's drop-in and `etc/resolv.conf` (`/`).
    pub root: PathBuf,
    /// Where sockets and processes are read (`/proc`).
    pub proc_dir: PathBuf,
    /// The address parapet will serve on, probed for port 53.
    pub probe: SocketAddr,
    /// The machine's IPv4 interface addresses.
    pub interfaces: Vec<InterfaceAddr>,
    /// Whether systemd runs (then setup restarts systemd-resolved itself).
    pub systemd: bool,
}

impl Environment {
    /// The running system, with the tests' overrides from `args`.
    ///
    /// # Errors
    /// The interfaces cannot be listed.
    pub(crate) fn system(args: &SetupArgs) -> std::io::Result<Environment> {
        Ok(Environment {
            root: args.root.clone(),
            proc_dir: PathBuf::from("/proc"),
            probe: args.probe,
            interfaces: lan::system_interfaces()?,
            systemd: args.root == Path::new("/") && Path::new("/run/systemd/system").is_dir(),
        })
    }
}

impl SetupArgs {
    /// Run on this system; returns the exit code.
    pub(crate) fn run(self) -> ExitCode {
        let env = match Environment::system(&self) {
            Ok(env) => env,
            Err(e) => {
                eprintln!("Error: cannot list this machine's network interfaces: {e}");
                return ExitCode::from(2);
            }
        };
        let mut out = std::io::stdout().lock();
        ExitCode::from(run_with(&self, &env, &mut out))
    }
}

/// Run setup with `args` in `env`, writing what it says to `out`; returns
/// the exit code (0 ready, 1 port 53 needs the printed step, 2 nothing
/// written).
pub(crate) fn run_with(args: &SetupArgs, env: &Environment, out: &mut dyn std::io::Write) -> u8 {
    let lan = match args.address {
        Some(net) => Lan {
            interface: "the given address".into(),
            address: net.addr(),
            network: net.trunc(),
            router: None,
        },
        None => match lan::find(&env.root.join("proc/net/route"), &env.interfaces) {
            Ok(lan) => lan,
            Err(message) => {
                let _ = writeln!(out, "Error: {message}");
                return 2;
            }
        },
    };
    let _ = writeln!(
        out,
        "This box: {} on {} (home network {}).",
        lan.address, lan.interface, lan.network
    );
    let config = write::home_config(&lan);
    if args.dry_run {
        let _ = writeln!(out, "Config (not written, --dry-run):\n{config}");
    } else if let Err(message) = write_config(args, &config, &lan, out) {
        let _ = writeln!(out, "Error: {message}");
        return 2;
    }
    let ready = port_53(args, env, out);
    router_step(&lan, out);
    if ready { 0 } else { 1 }
}

/// Write `config` to `args.output`, keeping a copy of a changed file under
/// `--force`.
fn write_config(
    args: &SetupArgs,
    config: &str,
    lan: &Lan,
    out: &mut dyn std::io::Write,
) -> Result<(), String> {
    let path = &args.output;
    if !write::replaceable(path, config) {
        if !args.force {
            return Err(format!(
                "{} exists and is not the shipped config: nothing written. Run again with \
                 --force to replace it (the old file is kept as {}), or with --output FILE.",
                path.display(),
                write::backup_path(path).display()
            ));
        }
        let backup = write::backup_path(path);
        std::fs::copy(path, &backup)
            .map_err(|e| format!("cannot keep a copy as {}: {e}", backup.display()))?;
        let _ = writeln!(out, "Kept the old config as {}.", backup.display());
    }
    write::write_file(path, config).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    let _ = writeln!(
        out,
        "Wrote {}: DNS for {} on port 53; blocked sites get {} and its warning page.",
        path.display(),
        lan.network,
        lan.address
    );
    Ok(())
}

/// Check port 53 (and free it from resolved on request); true when parapet
/// can serve once the config is in place.
fn port_53(args: &SetupArgs, env: &Environment, out: &mut dyn std::io::Write) -> bool {
    let port = env.probe.port();
    let state = port53::probe(env.probe, &env.proc_dir);
    let resolved =
        matches!(&state, PortState::Held(h) if h.iter().any(port53::Holder::is_resolved_stub));
    if resolved && args.free_port_53 && !args.dry_run {
        match write::free_port_53(&env.root) {
            Ok(done) => {
                for line in done {
                    let _ = writeln!(out, "Port {port}: {line}.");
                }
                return restart_resolved(env, out);
            }
            Err(e) => {
                let _ = writeln!(
                    out,
                    "Port {port}: cannot free it from systemd-resolved: {e}"
                );
                return false;
            }
        }
    }
    let (text, ready) = port53::advice(&state, port);
    let _ = writeln!(out, "{text}");
    // The other states' advice ends with the restart already.
    if matches!(state, PortState::Free) && !args.dry_run {
        let _ = writeln!(
            out,
            "Restart parapet to use the new config: sudo systemctl restart parapet"
        );
    }
    ready
}

/// After the drop-in: restart resolved where systemd runs, else say to.
fn restart_resolved(env: &Environment, out: &mut dyn std::io::Write) -> bool {
    if !env.systemd {
        let _ = writeln!(
            out,
            "Now run: sudo systemctl restart systemd-resolved parapet"
        );
        return false;
    }
    let restarted = std::process::Command::new("systemctl")
        .args(["restart", "systemd-resolved"])
        .status()
        .is_ok_and(|s| s.success());
    let free = matches!(port53::probe(env.probe, &env.proc_dir), PortState::Free);
    let _ = writeln!(
        out,
        "systemd-resolved {}; port {} is {}. Now run: sudo systemctl restart parapet",
        if restarted {
            "restarted"
        } else {
            "did not restart"
        },
        env.probe.port(),
        if free { "free" } else { "still held" }
    );
    restarted && free
}

/// The one router setting, and how to check it worked.
fn router_step(lan: &Lan, out: &mut dyn std::io::Write) {
    let where_ = match lan.router {
        Some(router) => format!(" (its settings page is usually http://{router})"),
        None => String::new(),
    };
    let _ = writeln!(
        out,
        "\nOne setting to change, on your router{where_}:\n  \
         in its LAN or DHCP settings, set the DNS server it gives to devices to {addr}, \
         and remove any second DNS server\n  \
         (devices use either one, and a second one is not protected).\n\
         While there, reserve {addr} for this box (\"DHCP reservation\" or \"static lease\") \
         so its address never changes.\n\
         Devices pick the change up when they reconnect; then open \
         http://check.parapet.test on your phone.",
        addr = lan.address
    );
}
