//! Config parsing: any text gives a config or a clear error, never a panic,
//! and a config that validates renders (`parapet --print-config`) to TOML
//! that validates again to the same config.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use parapet_fuzz::internals::from_toml_str;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let base = Path::new("/nonexistent/parapet");
    let config = match from_toml_str(text, base) {
        Ok(config) => config,
        Err(error) => {
            assert!(!error.to_string().is_empty(), "an error says what is wrong");
            return;
        }
    };
    let rendered = config.to_toml();
    let again = from_toml_str(&rendered, base)
        .unwrap_or_else(|e| panic!("rendered config does not validate: {e}\n{rendered}"));
    assert_eq!(again.to_toml(), rendered, "render, parse, render is stable");
});
