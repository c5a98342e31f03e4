//! `convene serve` rejects invalid mail settings at start-up, before it creates the
//! database or listens, with a message that names the setting.

mod support;

use support::cli::run;

#[test]
fn serve_rejects_invalid_mail_settings() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pem").to_str().unwrap().to_owned();
    let not_pem = dir.path().join("not.pem");
    std::fs::write(&not_pem, "not a certificate\n").unwrap();
    let not_pem = not_pem.to_str().unwrap().to_owned();
    let dkim = |key: &str| {
        vec![
            ("CONVENE_DKIM_KEY", key.to_owned()),
            ("CONVENE_DKIM_DOMAIN", "convene.test".to_owned()),
            ("CONVENE_DKIM_SELECTOR", "s1".to_owned()),
        ]
    };
    // (settings, text the error must contain)
    let rows: Vec<(Vec<(&str, String)>, &str)> = vec![
        (dkim(&missing), "CONVENE_DKIM_KEY"),
        (dkim(&not_pem), "invalid DKIM private key"),
        (
            vec![("CONVENE_DKIM_DOMAIN", "convene.test".to_owned())],
            "--dkim-key / CONVENE_DKIM_KEY and --dkim-selector / CONVENE_DKIM_SELECTOR are not set",
        ),
        (
            vec![("CONVENE_RELAY", "http://relay.test:587".to_owned())],
            "--relay",
        ),
        (
            vec![("CONVENE_RELAY", "smtp://user:pw@relay.test".to_owned())],
            "CONVENE_RELAY_USER",
        ),
        (
            vec![("CONVENE_TLS_POLICY", "strict".to_owned())],
            "--tls-policy",
        ),
        (
            vec![("CONVENE_TLS_POLICY_DOMAINS", "example.org=never".to_owned())],
            "--tls-policy-domains",
        ),
        (
            vec![("CONVENE_TLS_CA_FILE", missing.clone())],
            "CONVENE_TLS_CA_FILE",
        ),
        (
            vec![("CONVENE_TLS_CA_FILE", not_pem.clone())],
            "CONVENE_TLS_CA_FILE",
        ),
        (
            vec![
                ("CONVENE_RELAY", "smtps://relay.test".to_owned()),
                ("CONVENE_RELAY_USER", "convene".to_owned()),
                ("CONVENE_RELAY_PASSWORD_FILE", missing.clone()),
            ],
            "CONVENE_RELAY_PASSWORD_FILE",
        ),
        (
            vec![
                ("CONVENE_RELAY_USER", "convene".to_owned()),
                ("CONVENE_RELAY_PASSWORD_FILE", not_pem.clone()),
            ],
            "set --relay / CONVENE_RELAY",
        ),
        (
            vec![(
                "CONVENE_DATABASE_URL",
                "mysql://convene:s3cret@127.0.0.1/convene".to_owned(),
            )],
            "--database-url / CONVENE_DATABASE_URL",
        ),
        (
            vec![("CONVENE_LOG", "info,[[[".to_owned())],
            "--log / CONVENE_LOG",
        ),
        (
            vec![("CONVENE_DNS_SERVER", "127.0.0.1".to_owned())],
            "has no port; add one, such as 127.0.0.1:53",
        ),
        (
            vec![("CONVENE_DNS_SERVER", "localhost:53".to_owned())],
            "host names are not accepted",
        ),
        (
            vec![("CONVENE_NOTIFIER_INTERVAL", "fast".to_owned())],
            "environment variable CONVENE_NOTIFIER_INTERVAL",
        ),
        (
            vec![("CONVENE_ADMIN_TOKEN", "too-short".to_owned())],
            "fewer than 32",
        ),
        (
            vec![("CONVENE_ADMIN_TOKEN_FILE", missing.clone())],
            "CONVENE_ADMIN_TOKEN_FILE",
        ),
        (
            vec![
                (
                    "CONVENE_ADMIN_TOKEN",
                    "k3jP9x2mQ8vR4tY7wZ1aB5cD6eF0gH2i".to_owned(),
                ),
                ("CONVENE_ADMIN_TOKEN_FILE", missing.clone()),
            ],
            "CONVENE_ADMIN_TOKEN and CONVENE_ADMIN_TOKEN_FILE",
        ),
        (
            vec![("CONVENE_RATE_BURST", "0".to_owned())],
            "environment variable CONVENE_RATE_BURST",
        ),
        (
            vec![("CONVENE_DATABASE_URL", "memory:".to_owned())],
            "could never have users",
        ),
        (
            vec![
                ("CONVENE_SMS_AUTH_TOKEN", "s3cret".to_owned()),
                ("CONVENE_SMS_FROM", "+4930123456".to_owned()),
            ],
            "--sms-auth-token / CONVENE_SMS_AUTH_TOKEN is set but --sms-account-sid / CONVENE_SMS_ACCOUNT_SID is not",
        ),
        (
            vec![("CONVENE_WEBHOOK_SECRET_FILE", missing.clone())],
            "set --webhook-url / CONVENE_WEBHOOK_URL too",
        ),
        (
            vec![("CONVENE_PUSH_SUBJECT", "mailto:ops@convene.test".to_owned())],
            "--push-vapid-key-file / CONVENE_PUSH_VAPID_KEY_FILE is not",
        ),
    ];
    for (settings, expected) in rows {
        let database = dir.path().join("convene.db");
        let mut all_settings = vec![
            ("CONVENE_LISTEN", "127.0.0.1:0".to_owned()),
            (
                "CONVENE_DATABASE_URL",
                format!("sqlite:{}", database.display()),
            ),
            ("CONVENE_HELO_NAME", "convene.test".to_owned()),
        ];
        all_settings.extend(settings.iter().cloned());

        let output = run(&["serve"], &all_settings, b"");

        assert_eq!(output.code, Some(2), "{settings:?}: {}", output.describe());
        assert!(
            output.stderr.contains(expected),
            "{settings:?}: expected {expected:?} in {}",
            output.describe()
        );
        assert!(!database.exists(), "{settings:?}: no database is created");
        assert!(!output.stderr.contains("s3cret"), "{}", output.describe());
    }
}
