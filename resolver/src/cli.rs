//! Command line of the `parapet` binary.
//!
//! `parapet --config FILE` serves; `parapet check-config FILE` validates
//! and prints the effective config; `parapet explain --config FILE NAME...`
//! says why a name is blocked, in the warning page's words. Exit codes: 0 ok, 1 runtime failure,
//! 2 invalid config or usage. Add a verb by adding a [`Command`] variant
//! and a match arm in [`Cli::run`].

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use crate::config;

/// Exit code: success.
pub(crate) const EXIT_OK: u8 = 0;
/// Exit code: the server failed while running.
pub(crate) const EXIT_RUNTIME: u8 = 1;
/// Exit code: invalid config or usage.
pub(crate) const EXIT_CONFIG: u8 = 2;

/// parapet: a protective DNS resolver.
#[derive(Debug, Parser)]
#[command(name = "parapet", version, about)]
pub struct Cli {
    /// Config file to serve with.
    #[arg(short, long, value_name = "FILE", global = true)]
    pub(crate) config: Option<PathBuf>,
    /// Only log warnings and errors.
    #[arg(short, long, global = true)]
    pub(crate) quiet: bool,
    /// Log debug detail (per-query lines).
    #[arg(short, long, global = true, conflicts_with = "quiet")]
    pub(crate) debug: bool,
    /// What to do (default: serve).
    #[command(subcommand)]
    pub(crate) command: Option<Command>,
}

/// Verbs.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Validate a config file and print the effective config.
    CheckConfig {
        /// The config file.
        file: PathBuf,
    },
    /// Explain in plain words what the config's list does with names (the
    /// same words as the warning page): `parapet explain --config FILE NAME...`
    Explain {
        /// Site names, links (`https://name/path`) or IP addresses.
        #[arg(required = true, value_name = "NAME")]
        names: Vec<String>,
    },
    /// Make, hash or revoke DoT/DoH access tokens.
    #[command(subcommand)]
    Token(crate::enrol::TokenCommand),
    /// Write a device profile (Apple .mobileconfig, Android Private DNS).
    #[command(subcommand)]
    Profile(crate::enrol::ProfileCommand),
    /// First run on a home box: find the LAN, check port 53, write the config.
    Setup(crate::setup::SetupArgs),
}

impl Cli {
    /// The default log filter for `-q`/`-d` (`RUST_LOG` overrides it).
    pub fn log_filter(&self) -> &'static str {
        if self.quiet {
            "warn"
        } else if self.debug {
            "debug,hickory_proto=info,hickory_net=info,hickory_resolver=info"
        } else {
            "info,hickory_server=warn,hickory_proto=warn,hickory_net=warn,hickory_resolver=warn"
        }
    }

    /// Run the command; returns the process exit code.
    pub fn run(self) -> ExitCode {
        match self.command {
            Some(Command::CheckConfig { file }) => check_config(&file),
            Some(Command::Explain { names }) => explain(self.config.as_deref(), &names),
            Some(Command::Token(cmd)) => cmd.run(),
            Some(Command::Profile(cmd)) => cmd.run(),
            Some(Command::Setup(args)) => args.run(),
            None => {
                let Some(path) = self.config else {
                    eprintln!(
                        "Error: no config file: run `parapet --config FILE` (see config/dev.toml)"
                    );
                    return ExitCode::from(EXIT_CONFIG);
                };
                serve(&path)
            }
        }
    }
}

