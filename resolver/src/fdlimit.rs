//! File descriptors for the connection caps: at start the soft
//! `RLIMIT_NOFILE` is raised as far as the caps need (up to the hard
//! limit), and caps that still do not fit are lowered with a warning, so
//! that a full connection table never leaves the resolver without
//! descriptors for upstream sockets (new names would then SERVFAIL).
#![allow(unsafe_code)] // getrlimit/setrlimit; each `unsafe` block states why it is sound

/// Descriptors kept beside the connection caps: listeners, upstream
/// sockets, the list, logs, watches and the metrics endpoint.
pub(crate) const RESERVE: u64 = 512;

/// Raise the soft descriptor limit towards `wanted` (never above the hard
/// limit, never lowering it) and return the soft limit now in force.
pub(crate) fn raise_to(wanted: u64) -> std::io::Result<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes only the struct it is given.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let target = wanted.min(limit.rlim_max);
    if limit.rlim_cur < target {
        let raised = libc::rlimit {
            rlim_cur: target,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: setrlimit reads only the struct it is given.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        limit.rlim_cur = target;
    }
    Ok(limit.rlim_cur)
}

/// The connection caps `(dns, warning_page)` that fit in `available`
/// descriptors beside [`RESERVE`]: unchanged when they fit, else both
/// scaled down alike (at least 16 each).
pub(crate) fn fit(dns: usize, warning_page: usize, available: u64) -> (usize, usize) {
    let wanted = (dns + warning_page) as u64;
    let room = available.saturating_sub(RESERVE);
    if wanted <= room {
        return (dns, warning_page);
    }
    let scale = |n: usize| usize::try_from(n as u64 * room / wanted.max(1)).unwrap_or(n);
    (scale(dns).max(16), scale(warning_page).max(16))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_that_fit_are_kept_and_others_scaled_down() {
        assert_eq!(fit(1024, 256, 65_536), (1024, 256));
        assert_eq!(fit(1024, 256, 1024 + 256 + RESERVE), (1024, 256));
        assert_eq!(fit(1024, 256, 1024), (409, 102));
        assert_eq!(fit(1024, 256, 100), (16, 16));
    }

    #[test]
    fn the_systemd_unit_gives_the_default_caps_their_descriptors() {
        let unit = include_str!("../../systemd/parapet.service");
        let limit: u64 = unit
            .lines()
            .find_map(|l| l.strip_prefix("LimitNOFILE="))
            .expect("LimitNOFILE in parapet.service")
            .trim()
            .parse()
            .expect("a number");
        let caps =
            crate::conntable::DEFAULT_MAX_CONNECTIONS + crate::warning::DEFAULT_MAX_CONNECTIONS;
        assert!(limit >= caps as u64 + RESERVE, "LimitNOFILE={limit}");
    }

    #[test]
    fn the_soft_limit_is_raised_not_lowered() {
        let now = raise_to(0).unwrap();
        assert_eq!(raise_to(1).unwrap(), now, "never lowered");
        assert!(raise_to(now + 1).unwrap() >= now);
    }
}
