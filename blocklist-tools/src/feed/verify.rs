//! The guards a feed body passes while it streams in: its SHA-256 (for a
//! pin) and its minisign signature, both over the bytes as served.

use std::io::{self, Read};

use minisign_verify::{PublicKey, Signature, StreamVerifier};
use sha2::{Digest, Sha256};

/// Largest signature file read: real ones are about 300 bytes.
pub(crate) const MAX_SIGNATURE_BYTES: u64 = 64 * 1024;

/// A feed's minisign key and the signature it must verify.
pub(crate) struct SignatureCheck {
    key: PublicKey,
    signature: Signature,
}

impl SignatureCheck {
    /// Decode `key` (base64) and `signature` (the text of a `.minisig` file).
    pub(crate) fn new(key: &str, signature: &str) -> Result<SignatureCheck, String> {
        let key = PublicKey::from_base64(key.trim())
            .map_err(|e| format!("minisign_key is not a minisign public key: {e}"))?;
        let signature = Signature::decode(signature)
            .map_err(|e| format!("signature is not a minisign signature: {e}"))?;
        Ok(SignatureCheck { key, signature })
    }

    /// The signature's trusted comment (covered by the signature: only
    /// meaningful once the body has verified).
    pub(crate) fn trusted_comment(&self) -> &str {
        self.signature.trusted_comment()
    }
}

/// A reader that hashes and signature-checks every byte that passes.
pub(crate) struct Tee<'a, R> {
    inner: R,
    sha256: Sha256,
    verifier: Option<StreamVerifier<'a>>,
    bytes: u64,
}

impl<'a, R: Read> Tee<'a, R> {
    /// Wrap `inner`; with `check`, the bytes must carry its signature.
    pub(crate) fn new(inner: R, check: Option<&'a SignatureCheck>) -> Result<Self, String> {
        let verifier = match check {
            None => None,
            Some(check) => Some(check.key.verify_stream(&check.signature).map_err(|e| {
                format!("signature cannot be checked with minisign_key: {e} (legacy, non-prehashed signatures are not accepted)")
            })?),
        };
        Ok(Tee {
            inner,
            sha256: Sha256::new(),
            verifier,
            bytes: 0,
        })
    }

    /// Bytes read so far.
    pub(crate) fn bytes_read(&self) -> u64 {
        self.bytes
    }

    /// The SHA-256 (hex) of everything read, and the signature verdict.
    pub(crate) fn finish(self) -> (String, Result<(), String>) {
        let sha256 = hex::encode(self.sha256.finalize());
        let signature = match self.verifier {
            None => Ok(()),
            Some(mut verifier) => verifier
                .finalize()
                .map_err(|e| format!("minisign signature does not verify with minisign_key: {e}")),
        };
        (sha256, signature)
    }
}

impl<R: Read> Read for Tee<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.sha256.update(&buf[..n]);
        if let Some(verifier) = &mut self.verifier {
            verifier.update(&buf[..n]);
        }
        self.bytes += n as u64;
        Ok(n)
    }
}

/// Compare a body's SHA-256 with the feed's pin.
pub(crate) fn check_pin(pin: Option<&str>, sha256: &str) -> Result<(), String> {
    match pin {
        Some(pin) if !pin.eq_ignore_ascii_case(sha256) => Err(format!(
            "sha256 {sha256} does not match the pinned {}",
            pin.to_ascii_lowercase()
        )),
        _ => Ok(()),
    }
}
