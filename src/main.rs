use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = obgw::cli::Cli::parse();
    match obgw::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("obgw: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
