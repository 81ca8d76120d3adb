//! The rsftpd binary: everything lives in the library; this only hands over argv.
fn main() {
    std::process::exit(rsftpd::cli::main(std::env::args_os().collect()));
}
