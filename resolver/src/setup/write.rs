//! What `parapet setup` writes: the config for this LAN, and (on request)
//! the systemd-resolved drop-in that frees port 53.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::lan::Lan;

/// The shipped home config: the package installs it as
/// `/etc/parapet/parapet.toml`, and setup fills in this box's address and
/// network.
pub(crate) const HOME_TEMPLATE: &str = include_str!("../../../config/home.toml");
/// The address in [`HOME_TEMPLATE`] that stands for the box.
const TEMPLATE_ADDRESS: &str = "192.168.1.2";
/// The network in [`HOME_TEMPLATE`] that stands for the LAN.
const TEMPLATE_NETWORK: &str = "192.168.1.0/24";

/// The resolved drop-in, relative to the root.
pub(crate) const RESOLVED_DROP_IN: &str = "etc/systemd/resolved.conf.d/parapet.conf";
/// First line of the drop-in: the package's purge removes only a file
/// that starts with it.
const DROP_IN_MARK: &str = "# Written by parapet setup";

/// The home config for `lan`: the shipped one with the box's address (the
/// sinkhole and the warning page) and network (`[access] allow`).
pub(crate) fn home_config(lan: &Lan) -> String {
    let body = HOME_TEMPLATE
        .replace(TEMPLATE_NETWORK, &lan.network.to_string())
        .replace(TEMPLATE_ADDRESS, &lan.address.to_string());
    format!(
        "# Written by `parapet setup` for {} on {} ({}).\n{body}",
        lan.address, lan.interface, lan.network
    )
}

/// Whether the file at `path` may be replaced by `new` without `--force`:
/// it does not exist, it is the shipped template, untouched, or it is `new`
/// already (setup run again). Anything else may hold the person's edits.
pub(crate) fn replaceable(path: &Path, new: &str) -> bool {
    match std::fs::read_to_string(path) {
        Ok(text) => text == HOME_TEMPLATE || text == new,
        Err(e) => e.kind() == std::io::ErrorKind::NotFound,
    }
}

/// Write `text` to `path` by rename (readers never see half a file), mode
/// 0644, creating the directory.
///
/// # Errors
/// The directory cannot be made or the file written.
pub(crate) fn write_file(path: &Path, text: &str) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(format!(".parapet-setup-{}", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .open(&tmp)?;
    let written = file
        .write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Free port 53 from systemd-resolved under `root`: write the drop-in
/// (`DNSStubListener=no`) and, when `/etc/resolv.conf` points at the stub
/// (`stub-resolv.conf`), point it at resolved's list of real upstreams so
/// the box itself keeps resolving. Returns what was done, one line each.
///
/// # Errors
/// A file could not be written.
pub(crate) fn free_port_53(root: &Path) -> std::io::Result<Vec<String>> {
    let mut done = Vec::new();
    let drop_in = root.join(RESOLVED_DROP_IN);
    write_file(
        &drop_in,
        &format!(
            "{DROP_IN_MARK}: parapet answers DNS on port 53, so resolved's stub \
             listener (127.0.0.53:53) is turned off.\n[Resolve]\nDNSStubListener=no\n"
        ),
    )?;
    done.push(format!("wrote {} (DNSStubListener=no)", drop_in.display()));
    let resolv = root.join("etc/resolv.conf");
    let points_at_stub =
        std::fs::read_link(&resolv).is_ok_and(|target| target.ends_with("stub-resolv.conf"));
    if points_at_stub {
        let tmp = root.join("etc/.resolv.conf.parapet-setup");
        let _ = std::fs::remove_file(&tmp);
        std::os::unix::fs::symlink("/run/systemd/resolve/resolv.conf", &tmp)?;
        std::fs::rename(&tmp, &resolv)?;
        done.push(format!(
            "pointed {} at /run/systemd/resolve/resolv.conf (the stub is gone)",
            resolv.display()
        ));
    }
    Ok(done)
}

/// Where `--force` keeps the file it replaces.
pub(crate) fn backup_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".parapet-setup-old");
    path.with_file_name(name)
}
