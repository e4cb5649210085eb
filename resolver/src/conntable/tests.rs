use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().expect("ip")
}

#[test]
fn a_full_client_loses_its_longest_idle_connection_not_others() {
    let table = Arc::new(ConnTable::new(10, 2));
    let a1 = table.admit(ip("127.0.0.2"), false).expect("a1");
    let a2 = table.admit(ip("127.0.0.2"), false).expect("a2");
    let b = table.admit(ip("127.0.0.3"), true).expect("b");
    let _a1_busy = a1.busy();
    let a3 = table.admit(ip("127.0.0.2"), false).expect("a3 replaces a2");
    assert!(a2.entry.close.is_cancelled(), "idle a2 was closed");
    assert!(!a1.entry.close.is_cancelled() && !b.entry.close.is_cancelled());
    assert_eq!(table.len(), 3);
    // a1 busy, a3 idle: a4 replaces a3; then both busy: refused.
    let _a4 = table.admit(ip("127.0.0.2"), false).expect("a4");
    assert!(a3.entry.close.is_cancelled());
    let _a4_busy = _a4.busy();
    assert!(table.admit(ip("127.0.0.2"), false).is_none(), "all busy");
    drop(a2);
    drop(a3);
    assert_eq!(table.len(), 3, "evicted slots are not released twice");
}

#[test]
fn a_full_table_closes_untrusted_then_the_biggest_holder_then_the_longest_idle() {
    let table = Arc::new(ConnTable::new(4, 4));
    let trusted_old = table.admit(ip("10.0.0.1"), true).expect("t");
    let untrusted = table.admit(ip("10.0.0.2"), false).expect("u");
    let big1 = table.admit(ip("10.0.0.3"), true).expect("b1");
    let big2 = table.admit(ip("10.0.0.3"), true).expect("b2");
    let _n1 = table.admit(ip("10.0.0.4"), true).expect("n1");
    assert!(untrusted.entry.close.is_cancelled(), "untrusted goes first");
    let _n2 = table.admit(ip("10.0.0.5"), true).expect("n2");
    assert!(
        big1.entry.close.is_cancelled() && !big2.entry.close.is_cancelled(),
        "then the longest idle of the client with most slots"
    );
    assert!(!trusted_old.entry.close.is_cancelled());
    assert_eq!(table.len(), 4);
}

#[test]
fn released_slots_make_room_and_busy_tables_refuse() {
    let table = Arc::new(ConnTable::new(2, 2));
    let a = table.admit(ip("::1"), true).expect("a");
    let b = table.admit(ip("::1"), true).expect("b");
    let (_ba, _bb) = (a.busy(), b.busy());
    assert!(table.admit(ip("127.0.0.1"), true).is_none());
    drop((_ba, _bb, a));
    assert!(table.admit(ip("127.0.0.1"), true).is_some());
    drop(b);
    assert!(table.is_empty());
}

#[test]
fn clients_are_ipv4_addresses_and_ipv6_slash_64s() {
    assert_eq!(client_key(ip("::ffff:192.0.2.1")), ip("192.0.2.1"));
    assert_eq!(client_key(ip("2001:db8:1:2:3:4:5:6")), ip("2001:db8:1:2::"));
    let table = Arc::new(ConnTable::new(10, 1));
    let first = table.admit(ip("2001:db8::1"), true).expect("first");
    let _second = table.admit(ip("2001:db8::2"), true).expect("same /64");
    assert!(first.entry.close.is_cancelled(), "one /64 is one client");
}

#[tokio::test]
async fn untrusted_connections_are_told_to_close_after_the_grace() {
    let table = Arc::new(ConnTable::new(10, 10));
    let slot = table.admit(ip("192.0.2.1"), false).expect("slot");
    let grace = Duration::from_millis(20);
    tokio::time::timeout(Duration::from_secs(10), slot.watch(grace))
        .await
        .expect("untrusted closes");
    slot.trust();
    let trusted = tokio::time::timeout(grace * 5, slot.watch(grace)).await;
    assert!(trusted.is_err(), "a trusted connection stays");
}

#[tokio::test]
async fn drained_completes_once_the_last_slot_is_released() {
    let table = Arc::new(ConnTable::new(10, 10));
    let slot = table.admit(ip("127.0.0.1"), true).expect("slot");
    let waiter = tokio::spawn({
        let table = Arc::clone(&table);
        async move { table.drained().await }
    });
    tokio::task::yield_now().await;
    assert!(!waiter.is_finished(), "a slot is still held");
    drop(slot);
    tokio::time::timeout(Duration::from_secs(10), waiter)
        .await
        .expect("drained after the release")
        .expect("task");
}

#[test]
fn a_distrusted_connection_goes_before_trusted_ones() {
    let table = Arc::new(ConnTable::new(2, 2));
    let older = table.admit(ip("10.0.0.2"), true).expect("older");
    let revoked = table.admit(ip("10.0.0.1"), true).expect("revoked");
    revoked.distrust();
    let _new = table.admit(ip("10.0.0.3"), true).expect("new");
    assert!(
        revoked.entry.close.is_cancelled(),
        "the distrusted one goes"
    );
    assert!(
        !older.entry.close.is_cancelled(),
        "though the other is older"
    );
}

#[test]
fn behind_one_address_untrusted_connections_make_room_first() {
    let table = Arc::new(ConnTable::new(10, 2));
    let phone = table.admit(ip("198.51.100.7"), true).expect("token phone");
    let flood = table.admit(ip("198.51.100.7"), false).expect("tokenless");
    let _next = table.admit(ip("198.51.100.7"), false).expect("next");
    assert!(flood.entry.close.is_cancelled(), "the untrusted one goes");
    assert!(
        !phone.entry.close.is_cancelled(),
        "though the phone is older"
    );
}
