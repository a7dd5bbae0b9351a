use clap::Parser;
use pyoci::{config::LogFormat, Config};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // `pyoci healthcheck`: for a container's HEALTHCHECK, where there is no shell or curl.
    if std::env::args_os()
        .nth(1)
        .is_some_and(|arg| arg == "healthcheck")
    {
        return pyoci::healthcheck::run().await;
    }
    let config = Config::parse();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match config.log_format {
        // One JSON object per line; the event's fields at the top level.
        LogFormat::Json => logs
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .init(),
        LogFormat::Text => logs.init(),
    }
    match pyoci::serve(config).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err}");
            std::process::ExitCode::FAILURE
        }
    }
}
