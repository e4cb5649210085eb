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
fn a_public_suffix_to_protect_is_a_config_error_naming_its_key() {
    let config = crate::config::from_toml_str(
        "[upstream]\nservers = [\"127.0.0.1:53\"]\n\
         [lookalikes]\nprotect = [\"gov.uk\", \"com\", \"party.example\", \"co.uk\"]\n",
        std::path::Path::new("."),
    );
    let text = config.unwrap_err().to_string();
    for want in [
        "lookalikes.protect[1]: \"com\" is a public suffix",
        "lookalikes.protect[3]: \"co.uk\" is a public suffix",
    ] {
        assert!(text.contains(want), "{want} missing from: {text}");
    }
    // gov.uk is in the default set: accepted.
    assert!(!text.contains("lookalikes.protect[0]"), "{text}");
    assert!(!text.contains("lookalikes.protect[2]"), "{text}");
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
