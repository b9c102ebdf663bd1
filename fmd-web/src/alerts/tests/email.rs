//! Email through a real SMTP server on loopback: Python's `aiosmtpd`, started by the test
//! (skipped with a message when it is missing, outside CI).

use std::time::Duration;

use fmd_core::Sink;

use super::{config, errors, failing, quick, start, Db};

/// A real SMTP server: `python3 -m aiosmtpd`, writing each message into a Maildir.
struct Smtp {
    child: std::process::Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Smtp {
    /// `None` (with a message) when aiosmtpd is not installed, outside CI.
    fn start() -> Option<Smtp> {
        let missing = |why: String| {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("{why} (CI installs it: pip install aiosmtpd)");
            }
            eprintln!("skipping the email test: {why}; pip install aiosmtpd to run it");
            None
        };
        let probe = std::process::Command::new("python3")
            .args(["-c", "import aiosmtpd"])
            .output();
        if !probe.is_ok_and(|o| o.status.success()) {
            return missing("python3 with aiosmtpd is not available".into());
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = tempfile::tempdir().unwrap();
        let child = std::process::Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(dir.path().join("mail"))
            .spawn()
            .unwrap();
        let smtp = Smtp { child, port, dir };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(smtp);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        missing(format!("aiosmtpd did not listen on port {port}"))
    }

    /// The messages received so far.
    fn messages(&self) -> Vec<String> {
        let new = self.dir.path().join("mail").join("new");
        let files: Vec<_> = std::fs::read_dir(new)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        files
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn email_arrives_with_subject_text_and_html() {
    let Some(smtp) = Smtp::start() else { return };
    let db = Db::new();
    let store = db.store();
    let mut sink = db.sink(&store);
    let config = config("one", Vec::new())
        .email_to(vec!["ops@example.com".into(), "dev@example.com".into()])
        .smtp_url(format!("smtp://127.0.0.1:{}", smtp.port))
        .email_from("fmd <fmd@example.com>");
    config.validate().unwrap();
    let alerts = start(&config, &store, quick());

    // The test button's path: answered once the server took it.
    let answer = alerts.test("email").await.unwrap();
    assert!(
        answer.as_ref().is_ok_and(|a| a.starts_with("SMTP 250")),
        "{answer:?}"
    );
    assert_eq!(alerts.test("webhook-1").await, None);

    sink.write(&[failing(errors(1).remove(0))], &[]).unwrap();
    let end = std::time::Instant::now() + Duration::from_secs(10);
    while smtp.messages().len() < 2 && std::time::Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Undo quoted-printable's soft line breaks and escapes, enough to read the link.
    let messages: Vec<String> = smtp
        .messages()
        .iter()
        .map(|m| {
            m.replace("=\r\n", "")
                .replace("=\n", "")
                .replace("=3D", "=")
        })
        .collect();
    assert_eq!(messages.len(), 2, "{messages:?}");
    // Found by subject: Maildir's file names do not sort by arrival within a second.
    let with_subject = |subject: &str| {
        messages
            .iter()
            .find(|m| m.contains(&format!("Subject: [fmd] {subject}")))
            .unwrap_or_else(|| panic!("no mail with subject {subject}: {messages:?}"))
    };
    with_subject("Test alert from fmd");
    let new = with_subject("New exception in checkout: OutOfStock");
    assert!(new.contains("From: fmd <fmd@example.com>"), "{new}");
    assert!(
        new.contains("To: ops@example.com, dev@example.com"),
        "{new}"
    );
    assert!(new.contains("multipart/alternative"), "{new}");
    assert!(new.contains("Content-Type: text/plain"), "{new}");
    assert!(new.contains("Content-Type: text/html"), "{new}");
    assert!(
        new.contains("https://shop.example.com/dashboard/endpoint/1/exceptions#group-"),
        "{new}"
    );
    alerts.stop();
}
