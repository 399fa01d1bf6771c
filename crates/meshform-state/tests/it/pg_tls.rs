//! The PostgreSQL backend over TLS, against a server started by meshform-pgtest with `ssl = on`, a
//! generated CA and a `pg_hba.conf` that accepts TLS connections only (so every store that works here
//! worked over TLS): each `sslmode`, refused certificates and host names with messages that say what
//! to do, client certificates, and no secret in any message.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use meshform_pgtest::TlsServer;
use meshform_state::{PgSettings, PgStore, State, StateError, StateStore};

const PASSWORD: &str = "pw-that-must-not-leak";

/// Settings for a fresh schema on the TLS server, with `extra` appended to its connection string
/// (which names the host 127.0.0.1 unless `extra` names one).
fn settings(server: &TlsServer, extra: &str, env: &[(&str, &str)]) -> PgSettings {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let host = if extra.contains("host=") { "" } else { "host=127.0.0.1 " };
    PgSettings {
        conn_str: format!(
            "{host}port={} user=postgres dbname=postgres password={PASSWORD} {extra}",
            server.port()
        ),
        env: env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
        schema_name: format!("tls{}_{n}", std::process::id()),
        workspace: "default".to_owned(),
    }
}

/// Writes a state and reads it back.
fn round_trip(s: &PgSettings) -> Result<(), StateError> {
    let store = PgStore::new(s)?;
    let mut state = State::new();
    store.write(&mut state)?;
    assert_eq!(store.read()?.map(|s| s.lineage), Some(state.lineage));
    Ok(())
}

/// The message of a connection that must fail, checked to hold no secret.
fn refusal(s: &PgSettings, server: &TlsServer) -> String {
    let e = round_trip(s).expect_err("the connection must be refused");
    let m = e.to_string();
    assert!(matches!(e, StateError::Backend { .. }), "{m}");
    assert!(m.contains("cannot connect"), "{m}");
    assert!(!m.contains(PASSWORD), "the password leaked: {m}");
    let key = std::fs::read_to_string(&server.client_key).unwrap();
    for line in key.lines().filter(|l| !l.starts_with("-----")) {
        assert!(!m.contains(line), "the private key leaked: {m}");
    }
    m
}

fn q(p: &Path) -> String {
    format!("'{}'", p.display())
}

#[test]
fn stores_work_over_require_verify_ca_and_verify_full() {
    let Some(server) = meshform_pgtest::tls_server_or_skip() else { return };
    let ca = q(&server.ca);
    for extra in [
        "sslmode=require".to_owned(),
        format!("sslmode=verify-ca sslrootcert={ca}"),
        format!("sslmode=verify-full sslrootcert={ca}"),
        // The certificate names `localhost` as well as 127.0.0.1.
        format!("host=localhost sslmode=verify-full sslrootcert={ca}"),
        // prefer (the default) uses TLS when the server offers it.
        String::new(),
        // allow tries plain first; this server refuses it, so TLS follows.
        "sslmode=allow".to_owned(),
    ] {
        let s = settings(server, &extra, &[]);
        round_trip(&s).unwrap_or_else(|e| panic!("{extra}: {e}\n{}", server.server.log()));
    }
    // The same through the PG* variables the CLI passes down.
    let env = [("PGSSLMODE", "verify-full"), ("PGSSLROOTCERT", server.ca.to_str().unwrap())];
    round_trip(&settings(server, "", &env)).unwrap();
}

#[test]
fn a_certificate_from_another_ca_is_refused_naming_the_ca_file() {
    let Some(server) = meshform_pgtest::tls_server_or_skip() else { return };
    let other = server.other_ca.display().to_string();
    for mode in ["verify-full", "verify-ca", "require"] {
        // With a CA file, require checks the chain as verify-ca does (libpq's rule).
        let s =
            settings(server, &format!("sslmode={mode} sslrootcert={}", q(&server.other_ca)), &[]);
        let m = refusal(&s, server);
        assert!(m.contains("not issued by the CA in sslrootcert"), "{m}");
        assert!(m.contains(&format!("sslmode={mode}")) && m.contains(&other), "{m}");
        assert!(m.contains("Set sslrootcert (or PGSSLROOTCERT)"), "{m}");
    }
    // prefer, after the failed handshake, tries without TLS (libpq's rule), which this server
    // refuses: both failures are told.
    let s = settings(server, &format!("sslmode=prefer sslrootcert={}", q(&server.other_ca)), &[]);
    let m = refusal(&s, server);
    assert!(m.contains("not issued by the CA in sslrootcert"), "{m}");
    assert!(m.contains("without TLS that sslmode=prefer tries next failed too"), "{m}");
    assert!(m.contains("no encryption"), "{m}");
}

