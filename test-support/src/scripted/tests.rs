use std::time::Duration;

use hickory_proto::op::{Edns, Message, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::timeout;

use super::*;

/// Long enough for any loopback answer on a loaded machine.
const DEADLINE: Duration = Duration::from_secs(5);
/// How long a test waits to conclude that no answer is coming.
const QUIET: Duration = Duration::from_millis(300);

async fn server() -> ScriptedServer {
    ScriptedServer::start(vec![
        a("www.example.", [192, 0, 2, 1]),
        a("slow.example.", [192, 0, 2, 2]),
        cname("alias.example.", "www.example."),
        cname("dangling.example.", "nowhere.example."),
        cname("typeless.example.", "www.example."),
        txt("big.example.", &"x".repeat(250)),
        txt("big.example.", &"y".repeat(250)),
        txt("big.example.", &"z".repeat(250)),
    ])
    .await
}

fn query(id: u16, name: &str, rtype: RecordType) -> Message {
    let mut msg = Message::query();
    msg.metadata.id = id;
    msg.metadata.recursion_desired = true;
    msg.add_query(hickory_proto::op::Query::query(
        Name::from_ascii(name).unwrap(),
        rtype,
    ));
    msg
}

async fn udp_socket(server: &ScriptedServer) -> UdpSocket {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    socket.connect(server.addr()).await.unwrap();
    socket
}

/// The next datagram on `socket`, or `None` after `wait`.
async fn recv(socket: &UdpSocket, wait: Duration) -> Option<Message> {
    let mut buf = vec![0u8; 65_535];
    let len = timeout(wait, socket.recv(&mut buf)).await.ok()?.unwrap();
    Some(Message::from_vec(&buf[..len]).unwrap())
}

async fn ask_udp(server: &ScriptedServer, msg: &Message) -> Message {
    let socket = udp_socket(server).await;
    socket.send(&msg.to_vec().unwrap()).await.unwrap();
    recv(&socket, DEADLINE).await.expect("an answer")
}

async fn send_tcp(stream: &mut TcpStream, msg: &Message) {
    let bytes = msg.to_vec().unwrap();
    let mut frame = u16::try_from(bytes.len()).unwrap().to_be_bytes().to_vec();
    frame.extend(bytes);
    stream.write_all(&frame).await.unwrap();
}

async fn recv_tcp(stream: &mut TcpStream) -> Message {
    let mut len = [0u8; 2];
    timeout(DEADLINE, stream.read_exact(&mut len))
        .await
        .unwrap()
        .unwrap();
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut buf).await.unwrap();
    Message::from_vec(&buf).unwrap()
}

#[tokio::test]
async fn answers_from_records_and_echoes_flags() {
    let server = server().await;
    let mut q = query(7, "WwW.Example.", RecordType::A);
    q.metadata.checking_disabled = true;
    let mut edns = Edns::new();
    edns.set_dnssec_ok(true);
    q.set_edns(edns);
    let r = ask_udp(&server, &q).await;
    assert_eq!(r.metadata.id, 7);
    assert_eq!(r.queries[0].name.to_ascii(), "WwW.Example.");
    assert!(r.metadata.checking_disabled, "CD echoed");
    assert!(r.edns.as_ref().unwrap().flags().dnssec_ok, "DO echoed");
    assert_eq!(r.answers.len(), 1);
    let seen = server.last_query().unwrap();
    assert_eq!(seen.name.to_ascii(), "WwW.Example.", "case kept");
    assert!(seen.checking_disabled && seen.dnssec_ok && seen.edns);
    assert_eq!(seen.transport, Transport::Udp);
    assert_eq!(server.queries_for("www.example", RecordType::A), 1);
    assert_eq!(server.queries_for("www.example", RecordType::AAAA), 0);

    let r = ask_udp(&server, &query(8, "www.example.", RecordType::AAAA)).await;
    assert!(r.edns.is_none(), "no OPT without EDNS in the query");
    assert!(!r.metadata.checking_disabled);
    assert_eq!(r.metadata.response_code, ResponseCode::NoError);
    assert!(r.answers.is_empty());
    assert_eq!(r.authorities[0].record_type(), RecordType::SOA);
    assert_eq!(server.queries(), 2);
}

