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
    let cli = echodesk::cli::Cli::parse();
    std::process::exit(echodesk::cli::run(cli));
}