fn check_config(file: &std::path::Path) -> ExitCode {
    // Values, then the files they name: what start-up runs too.
    match crate::preflight::load(file) {
        Ok((cfg, _loaded)) => {
            // The list as the server would load it: the same refusals; an
            // artifact not published yet is served as no list.
            let loaded = match crate::reload::missing_artifact(&cfg.blocklist) {
                Some(path) => {
                    eprintln!(
                        "Warning: blocklist.path: {} does not exist yet. parapet will serve DNS \
                         without protection until `parapet-blocklist update` publishes it.",
                        path.display()
                    );
                    crate::reload::empty()
                }
                None => crate::reload::load(&cfg.blocklist),
            };
            let list = match loaded {
                Ok(list) => list.stats(),
                Err(e) => {
                    eprintln!("Error: blocklist: {e}");
                    return ExitCode::from(EXIT_CONFIG);
                }
            };
            let printed = crate::stdout::print(&format!(
                "# {}: OK ({} domain rules, {} IP ranges). Effective config:\n{}",
                file.display(),
                list.domain_rules,
                list.ip_rules,
                cfg.to_toml()
            ));
            if let Err(e) = printed {
                return crate::stdout::failed(&e);
            }
            for warning in crate::wildcard_check::dot_token_warnings(&cfg) {
                eprintln!("{warning}");
            }
            ExitCode::from(EXIT_OK)
        }
        Err(e) => {
            eprintln!("Error: {e}");
            ExitCode::from(EXIT_CONFIG)
        }
    }
}

fn explain(config_path: Option<&std::path::Path>, names: &[String]) -> ExitCode {
    let Some(path) = config_path else {
        eprintln!("Error: no config file: run `parapet explain --config FILE NAME...`");
        return ExitCode::from(EXIT_CONFIG);
    };
    let cfg = match config::load(path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("Error: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let list = match crate::reload::load(&cfg.blocklist) {
        Ok(list) => list,
        Err(e) => {
            eprintln!("Error: cannot load the blocklist: {e}");
            return ExitCode::from(EXIT_RUNTIME);
        }
    };
    let lookalikes = crate::lookalike::Lookalikes::new(&cfg.lookalikes).ok();
    let texts: Vec<String> = names
        .iter()
        .map(|name| {
            crate::warning::explain_with(&list, lookalikes.as_ref(), name, &cfg.warning_page)
                .trim_end()
                .to_string()
        })
        .collect();
    match crate::stdout::print(&format!("{}\n", texts.join("\n\n"))) {
        Ok(()) => ExitCode::from(EXIT_OK),
        Err(e) => crate::stdout::failed(&e),
    }
}

fn serve(path: &std::path::Path) -> ExitCode {
    // Values and the files they name, every problem at once.
    let (cfg, loaded) = match crate::preflight::load(path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("Error: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let runtime = match runtime(cpus) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("Error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_RUNTIME);
        }
    };
    match runtime.block_on(crate::server::run(cfg, loaded, CancellationToken::new())) {
        Ok(()) => ExitCode::from(EXIT_OK),
        Err(e) => {
            eprintln!("Error: {e}");
            ExitCode::from(EXIT_RUNTIME)
        }
    }
}

/// The async runtime for a process that may use `cpus` CPUs: tokio's
/// single-threaded scheduler for one (pinned, or a one-CPU machine), where
/// the multi-threaded one would still run a single worker but pay for its
/// cross-thread machinery on every task wake-up (a few percent of CPU per
/// forwarded query in the load benchmark); else the multi-threaded one, a
/// worker per CPU. Blocking work (list reloads) has its own pool either way.
fn runtime(cpus: usize) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = if cpus <= 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    builder.enable_all().build()
}

#[cfg(test)]
mod tests {
    use tokio::runtime::RuntimeFlavor;

    use super::runtime;

    #[test]
    fn one_cpu_gets_the_single_threaded_runtime() {
        let rt = runtime(1).expect("runtime");
        assert_eq!(rt.handle().runtime_flavor(), RuntimeFlavor::CurrentThread);
        // Blocking work still has its own pool, as list reloads need.
        let got = rt.block_on(async { tokio::task::spawn_blocking(|| 7).await });
        assert_eq!(got.expect("blocking task"), 7);
    }

    #[test]
    fn several_cpus_get_the_multi_threaded_runtime() {
        let rt = runtime(2).expect("runtime");
        assert_eq!(rt.handle().runtime_flavor(), RuntimeFlavor::MultiThread);
    }
}
