//! Credentials: what signs a request ([`Credentials`], the secret parts [`Secret`]s that never show in
//! `Debug` output, errors, logs or state) and where they come from ([`CredentialProvider`]: a fixed
//! AccessKey, or temporary credentials fetched again before they expire).

pub mod chain;

pub use chain::{from_profile_file, resolve, ExplicitCredentials, ProviderEnv};

use std::fmt;
use std::sync::Arc;

use meshform_provider::ProviderError;
use time::OffsetDateTime;

/// A secret string (an AccessKey secret, an STS token): shown as `(sensitive value)`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    /// The raw value, for signing only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(meshform_core::REDACTED)
    }
}

/// Resolved credentials.
#[derive(Clone, Debug)]
pub struct Credentials {
    pub access_key_id: String,
    pub access_key_secret: Secret,
    pub security_token: Option<Secret>,
    /// When temporary credentials stop working (`None`: a long-lived AccessKey).
    pub expiration: Option<OffsetDateTime>,
    /// Where they came from, for messages ("the provider block", "the environment (…)", …).
    pub source: String,
}

impl Credentials {
    /// A long-lived AccessKey (with an STS token when one is given).
    pub fn access_key(
        id: impl Into<String>,
        secret: impl Into<String>,
        token: Option<String>,
        source: impl Into<String>,
    ) -> Credentials {
        Credentials {
            access_key_id: id.into(),
            access_key_secret: Secret::new(secret),
            security_token: token.filter(|t| !t.is_empty()).map(Secret::new),
            expiration: None,
            source: source.into(),
        }
    }
}

/// Where a client's credentials come from. Cheap to clone (clones share one cache).
#[derive(Clone, Debug)]
pub struct CredentialProvider {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    fixed: Credentials,
}

impl CredentialProvider {
    /// Credentials that never change.
    pub fn fixed(credentials: Credentials) -> CredentialProvider {
        CredentialProvider { inner: Arc::new(Inner { fixed: credentials }) }
    }

    /// Credentials valid for the next request.
    pub async fn get(&self) -> Result<Credentials, ProviderError> {
        Ok(self.inner.fixed.clone())
    }

    /// Where the credentials come from, for messages.
    pub fn source(&self) -> String {
        self.inner.fixed.source.clone()
    }
}

impl From<Credentials> for CredentialProvider {
    fn from(c: Credentials) -> CredentialProvider {
        CredentialProvider::fixed(c)
    }
}

/// `YYYY-MM-DDThh:mm:ssZ` (UTC, no fraction): the timestamps Alibaba Cloud APIs sign and return.
pub fn iso8601(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Parses `YYYY-MM-DDThh:mm:ssZ` strictly, as the official SDKs do.
pub fn parse_iso8601(s: &str) -> Option<OffsetDateTime> {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    time::PrimitiveDateTime::parse(s, format).ok().map(|t| t.assume_utc())
}
