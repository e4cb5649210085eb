use super::*;

#[test]
fn config_problems_name_their_key() {
    let config = crate::config::from_toml_str(
        "[lookalikes]\nprotect = [\"gmail.com\", \"http://x\"]\nallow = [\"ok.example\", \"a..b\"]\naction = \"warn\"\n",
        std::path::Path::new("."),
    );
    let text = config.unwrap_err().to_string();
    for key in [
        "lookalikes.protect[1]",
        "lookalikes.allow[1]",
        "lookalikes.action",
    ] {
        assert!(text.contains(key), "{key} missing from: {text}");
    }
    assert!(!text.contains("lookalikes.protect[0]"), "{text}");
}

#[test]
fn config_defaults_and_actions() {
    use config::{LookalikeAction, RawLookalikes};
    let (c, issues) = RawLookalikes::default().validate();
    assert!(issues.is_empty());
    assert_eq!(c.action, LookalikeAction::Block);
    let off = Lookalikes::new(&LookalikeConfig {
        action: LookalikeAction::Off,
        ..c.clone()
    })
    .unwrap();
    assert_eq!(off.check([&b"gmaill"[..], b"com"].into_iter()), None);
    let on = Lookalikes::new(&c).unwrap();
    let hit = on.check([&b"GMAILL"[..], b"com"].into_iter()).unwrap();
    assert_eq!(hit.imitates, "gmail.com");
    assert_eq!(
        config::ede_text(hit.imitates),
        "Blocked: lookalike (imitates gmail.com)"
    );
}
