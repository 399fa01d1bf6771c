//! Temporary credentials for an emulated cluster, as ACK's `DescribeClusterUserKubeconfig` issues
//! them with `TemporaryDurationMinutes`: a bearer token that carries its own expiry and a MAC keyed
//! by the cluster's long-lived token, so the API server checks it without keeping a list (and a
//! restart of the sandbox keeps it valid until it expires). An expired token is refused with 401,
//! as kube-apiserver refuses an expired client certificate.
//!
//! Shape: `mfk1.<expires unix seconds>.<nonce>.<hex HMAC-SHA256(cluster token, "mfk1.<expires>.<nonce>")>`.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

const PREFIX: &str = "mfk1";

/// What the API server makes of a presented temporary token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TemporaryToken {
    /// Issued for this cluster and not yet expired.
    Valid,
    /// Issued for this cluster, expired at this unix time (seconds).
    Expired(i64),
    /// Not a temporary token of this cluster.
    Foreign,
}

fn mac(cluster_token: &str, payload: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(cluster_token.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(payload.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// A token valid until `expires_unix` (seconds) for the cluster whose long-lived token is
/// `cluster_token`.
pub fn issue_temporary_token(cluster_token: &str, expires_unix: i64) -> String {
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let payload = format!("{PREFIX}.{expires_unix}.{nonce}");
    let sig = meshform_core::hex::encode(&mac(cluster_token, &payload));
    format!("{payload}.{sig}")
}

/// Checks a presented token against the cluster's long-lived token at `now_unix` (seconds).
pub fn check_temporary_token(
    cluster_token: &str,
    presented: &str,
    now_unix: i64,
) -> TemporaryToken {
    let mut parts = presented.split('.');
    let (Some(PREFIX), Some(expires), Some(nonce), Some(sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return TemporaryToken::Foreign;
    };
    let Ok(expires_unix) = expires.parse::<i64>() else { return TemporaryToken::Foreign };
    let expected =
        meshform_core::hex::encode(&mac(cluster_token, &format!("{PREFIX}.{expires}.{nonce}")));
    let same = expected.len() == sig.len()
        && expected.bytes().zip(sig.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0;
    if !same {
        TemporaryToken::Foreign
    } else if now_unix >= expires_unix {
        TemporaryToken::Expired(expires_unix)
    } else {
        TemporaryToken::Valid
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_valid_until_it_expires_and_only_for_its_cluster() {
        let t = issue_temporary_token("cluster-token", 1_000);
        assert_eq!(check_temporary_token("cluster-token", &t, 999), TemporaryToken::Valid);
        assert_eq!(
            check_temporary_token("cluster-token", &t, 1_000),
            TemporaryToken::Expired(1_000)
        );
        assert_eq!(check_temporary_token("other-cluster", &t, 999), TemporaryToken::Foreign);
        // The expiry cannot be moved without the key.
        let forged = t.replacen("1000", "9000", 1);
        assert_eq!(check_temporary_token("cluster-token", &forged, 999), TemporaryToken::Foreign);
        assert_eq!(
            check_temporary_token("cluster-token", "cluster-token", 0),
            TemporaryToken::Foreign
        );
        assert_ne!(
            issue_temporary_token("k", 5),
            issue_temporary_token("k", 5),
            "each has its nonce"
        );
    }
}
