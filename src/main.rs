use clap::Parser;

fn main() {
    let cli = echodesk::cli::Cli::parse();
    std::process::exit(echodesk::cli::run(cli));
}
