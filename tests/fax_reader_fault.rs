//! A PDF reader that crashes or hangs costs one fax its text, nothing
//! more. Alone in its binary: it points ECHODESK_HELPER elsewhere, which
//! no other test running beside it may see.

use std::path::Path;
use std::time::{Duration, Instant};

use echodesk::channel::fax::{self, PdfText};

#[test]
fn a_reader_that_dies_or_hangs_is_reported_not_fatal() {
    // The helper binary stands in for any reader: point it at a command
    // that crashes, and one that never ends.
    let dir = tempfile::tempdir().unwrap();
    let crash = dir.path().join("crash");
    std::fs::write(&crash, "#!/bin/sh\nkill -SEGV $$\n").unwrap();
    let hang = dir.path().join("hang");
    std::fs::write(&hang, "#!/bin/sh\nexec sleep 60\n").unwrap();
    for f in [&crash, &hang] {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let data = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pdf/reportlab-letter.pdf"),
    )
    .unwrap();
    // SAFETY: the only test in this binary, so no other thread reads the
    // environment meanwhile.
    unsafe { std::env::set_var("ECHODESK_HELPER", &crash) };
    let e = fax::layer_text(&data, PdfText::Builtin).unwrap_err();
    assert!(e.contains("stopped by signal 11"), "{e}");
    unsafe { std::env::set_var("ECHODESK_HELPER", &hang) };
    let started = Instant::now();
    let e = fax::layer_text(&data, PdfText::Builtin).unwrap_err();
    assert!(e.contains("did not finish within 10 s"), "{e}");
    assert!(started.elapsed() < Duration::from_secs(14));
    unsafe { std::env::remove_var("ECHODESK_HELPER") };
}
