use clap::Parser;

fn main() {
    // Die quietly on a closed pipe (`echodesk list | head`) like other
    // Unix tools, instead of panicking in println!.
    #[cfg(unix)]
    // SAFETY: called once at start-up before any thread exists; restoring a
    // signal's default disposition has no other effect on this process.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // A child for parsing an untrusted file (see `isolate`): no clap, no
    // config, just the task on stdin.
    let mut args = std::env::args_os().skip(1);
    if args
        .next()
        .is_some_and(|a| a == echodesk::isolate::HELPER_ARG)
    {
        std::process::exit(helper(args.next()));
    }
    let cli = echodesk::cli::Cli::parse();
    std::process::exit(echodesk::cli::run(cli));
}

/// The helper's tasks (`echodesk __helper TASK`), each reading its input on
/// stdin. Dispatched here, at the top, so `isolate` depends on no channel.
fn helper(task: Option<std::ffi::OsString>) -> i32 {
    match task.as_deref().and_then(|t| t.to_str()) {
        Some("pdf-text") => echodesk::channel::fax::text::helper_main(),
        other => {
            eprintln!(
                "unknown helper task `{}`",
                echodesk::sanitize::line(other.unwrap_or(""))
            );
            2
        }
    }
}