#[tokio::test]
async fn negative_answers_keep_the_cname_chain() {
    let server = server().await;
    let r = ask_udp(&server, &query(1, "dangling.example.", RecordType::A)).await;
    assert_eq!(r.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(r.answers[0].record_type(), RecordType::CNAME);
    assert_eq!(r.authorities[0].record_type(), RecordType::SOA);

    let r = ask_udp(&server, &query(2, "typeless.example.", RecordType::TXT)).await;
    assert_eq!(r.metadata.response_code, ResponseCode::NoError);
    assert_eq!(r.answers.len(), 1, "the CNAME only");
    assert_eq!(r.authorities.len(), 1);

    let r = ask_udp(&server, &query(3, "alias.example.", RecordType::A)).await;
    let types: Vec<_> = r.answers.iter().map(|r| r.record_type()).collect();
    assert_eq!(types, [RecordType::CNAME, RecordType::A]);
    assert!(matches!(r.answers[1].data, RData::A(_)));
}

#[tokio::test]
async fn drops_every_other_udp_query() {
    let server = server().await;
    server.set_behaviour(Behaviour::default().drop_every_nth_udp(2));
    let socket = udp_socket(&server).await;
    let mut answered = Vec::new();
    for id in 1..=4u16 {
        let q = query(id, "www.example.", RecordType::A);
        socket.send(&q.to_vec().unwrap()).await.unwrap();
        let wait = if id % 2 == 0 { QUIET } else { DEADLINE };
        if let Some(r) = recv(&socket, wait).await {
            answered.push(r.metadata.id);
        }
    }
    assert_eq!(answered, [1, 3]);
    assert_eq!(server.udp_dropped(), 2);
    assert_eq!(server.udp_queries(), 4);
}

#[tokio::test]
async fn wrong_id_and_wrong_name_come_before_the_right_answer() {
    let server = server().await;
    server.set_behaviour(Behaviour::default().wrong_id_first().wrong_name_first());
    let socket = udp_socket(&server).await;
    let q = query(100, "www.example.", RecordType::A);
    socket.send(&q.to_vec().unwrap()).await.unwrap();
    let first = recv(&socket, DEADLINE).await.unwrap();
    let second = recv(&socket, DEADLINE).await.unwrap();
    let third = recv(&socket, DEADLINE).await.unwrap();
    assert_eq!(first.metadata.id, 101);
    assert_eq!(second.metadata.id, 100);
    assert_eq!(second.queries[0].name.to_ascii(), "wrong.invalid.");
    assert_eq!(third.metadata.id, 100);
    assert_eq!(third.queries[0].name.to_ascii(), "www.example.");
    for forged in [&first, &second] {
        assert_eq!(forged.metadata.response_code, ResponseCode::NXDomain);
        assert!(forged.answers.is_empty());
    }
    assert_eq!(third.answers.len(), 1);
}

#[tokio::test]
async fn truncates_over_udp_and_answers_over_tcp() {
    let server = server().await;
    // big.example is larger than 512 bytes: without EDNS it is truncated.
    let r = ask_udp(&server, &query(1, "big.example.", RecordType::TXT)).await;
    assert!(r.metadata.truncation && r.answers.is_empty());
    server.set_behaviour(Behaviour::default().truncate_udp("WWW.example"));
    let r = ask_udp(&server, &query(2, "www.example.", RecordType::A)).await;
    assert!(r.metadata.truncation && r.answers.is_empty());

    let mut stream = TcpStream::connect(server.addr()).await.unwrap();
    send_tcp(&mut stream, &query(3, "www.example.", RecordType::A)).await;
    send_tcp(&mut stream, &query(4, "big.example.", RecordType::TXT)).await;
    let mut answers = [recv_tcp(&mut stream).await, recv_tcp(&mut stream).await];
    answers.sort_by_key(|m| m.metadata.id);
    assert!(!answers[0].metadata.truncation);
    assert_eq!(answers[0].answers.len(), 1);
    assert_eq!(answers[1].answers.len(), 3);
    assert_eq!(server.tcp_queries(), 2);
}

#[tokio::test]
async fn tcp_answers_a_batch_in_reverse_and_slow_names_last() {
    let server = server().await;
    server.set_behaviour(Behaviour::default().tcp_reverse_batch(3));
    let mut stream = TcpStream::connect(server.addr()).await.unwrap();
    for id in 1..=3 {
        send_tcp(&mut stream, &query(id, "www.example.", RecordType::A)).await;
    }
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(recv_tcp(&mut stream).await.metadata.id);
    }
    assert_eq!(ids, [3, 2, 1]);

    server.set_behaviour(Behaviour::default().slow("slow.example", Duration::from_millis(400)));
    send_tcp(&mut stream, &query(10, "slow.example.", RecordType::A)).await;
    send_tcp(&mut stream, &query(11, "www.example.", RecordType::A)).await;
    let ids = [
        recv_tcp(&mut stream).await.metadata.id,
        recv_tcp(&mut stream).await.metadata.id,
    ];
    assert_eq!(ids, [11, 10], "the fast answer overtakes the slow one");
    assert_eq!(server.tcp_accepted(), 1);
    assert_eq!(server.tcp_open(), 1);
    drop(stream);
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while server.tcp_open() != 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "connection not closed"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(server.tcp_open_peak(), 1);
}

#[tokio::test]
async fn silent_server_counts_but_never_answers() {
    let server = server().await;
    server.set_behaviour(Behaviour::default().silent());
    let socket = udp_socket(&server).await;
    let q = query(1, "www.example.", RecordType::A);
    socket.send(&q.to_vec().unwrap()).await.unwrap();
    assert!(recv(&socket, QUIET).await.is_none());
    assert_eq!(server.queries(), 1);
}

#[tokio::test]
async fn stops_when_dropped() {
    let server = server().await;
    let addr = server.addr();
    drop(server);
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while TcpStream::connect(addr).await.is_ok() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "still listening after drop"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn closes_a_tcp_connection_after_n_queries() {
    let server = server().await;
    server.set_behaviour(Behaviour::default().close_tcp_after(2));
    let mut stream = TcpStream::connect(server.addr()).await.unwrap();
    for id in 1..=3 {
        send_tcp(&mut stream, &query(id, "www.example.", RecordType::A)).await;
    }
    let mut ids = [
        recv_tcp(&mut stream).await.metadata.id,
        recv_tcp(&mut stream).await.metadata.id,
    ];
    ids.sort_unstable();
    assert_eq!(ids, [1, 2]);
    let mut rest = Vec::new();
    let read = timeout(DEADLINE, stream.read_to_end(&mut rest)).await;
    assert!(
        matches!(read, Ok(Ok(0)) | Ok(Err(_))),
        "closed after two answers"
    );
    assert_eq!(server.tcp_queries(), 2);
}

#[tokio::test]
async fn can_answer_with_the_question_in_lower_case() {
    let server = server().await;
    server.set_behaviour(Behaviour::default().lowercase_question());
    let r = ask_udp(&server, &query(1, "wWw.ExAmple.", RecordType::A)).await;
    assert_eq!(r.queries[0].name.to_ascii(), "www.example.");
    assert_eq!(server.last_query().unwrap().name.to_ascii(), "wWw.ExAmple.");
}
