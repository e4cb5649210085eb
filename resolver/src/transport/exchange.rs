//! One DNS exchange over an encrypted transport: wire bytes in, the request
//! handler's answer out as wire bytes.
//!
//! DoT and DoH do not go through hickory's own listener loop, so they call
//! the request handler here, with a [`ResponseHandler`] that captures the
//! encoded answer instead of writing it to a socket. The handler is the same
//! one the UDP/TCP listeners use, so policy, access control, rate limits,
//! metrics and logs are the same on every transport; the only extra is the
//! [`ClientAuth`] made visible to the access stage via [`with_auth`].
//! An answer from the encoded-answer cache is handed over as the cached
//! bytes (see [`crate::answer_cache`]), not decoded and encoded again.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use hickory_server::{
    net::{NetError, runtime::TokioTime, xfer::Protocol},
    proto::{
        op::{Message, MessageType, OpCode, ResponseCode},
        rr::Record,
    },
    server::{Request, RequestHandler, ResponseHandler, ResponseInfo},
    zone_handler::MessageResponse,
};

use super::tokens::{ClientAuth, with_auth};

/// Why a query got no answer from the handler.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ExchangeError {
    /// Not a DNS query: too short, undecodable, or a response message.
    #[error("not a DNS query: {0}")]
    Malformed(String),
    /// The handler finished without producing an answer.
    #[error("the request handler produced no answer")]
    NoAnswer,
}

/// A [`ResponseHandler`] that keeps the encoded answer in memory.
#[derive(Clone, Default)]
pub struct CapturedResponse {
    bytes: Arc<Mutex<Option<Vec<u8>>>>,
}

impl CapturedResponse {
    /// The answer, if the handler sent one.
    pub fn take(&self) -> Option<Vec<u8>> {
        self.bytes.lock().ok()?.take()
    }

    /// A copy of the answer, left in place for the transport to take.
    pub(crate) fn peek(&self) -> Option<Vec<u8>> {
        self.bytes.lock().ok()?.clone()
    }

    /// Keep `bytes` as the answer (one already encoded, from the answer
    /// cache).
    pub(crate) fn put(&self, bytes: Vec<u8>) {
        if let Ok(mut slot) = self.bytes.lock() {
            *slot = Some(bytes);
        }
    }
}

#[async_trait::async_trait]
impl ResponseHandler for CapturedResponse {
    async fn send_response<'a>(
        &mut self,
        response: MessageResponse<
            '_,
            'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
        >,
    ) -> Result<ResponseInfo, NetError> {
        // Stream transports carry up to 64 KiB; no UDP truncation applies.
        let id = response.metadata().id;
        let (info, bytes) = crate::udp::encode(response, id, u16::MAX)?;
        self.put(bytes);
        Ok(info)
    }
}

/// Run one query through `handler` and return the encoded answer.
///
/// # Errors
/// [`ExchangeError::Malformed`] for bytes that are not a DNS query (the
/// caller answers FORMERR or HTTP 400), [`ExchangeError::NoAnswer`] if the
/// handler sent nothing.
pub async fn exchange<H: RequestHandler>(
    handler: &H,
    query: Vec<u8>,
    src: SocketAddr,
    protocol: Protocol,
    auth: ClientAuth,
) -> Result<Vec<u8>, ExchangeError> {
    let request = Request::from_bytes(query, src, protocol)
        .map_err(|e| ExchangeError::Malformed(e.to_string()))?;
    if request.metadata.message_type != MessageType::Query {
        return Err(ExchangeError::Malformed("a response, not a query".into()));
    }
    let captured = CapturedResponse::default();
    let info = with_auth(
        auth,
        handler.handle_request::<_, TokioTime>(&request, captured.clone()),
    )
    .await;
    match captured.take() {
        Some(bytes) => Ok(bytes),
        // The handler failed before answering; say so in DNS terms.
        None => {
            error_answer(request.metadata.id, info.response_code).ok_or(ExchangeError::NoAnswer)
        }
    }
}

/// A header-only answer with `rcode` (SERVFAIL when `rcode` is NoError).
pub fn error_answer(id: u16, rcode: ResponseCode) -> Option<Vec<u8>> {
    let rcode = if rcode == ResponseCode::NoError {
        ResponseCode::ServFail
    } else {
        rcode
    };
    Message::error_msg(id, OpCode::Query, rcode).to_vec().ok()
}

/// FORMERR for bytes that are not a query, if they carry at least an ID.
pub fn formerr_for(query: &[u8]) -> Option<Vec<u8>> {
    let id = u16::from_be_bytes([*query.first()?, *query.get(1)?]);
    error_answer(id, ResponseCode::FormErr)
}

/// The smallest TTL in the answer and authority sections (for HTTP caching,
/// RFC 8484 §5.1), or `None` when there is no record or no parse.
pub fn min_ttl(answer: &[u8]) -> Option<u32> {
    let message = Message::from_vec(answer).ok()?;
    message
        .answers
        .iter()
        .chain(message.authorities.iter())
        .map(|r| r.ttl)
        .min()
}
