//! Credentials: what signs a request ([`Credentials`], the secret parts [`Secret`]s that never show in
//! `Debug` output, errors, logs or state) and where they come from ([`CredentialProvider`]: a fixed
//! AccessKey, or temporary credentials — [`sts`] AssumeRole / AssumeRoleWithOIDC, the ECS instance
//! RAM role from [`imds`] — fetched again before they expire). [`chain`]: the order in which a
//! provider block, the environment and [`profile`]s of the aliyun CLI are looked at; [`block`]: the
//! credential settings of a provider block.

pub mod block;
pub mod chain;
pub mod imds;
pub mod profile;
pub mod sts;

pub use chain::{chain, check, resolve, AssumeRoleSettings, ExplicitCredentials, ProviderEnv};
pub use profile::from_profile_file;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

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

/// Where a client's credentials come from, and the last ones fetched. Cheap to clone: clones share
/// one cache, so every client of a configured provider refreshes temporary credentials once.
#[derive(Clone, Debug)]
pub struct CredentialProvider {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    source: Source,
    /// The credentials last fetched, and when.
    cache: tokio::sync::Mutex<Option<(Credentials, OffsetDateTime)>>,
}

/// Where credentials are fetched from.
#[derive(Debug)]
pub(crate) enum Source {
    /// A long-lived AccessKey or a given STS token: never fetched again.
    Fixed(Credentials),
    /// No credentials: requests go unsigned (STS `AssumeRoleWithOIDC`).
    Anonymous,
    /// STS `AssumeRole`, signed with another provider's credentials.
    AssumeRole(sts::AssumeRole),
    /// STS `AssumeRoleWithOIDC` with a token file (RRSA).
    Oidc(sts::Oidc),
    /// The ECS instance RAM role, from the metadata service.
    EcsRamRole(imds::EcsRamRole),
}

/// The future of [`CredentialProvider::get`], boxed: an assumed role's fetch signs with its base
/// provider's credentials, so `get` is (indirectly) recursive.
pub type Fetch<'a> = Pin<Box<dyn Future<Output = Result<Credentials, ProviderError>> + Send + 'a>>;

/// At most this long before temporary credentials expire they are fetched again (or at half their
/// lifetime, for short-lived ones).
pub const REFRESH_MARGIN: Duration = Duration::from_secs(180);

impl CredentialProvider {
    pub(crate) fn new(source: Source) -> CredentialProvider {
        CredentialProvider { inner: Arc::new(Inner { source, cache: Default::default() }) }
    }

    /// Credentials that never change.
    pub fn fixed(credentials: Credentials) -> CredentialProvider {
        CredentialProvider::new(Source::Fixed(credentials))
    }

    /// No credentials: requests are sent unsigned.
    pub fn anonymous() -> CredentialProvider {
        CredentialProvider::new(Source::Anonymous)
    }

    /// The credentials, when they never change.
    pub fn fixed_credentials(&self) -> Option<&Credentials> {
        match &self.inner.source {
            Source::Fixed(c) => Some(c),
            _ => None,
        }
    }

    /// Whether requests go unsigned.
    pub fn is_anonymous(&self) -> bool {
        matches!(self.inner.source, Source::Anonymous)
    }

    /// Credentials valid for the next request: the cached ones, or — when temporary ones are close
    /// to expiring — fresh ones. A failed refresh keeps serving credentials that have not expired
    /// yet (the next call tries again), as the official SDKs do.
    pub fn get(&self) -> Fetch<'_> {
        Box::pin(self.get_now())
    }

    async fn get_now(&self) -> Result<Credentials, ProviderError> {
        let source = match &self.inner.source {
            Source::Fixed(c) => return Ok(c.clone()),
            Source::Anonymous => {
                return Ok(Credentials::access_key("", "", None, "anonymous"));
            }
            other => other,
        };
        let mut cache = self.inner.cache.lock().await;
        let now = OffsetDateTime::now_utc();
        if let Some((c, fetched)) = &*cache {
            if !needs_refresh(c, *fetched, now) {
                return Ok(c.clone());
            }
        }
        let fetched = match source {
            Source::AssumeRole(r) => r.fetch().await,
            Source::Oidc(o) => o.fetch().await,
            Source::EcsRamRole(e) => e.fetch().await,
            Source::Fixed(_) | Source::Anonymous => unreachable!("returned above"),
        };
        match fetched {
            Ok(c) => {
                tracing::debug!(
                    target: "meshform::acs",
                    source = %c.source,
                    access_key_id = %c.access_key_id,
                    expiration = %c.expiration.map(iso8601).unwrap_or_default(),
                    "temporary credentials fetched"
                );
                *cache = Some((c.clone(), now));
                Ok(c)
            }
            Err(e) => match &*cache {
                Some((c, _)) if c.expiration.is_some_and(|x| x > now + Duration::from_secs(5)) => {
                    tracing::info!(target: "meshform::acs", code = %e.code, "refreshing credentials failed; the current ones are still valid");
                    Ok(c.clone())
                }
                _ => Err(e),
            },
        }
    }

    /// Where the credentials come from, for messages.
    pub fn source(&self) -> String {
        match &self.inner.source {
            Source::Fixed(c) => c.source.clone(),
            Source::Anonymous => "anonymous".into(),
            Source::AssumeRole(r) => r.describe(),
            Source::Oidc(o) => o.describe(),
            Source::EcsRamRole(e) => e.describe(),
        }
    }
}

/// Whether temporary credentials fetched at `fetched` should be fetched again at `now`.
fn needs_refresh(c: &Credentials, fetched: OffsetDateTime, now: OffsetDateTime) -> bool {
    let Some(expiration) = c.expiration else { return false };
    let lifetime = (expiration - fetched).max(time::Duration::ZERO);
    let margin =
        time::Duration::try_from(REFRESH_MARGIN).unwrap_or(time::Duration::ZERO).min(lifetime / 2);
    expiration - now <= margin
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

#[cfg(test)]
#[path = "refresh_tests.rs"]
mod refresh_tests;
