//! Why one exchange with one upstream failed.

/// Why one exchange with one upstream failed. The caller may try another
/// upstream; the client gets SERVFAIL when none answers.
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    /// No answer within the deadline.
    #[error("timed out")]
    Timeout,
    /// The upstream could not be reached (refused, unreachable, TLS
    /// handshake failed).
    #[error("cannot reach the upstream: {0}")]
    Connect(std::io::Error),
    /// A read or write on an established connection failed.
    #[error("i/o error: {0}")]
    Io(std::io::Error),
    /// The connection closed before the answer came.
    #[error("the upstream closed the connection")]
    Closed,
    /// The answer could not be parsed or does not match the question.
    #[error("malformed answer: {0}")]
    Malformed(String),
    /// A DNS-over-HTTPS upstream answered with an HTTP error status.
    #[error("HTTP status {0}")]
    Http(u16),
}

impl ExchangeError {
    /// True when the upstream could not be reached at all (EDE 23,
    /// Network Error), false when it was reached but gave no usable answer
    /// in time (EDE 22, No Reachable Authority).
    pub fn is_network(&self) -> bool {
        matches!(
            self,
            ExchangeError::Connect(_) | ExchangeError::Io(_) | ExchangeError::Closed
        )
    }
}