#[test]
fn a_wrong_host_name_is_refused_by_verify_full_only() {
    let Some(server) = meshform_pgtest::tls_server_or_skip() else { return };
    // TCP goes to 127.0.0.1; the certificate is checked against the name in `host`.
    let host = "host=db.example.com hostaddr=127.0.0.1";
    let full =
        settings(server, &format!("{host} sslmode=verify-full sslrootcert={}", q(&server.ca)), &[]);
    let m = refusal(&full, server);
    assert!(m.contains("not for db.example.com") && m.contains("localhost"), "{m}");
    assert!(m.contains("sslmode=verify-full") && m.contains("sslmode=verify-ca"), "{m}");
    let ca_only =
        settings(server, &format!("{host} sslmode=verify-ca sslrootcert={}", q(&server.ca)), &[]);
    round_trip(&ca_only).unwrap();
}

#[test]
fn disable_against_a_server_that_requires_tls_fails_clearly() {
    let Some(server) = meshform_pgtest::tls_server_or_skip() else { return };
    let m = refusal(&settings(server, "sslmode=disable", &[]), server);
    assert!(m.contains("accepts only TLS connections") && m.contains("sslmode=disable"), "{m}");
    assert!(m.contains("use sslmode=verify-full"), "{m}");
}

#[test]
fn require_against_a_server_without_tls_fails_clearly() {
    let Some(plain) = meshform_pgtest::server_or_skip() else { return };
    let Some(server) = meshform_pgtest::tls_server_or_skip() else { return };
    let s = PgSettings {
        conn_str: format!("{} sslmode=require", plain.conn_str()),
        ..settings(server, "", &[])
    };
    let m = refusal(&s, server);
    assert!(m.contains("does not offer TLS") && m.contains("sslmode=require"), "{m}");
    // prefer falls back to plain there.
    let s = PgSettings { conn_str: plain.conn_str(), ..s };
    round_trip(&s).unwrap();
}

#[test]
fn client_certificates_are_sent_when_the_server_asks_for_them() {
    let Some(server) = meshform_pgtest::tls_server_or_skip() else { return };
    let user = format!("user={}", server.client_user);
    let verify = format!("sslmode=verify-full sslrootcert={}", q(&server.ca));
    let with_cert = format!(
        "{user} {verify} sslcert={} sslkey={}",
        q(&server.client_cert),
        q(&server.client_key)
    );
    round_trip(&settings(server, &with_cert, &[])).unwrap_or_else(|e| panic!("{e}"));
    // Through the environment too.
    let env = [
        ("PGSSLCERT", server.client_cert.to_str().unwrap()),
        ("PGSSLKEY", server.client_key.to_str().unwrap()),
    ];
    round_trip(&settings(server, &format!("{user} {verify}"), &env)).unwrap();

    let m = refusal(&settings(server, &format!("{user} {verify}"), &[]), server);
    assert!(m.contains("requires a client certificate") && m.contains("none was sent"), "{m}");
    assert!(m.contains("set sslcert and sslkey"), "{m}");

    // A key others can read is refused before anything is sent, as libpq refuses it.
    let dir = tempfile::tempdir().unwrap();
    let open_key = dir.path().join("client.key");
    std::fs::copy(&server.client_key, &open_key).unwrap();
    std::fs::set_permissions(&open_key, std::os::unix::fs::PermissionsExt::from_mode(0o644))
        .unwrap();
    let loose =
        format!("{user} {verify} sslcert={} sslkey={}", q(&server.client_cert), q(&open_key));
    let m = refusal(&settings(server, &loose, &[]), server);
    assert!(m.contains("can be read by other users") && m.contains("chmod 600"), "{m}");

    // A key that is not the certificate's.
    let mismatched = format!(
        "{user} {verify} sslcert={} sslkey={}",
        q(&server.client_cert),
        q(&server.stray_key)
    );
    let m = refusal(&settings(server, &mismatched, &[]), server);
    assert!(m.contains("do not make a usable client certificate"), "{m}");
}

#[test]
fn passwords_are_bound_to_the_tls_session() {
    let Some(server) = meshform_pgtest::tls_server_or_skip() else { return };
    // channel_binding=require fails unless the client hands SCRAM the server's certificate hash.
    let s = PgSettings {
        conn_str: format!(
            "host=127.0.0.1 port={} dbname=postgres user={} password={} sslmode=require \
             channel_binding=require",
            server.port(),
            server.scram_user,
            server.scram_password
        ),
        ..settings(server, "", &[])
    };
    round_trip(&s).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn missing_and_malformed_tls_files_are_named() {
    let Some(server) = meshform_pgtest::tls_server_or_skip() else { return };
    let m = refusal(
        &settings(server, "sslmode=verify-ca sslrootcert=/nonexistent/ca.pem", &[]),
        server,
    );
    assert!(m.contains("sslrootcert \"/nonexistent/ca.pem\": cannot read"), "{m}");
    let m = refusal(
        &settings(server, &format!("sslmode=verify-ca sslrootcert={}", q(&server.client_key)), &[]),
        server,
    );
    assert!(m.contains("holds no certificate"), "{m}");
}
