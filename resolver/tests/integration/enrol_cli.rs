//! The real `parapet` binary's enrolment verbs: `token` and `profile`.

use std::process::Command;

fn parapet(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_parapet"))
        .args(args)
        .output()
        .expect("run parapet");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn token_new_then_profiles_then_revoke() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    let tokens = tokens.to_str().unwrap();
    let (ok, out, err) = parapet(&["token", "new", "--label", "alice-phone", "--file", tokens]);
    assert!(ok, "{err}");
    let token = out
        .lines()
        .find_map(|l| l.strip_prefix("token: "))
        .expect("the token is printed")
        .to_owned();
    let stored = std::fs::read_to_string(tokens).unwrap();
    let (_, hash, _) = parapet(&["token", "hash", &token]);
    assert_eq!(
        stored,
        format!("{} alice-phone\n", hash.trim()),
        "only the hash is stored"
    );

    let (ok, out, _) = parapet(&[
        "profile",
        "android",
        "--host",
        "dns.example.org",
        "--token",
        &token,
    ]);
    assert!(ok);
    assert!(
        out.starts_with(&format!("Private DNS hostname: {token}.dns.example.org\n")),
        "{out}"
    );

    let file = dir.path().join("alice.mobileconfig");
    let (ok, _, err) = parapet(&[
        "profile",
        "apple",
        "--host",
        "dns.example.org",
        "--token",
        &token,
        "-o",
        file.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let top = plist::Value::from_file(&file)
        .unwrap()
        .into_dictionary()
        .unwrap();
    let payload = top["PayloadContent"].as_array().unwrap()[0]
        .as_dictionary()
        .unwrap();
    assert_eq!(
        payload["PayloadType"].as_string(),
        Some("com.apple.dnsSettings.managed")
    );
    let settings = payload["DNSSettings"].as_dictionary().unwrap();
    assert_eq!(
        settings["ServerURL"].as_string().unwrap(),
        format!("https://dns.example.org/dns-query/{token}")
    );

    let (ok, _, _) = parapet(&["token", "revoke", "--file", tokens, "alice-phone"]);
    assert!(ok);
    assert_eq!(std::fs::read_to_string(tokens).unwrap(), "");
    let (ok, _, err) = parapet(&["token", "revoke", "--file", tokens, "alice-phone"]);
    assert!(!ok && err.contains("no token"), "{err}");
}

#[test]
fn bad_host_or_token_is_a_usage_error() {
    let (ok, _, err) = parapet(&["profile", "apple", "--host", "not a host"]);
    assert!(!ok && err.contains("--host"), "{err}");
    let (ok, _, err) = parapet(&[
        "profile",
        "android",
        "--host",
        "dns.example.org",
        "--token",
        "a.b",
    ]);
    assert!(!ok && err.contains("--token"), "{err}");
}

#[test]
fn token_new_and_revoke_keep_the_file_mode() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens");
    std::fs::write(&path, "# staff\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    let mode = || std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777;
    let tokens = path.to_str().unwrap();
    let (ok, _, err) = parapet(&["token", "new", "--label", "bob", "--file", tokens]);
    assert!(ok, "{err}");
    assert_eq!(mode(), 0o640, "token new kept the mode");
    let (ok, out, err) = parapet(&["token", "revoke", "--file", tokens, "bob"]);
    assert!(ok && out.contains("revoked 1"), "{out}{err}");
    assert_eq!(mode(), 0o640, "token revoke kept the mode");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "# staff\n");
}
