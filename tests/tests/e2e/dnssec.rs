//! DNSSEC through parapet (#14 item 6): zones signed at test time
//! (`dnssec-signzone`), served by NSD, validated by Unbound — all on
//! loopback. parapet must relay DO, CD and the DNSSEC records as the
//! upstream sent them, and pass AD on only from an upstream marked trusted.
//!
//! Each test first asks the real server directly, so that a failure through
//! parapet cannot be the fixture's.

use std::net::SocketAddr;

use anyhow::{Context, Result, ensure};
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{Record, RecordType};
use parapet_e2e::Parapet;
use parapet_e2e::client::{self, QueryOptions, addresses, rcode};
use parapet_e2e::nsd::Nsd;
use parapet_e2e::signing::{self, SignedZone};
use parapet_e2e::unbound::Unbound;

/// The signed zone's names: `www` (A), `txt` (TXT, no A).
const SIGNED: &str = "signed.test.";
/// A signed zone whose `www` A signature is damaged.
const BROKEN: &str = "broken.test.";

/// Signed zones served by NSD (and the directory holding them).
struct SignedWorld {
    dir: tempfile::TempDir,
    signed: SignedZone,
    broken: SignedZone,
    nsd: Nsd,
}

/// Sign both zones, break one signature, serve them with NSD; `None` (the
/// test skips) when a tool is missing.
fn signed_world(test: &str) -> Result<Option<SignedWorld>> {
    if !signing::signing_tools(test) || !Nsd::available(test) {
        return Ok(None);
    }
    let dir = tempfile::tempdir()?;
    let signed = signing::sign_zone(dir.path(), SIGNED, "www A 192.0.2.80\ntxt TXT \"signed\"")?;
    let broken = signing::sign_zone(dir.path(), BROKEN, "www A 192.0.2.81")?;
    signing::break_signature(&broken, "www.broken.test.", "A")?;
    let zones = [(SIGNED, signed.file.clone()), (BROKEN, broken.file.clone())];
    let nsd = Nsd::start(dir.path(), &zones)?;
    Ok(Some(SignedWorld {
        dir,
        signed,
        broken,
        nsd,
    }))
}

impl SignedWorld {
    /// A validating Unbound in front of NSD, trusting both zones' DS.
    fn validating_unbound(&self, test: &str) -> Result<Option<Unbound>> {
        if !Unbound::available(test) {
            return Ok(None);
        }
        let dir = self.dir.path().join("unbound");
        std::fs::create_dir_all(&dir)?;
        let unbound = Unbound::start(&dir, self.nsd.addr(), &[&self.signed, &self.broken], &[])?;
        Ok(Some(unbound))
    }
}

/// Query options with the DO, CD and AD bits as given.
fn flags(dnssec_ok: bool, checking_disabled: bool, authentic_data: bool) -> QueryOptions {
    QueryOptions {
        dnssec_ok,
        checking_disabled,
        authentic_data,
        ..QueryOptions::default()
    }
}

fn has(section: &[Record], rtype: RecordType) -> bool {
    section.iter().any(|r| r.record_type() == rtype)
}

fn any_dnssec(msg: &Message) -> bool {
    msg.all_sections().any(|r| r.record_type().is_dnssec())
}

/// A one-line summary of a response for assertion messages.
fn show(msg: &Message) -> String {
    let types = |s: &[Record]| {
        s.iter()
            .map(|r| r.record_type().to_string())
            .collect::<Vec<_>>()
    };
    format!(
        "{:?} ad={} cd={} answers={:?} authority={:?}",
        rcode(msg),
        msg.metadata.authentic_data,
        msg.metadata.checking_disabled,
        types(&msg.answers),
        types(&msg.authorities)
    )
}

/// parapet forwarding to `upstream`, which is marked trusted or not.
async fn parapet(upstream: SocketAddr, trusted: bool) -> Result<Parapet> {
    let trusted = if trusted {
        format!("\ntrusted = [\"{upstream}\"]")
    } else {
        String::new()
    };
    Parapet::builder(upstream)
        .section(
            "upstream",
            &format!("servers = [\"{upstream}\"]\ntimeout_ms = 2000{trusted}"),
        )
        .start()
        .await
}

/// Check the DNSSEC records of answers from `server` (NSD directly, or
/// parapet in front of it).
async fn check_dnssec_records(server: SocketAddr, who: &str) -> Result<()> {
    let q = |name: &'static str, rtype, dnssec_ok| async move {
        client::query(server, name, rtype, &flags(dnssec_ok, false, false)).await
    };
    let a = q("www.signed.test.", RecordType::A, true).await?;
    ensure!(
        addresses(&a) == ["192.0.2.80"] && has(&a.answers, RecordType::RRSIG),
        "{who}: DO query for an A gets the A and its RRSIG: {}",
        show(&a)
    );
    let nx = q("nope.signed.test.", RecordType::A, true).await?;
    ensure!(
        rcode(&nx) == ResponseCode::NXDomain
            && has(&nx.authorities, RecordType::SOA)
            && has(&nx.authorities, RecordType::NSEC)
            && has(&nx.authorities, RecordType::RRSIG),
        "{who}: DO query for a missing name gets NXDOMAIN with SOA, NSEC and RRSIG: {}",
        show(&nx)
    );
    let nodata = q("www.signed.test.", RecordType::TXT, true).await?;
    ensure!(
        rcode(&nodata) == ResponseCode::NoError
            && nodata.answers.is_empty()
            && has(&nodata.authorities, RecordType::NSEC)
            && has(&nodata.authorities, RecordType::RRSIG),
        "{who}: DO query for a missing type gets NODATA with NSEC and RRSIG: {}",
        show(&nodata)
    );
    for (name, rtype) in [
        ("www.signed.test.", RecordType::A),
        ("nope.signed.test.", RecordType::A),
    ] {
        let plain = q(name, rtype, false).await?;
        ensure!(
            !any_dnssec(&plain),
            "{who}: without DO, no DNSSEC records for {name}: {}",
            show(&plain)
        );
    }
    Ok(())
}

