use clap::Parser;
use pyoci::{
    cli::{Cli, Command},
    config::LogFormat,
};
use tracing_subscriber::{layer::SubscriberExt, util::SubscriberInitExt, EnvFilter, Layer};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // `pyoci healthcheck`: for a container's HEALTHCHECK, where there is no shell or curl.
    if let Some(Command::Healthcheck) = cli.command {
        return pyoci::healthcheck::run(&cli.config).await;
    }
    let config = cli.config;
    let mut filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // The spans exported as traces (`--features otel`) would prefix every log line.
    if let Ok(directive) = "pyoci::trace=off".parse() {
        filter = filter.add_directive(directive);
    }
    let logs = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let logs = match config.log_format {
        // One JSON object per line; the event's fields at the top level.
        LogFormat::Json => logs
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .with_filter(filter)
            .boxed(),
        LogFormat::Text => logs.with_filter(filter).boxed(),
    };
    #[cfg_attr(not(feature = "otel"), allow(unused_mut))]
    let mut layers = vec![logs];

    #[cfg(feature = "otel")]
    let otel = match pyoci::otel::layer() {
        Ok(otel) => otel.map(|(layer, guard)| {
            layers.push(layer);
            guard
        }),
        Err(err) => {
            eprintln!("{err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    tracing_subscriber::registry().with(layers).init();
    #[cfg(feature = "otel")]
    if let Some(otel) = &otel {
        tracing::info!("exporting traces over OTLP to {}", otel.host());
    }

    let result = pyoci::serve(config).await;
    #[cfg(feature = "otel")]
    if let Some(otel) = otel {
        otel.shutdown().await;
    }
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err}");
            std::process::ExitCode::FAILURE
        }
    }
}
