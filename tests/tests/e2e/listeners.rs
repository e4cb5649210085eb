//! Start-up and listeners: overlapping listeners are refused before
//! anything is bound, a port held by another program is named with the key
//! that asked for it, and `[server] freebind` binds an address that is not
//! on the machine.

use anyhow::Result;
use parapet_e2e::{Parapet, Upstream};

#[tokio::test]
async fn start_refuses_two_listeners_on_one_port_naming_both_keys() -> Result<()> {
    let up = Upstream::start().await;
    // Refused while validating: port 8053 is never bound.
    let error = Parapet::builder(up.addr())
        .section("server", "listen = [\"0.0.0.0:0\", \"127.0.0.1:8053\"]")
        .section("metrics", "listen = \"0.0.0.0:8053\"")
        .start()
        .await
        .err()
        .expect("an overlap must not start");
    let text = error.to_string();
    assert!(
        text.contains("metrics.listen: 0.0.0.0:8053 overlaps server.listen[1] 127.0.0.1:8053"),
        "{text}"
    );
    Ok(())
}

#[tokio::test]
async fn a_port_held_by_another_program_names_the_key() -> Result<()> {
    let up = Upstream::start().await;
    let taken = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = taken.local_addr()?;
    let error = Parapet::builder(up.addr())
        .section("metrics", &format!("listen = \"{addr}\""))
        .start()
        .await
        .err()
        .expect("a taken port must not start");
    let text = error.to_string();
    assert!(
        text.contains(&format!("metrics.listen: cannot listen on {addr}: ")),
        "{text}"
    );
    assert!(text.contains("another program is using it"), "{text}");
    Ok(())
}

#[tokio::test]
async fn freebind_binds_an_address_not_on_this_machine() -> Result<()> {
    let up = Upstream::start().await;
    // TEST-NET-2: on no interface.
    let page = "warning_page";
    let absent = "listen = [\"198.51.100.7:0\"]\ntls_listen = []";
    let error = Parapet::builder(up.addr())
        .section(page, absent)
        .start()
        .await
        .err()
        .expect("an absent address must not start without freebind");
    let text = error.to_string();
    assert!(
        text.contains("warning_page.listen: cannot listen on 198.51.100.7:0"),
        "{text}"
    );
    assert!(text.contains("server.freebind = true"), "{text}");

    let p = Parapet::builder(up.addr())
        .section("server", "listen = [\"127.0.0.1:0\"]\nfreebind = true")
        .section(page, absent)
        .start()
        .await?;
    let bound = p.server().warning_page_addrs();
    assert_eq!(bound.len(), 1);
    assert_eq!(bound[0].ip().to_string(), "198.51.100.7");
    p.stop().await
}