#[tokio::test]
async fn do_queries_get_rrsig_and_nsec_from_a_signed_zone() -> Result<()> {
    let Some(world) = signed_world("do_queries_get_rrsig_and_nsec_from_a_signed_zone")? else {
        return Ok(());
    };
    check_dnssec_records(world.nsd.addr(), "NSD directly").await?;
    let p = parapet(world.nsd.addr(), false).await?;
    check_dnssec_records(p.addr(), "parapet").await
}

/// AD from `server` for `www.signed.test. A` queried with DO, AD and CD as
/// given.
async fn ad_bit(server: SocketAddr, dnssec_ok: bool, authentic_data: bool) -> Result<bool> {
    let opts = flags(dnssec_ok, false, authentic_data);
    let msg = client::query(server, "www.signed.test.", RecordType::A, &opts).await?;
    ensure!(
        addresses(&msg) == ["192.0.2.80"],
        "answer for www.signed.test.: {}",
        show(&msg)
    );
    Ok(msg.metadata.authentic_data)
}

#[tokio::test]
async fn ad_passes_only_from_a_trusted_validating_upstream() -> Result<()> {
    let test = "ad_passes_only_from_a_trusted_validating_upstream";
    let Some(world) = signed_world(test)? else {
        return Ok(());
    };
    let Some(unbound) = world.validating_unbound(test)? else {
        return Ok(());
    };
    ensure!(
        ad_bit(unbound.addr(), true, false).await?,
        "the fixture: Unbound validates signed.test. and sets AD"
    );
    let untrusted = parapet(unbound.addr(), false).await?;
    for (dnssec_ok, ad) in [(true, false), (false, true), (true, true)] {
        ensure!(
            !ad_bit(untrusted.addr(), dnssec_ok, ad).await?,
            "upstream not marked trusted, client DO={dnssec_ok} AD={ad}: AD clear"
        );
    }
    let trusted = parapet(unbound.addr(), true).await?;
    for (dnssec_ok, ad) in [(true, false), (false, true), (true, true)] {
        ensure!(
            ad_bit(trusted.addr(), dnssec_ok, ad).await?,
            "trusted upstream, client DO={dnssec_ok} AD={ad}: AD set"
        );
    }
    ensure!(
        !ad_bit(trusted.addr(), false, false).await?,
        "trusted upstream, client set neither DO nor AD: AD clear (RFC 6840 §5.8)"
    );
    Ok(())
}

/// `www.broken.test. A` from `server`, with CD as given.
async fn broken_answer(server: SocketAddr, checking_disabled: bool) -> Result<Message> {
    let opts = flags(true, checking_disabled, false);
    client::query(server, "www.broken.test.", RecordType::A, &opts)
        .await
        .context("query www.broken.test.")
}

#[tokio::test]
async fn cd_returns_bogus_data_that_is_otherwise_servfail() -> Result<()> {
    let test = "cd_returns_bogus_data_that_is_otherwise_servfail";
    let Some(world) = signed_world(test)? else {
        return Ok(());
    };
    let Some(unbound) = world.validating_unbound(test)? else {
        return Ok(());
    };
    let unbound_plain = broken_answer(unbound.addr(), false).await?;
    ensure!(
        rcode(&unbound_plain) == ResponseCode::ServFail,
        "the fixture: Unbound refuses the bogus data: {}",
        show(&unbound_plain)
    );
    let p = parapet(unbound.addr(), false).await?;
    let plain = broken_answer(p.addr(), false).await?;
    ensure!(
        rcode(&plain) == ResponseCode::ServFail,
        "without CD, bogus data is SERVFAIL: {}",
        show(&plain)
    );
    let cd = broken_answer(p.addr(), true).await?;
    ensure!(
        rcode(&cd) == ResponseCode::NoError && addresses(&cd) == ["192.0.2.81"],
        "with CD, the bogus data is returned: {}",
        show(&cd)
    );
    ensure!(cd.metadata.checking_disabled, "CD echoed: {}", show(&cd));
    ensure!(
        !cd.metadata.authentic_data,
        "bogus data is never AD: {}",
        show(&cd)
    );
    Ok(())
}

/// The test's own fixture, checked without parapet: Unbound validates the
/// signed zone (AD), a signature altered by [`signing::break_signature`]
/// makes it answer SERVFAIL, and CD gets the data. Not ignored: it keeps
/// the fixture honest while the tests through parapet wait for #14.
#[tokio::test]
async fn the_signed_fixture_validates_and_the_broken_one_does_not() -> Result<()> {
    let test = "the_signed_fixture_validates_and_the_broken_one_does_not";
    let Some(world) = signed_world(test)? else {
        return Ok(());
    };
    let Some(unbound) = world.validating_unbound(test)? else {
        return Ok(());
    };
    ensure!(
        ad_bit(unbound.addr(), true, false).await?,
        "AD for signed.test."
    );
    let plain = broken_answer(unbound.addr(), false).await?;
    ensure!(rcode(&plain) == ResponseCode::ServFail, "{}", show(&plain));
    let cd = broken_answer(unbound.addr(), true).await?;
    ensure!(addresses(&cd) == ["192.0.2.81"], "{}", show(&cd));
    Ok(())
}
