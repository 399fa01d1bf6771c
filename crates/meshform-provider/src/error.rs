//! [`ProviderError`]: what a provider operation reports when it fails — a typed [`ErrorKind`] that the
//! engine and the retry policy act on, the remote code and message shown to the user, the request id,
//! a server's hint of when to try again, and the attribute the error is about.

use std::fmt;
use std::time::Duration;

use meshform_core::PathStep;

/// What kind of failure an error is: the part of an error that code decides on. The remote API's own
/// code stays in [`ProviderError::code`], for people.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The object (or what it hangs off) does not exist.
    NotFound,
    /// The API refused the call because of its rate limits.
    Throttled,
    /// The object is in a state that refuses this change now (another change in progress, still
    /// initialising); the same call succeeds later.
    Busy,
    /// The remote side could not be reached or failed on its side (connection refused, timeouts, 5xx).
    Unavailable,
    /// Waiting for the object to reach a state took longer than allowed.
    Timeout,
    /// The request or the configuration is wrong; repeating it cannot help.
    InvalidArgument,
    /// The credentials were refused or do not allow the call.
    Unauthorized,
    /// The object changed under the call, or another owner holds the fields it sets.
    Conflict,
    /// The operation does not exist for this type (importing what cannot be imported, …).
    Unsupported,
    /// The remote side reports the operation itself failed (a mesh in state `failed`).
    Failed,
    /// Anything else: an unexpected answer, a local I/O error, a failed task.
    Internal,
}

impl ErrorKind {
    /// Whether repeating the same call may succeed without anyone changing anything.
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            ErrorKind::Throttled | ErrorKind::Busy | ErrorKind::Unavailable | ErrorKind::Timeout
        )
    }
}

/// An error from a provider operation.
#[derive(Clone, Debug, thiserror::Error)]
pub struct ProviderError {
    pub kind: ErrorKind,
    /// The code shown to the user: the remote API's (`InvalidParameter`, `Throttling.User`) or the
    /// provider's own (`InvalidConfig`).
    pub code: String,
    /// What happened; never contains credentials or private keys.
    pub message: String,
    /// The remote request id, when the remote API gave one.
    pub request_id: Option<String>,
    /// How long the server asked callers to wait before trying again (`Retry-After`, `TimeLeft`).
    pub retry_after: Option<Duration>,
    /// The attribute the error is about, when there is one (used to point at its span).
    pub attribute: Option<Vec<PathStep>>,
}

impl ProviderError {
    pub fn new(
        kind: ErrorKind,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> ProviderError {
        ProviderError {
            kind,
            code: code.into(),
            message: message.into(),
            request_id: None,
            retry_after: None,
            attribute: None,
        }
    }

    /// An error in the configuration of one attribute (`code` `InvalidConfig`).
    pub fn invalid_config(attribute: &str, message: impl Into<String>) -> ProviderError {
        ProviderError::new(ErrorKind::InvalidArgument, "InvalidConfig", message)
            .at_attribute(attribute)
    }

    /// The provider has no resource or data source of this type.
    pub fn unknown_type(provider: &str, type_name: &str) -> ProviderError {
        ProviderError::new(
            ErrorKind::Unsupported,
            "UnknownType",
            format!("the {provider} provider has no type {type_name}"),
        )
    }

    /// Whether retrying the same operation may succeed.
    pub fn retryable(&self) -> bool {
        self.kind.is_transient()
    }

    pub fn with_request_id(mut self, id: impl Into<String>) -> ProviderError {
        self.request_id = Some(id.into());
        self
    }

    pub fn with_retry_after(mut self, after: Option<Duration>) -> ProviderError {
        self.retry_after = after;
        self
    }

    pub fn at_attribute(mut self, name: &str) -> ProviderError {
        self.attribute = Some(vec![PathStep::Key(name.to_owned())]);
        self
    }
}

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)?;
        if let Some(id) = &self.request_id {
            write!(f, " (request {id})")?;
        }
        Ok(())
    }
}

pub type ProviderResult<T> = Result<T, ProviderError>;
