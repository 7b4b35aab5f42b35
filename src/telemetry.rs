//! The log's writer ([`BatchedStderr`]) and OpenTelemetry traces over OTLP/HTTP (protobuf), off
//! unless `otel.endpoint` is set.
//!
//! Every request already runs in a `tracing` span (`request`, with `method`, `route` and
//! `request_id`; see `server`); `cli::serve` adds a `tracing-opentelemetry` layer over the
//! tracer made here, so those spans, their fields as attributes and the events inside them are
//! exported in batches from the SDK's own thread. Shut the provider down on exit to flush the last batch.

use std::io::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};

/// The OTLP/HTTP traces path, appended to the configured base URL.
pub(crate) const TRACES_PATH: &str = "/v1/traces";

#[derive(Debug, thiserror::Error)]
#[error("cannot build the OTLP trace exporter: {0}")]
pub(crate) struct TelemetryError(String);

/// Builds the tracer provider exporting to `{endpoint}/v1/traces` as `service_name`.
pub(crate) fn tracer(
    endpoint: &url::Url,
    service_name: &str,
) -> Result<(SdkTracerProvider, SdkTracer), TelemetryError> {
    let url = format!("{}{TRACES_PATH}", endpoint.as_str().trim_end_matches('/'));
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .with_endpoint(url)
        .with_headers(Default::default())
        .build()
        .map_err(|e| TelemetryError(e.to_string()))?;
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            Resource::builder()
                .with_service_name(service_name.to_owned())
                .build(),
        )
        .build();
    let tracer = provider.tracer("latchkey");
    Ok((provider, tracer))
}

/// The log's writer: standard error through one shared buffer, so that under load many lines share
/// one `write(2)`. Lines of INFO and below wait in the buffer until it holds [`BATCH_BYTES`] or
/// [`FLUSH_EVERY`] has passed (a background thread flushes it); a WARN or ERROR line (a security
/// event, a failure) is written at once, with everything before it, in order. The guard returned
/// with it flushes what is left when the server stops (a `?` error return drops it too; the
/// `process::exit` paths of `cli::serve` log an ERROR line first, which writes everything before it).
///
/// Blocking, not lossy: no line is dropped to keep up. When standard error cannot take a batch (a
/// full pipe), the write waits, holding the buffer, and so do the requests logging meanwhile.
///
/// Why not `tracing-appender`'s non-blocking writer: it hands each line to a thread over a channel,
/// and on this 2-core machine the wake-ups and spinning of that hand-over cost more CPU per request
/// than the write they save (benchmark, token-info on SQLite: 16.1–16.8 µs of server CPU per
/// request writing each line, 19.9–20.3 with the channel, 11.8–13.1 with no request log).
#[derive(Clone)]
pub(crate) struct BatchedStderr {
    buffer: Arc<Mutex<Vec<u8>>>,
}

/// Flushes the log buffer when dropped.
pub(crate) struct FlushOnDrop(BatchedStderr);

/// The buffered bytes that make a write due.
const BATCH_BYTES: usize = 32 * 1024;
/// The longest an INFO line waits in the buffer.
const FLUSH_EVERY: Duration = Duration::from_millis(100);

impl BatchedStderr {
    /// The writer, its background flusher started, and the guard that flushes on exit.
    pub(crate) fn start() -> (Self, FlushOnDrop) {
        let writer = Self {
            buffer: Arc::new(Mutex::new(Vec::with_capacity(BATCH_BYTES * 2))),
        };
        let ticking = writer.clone();
        // The thread lives as long as the process; it only ever takes the lock to flush.
        let spawned = std::thread::Builder::new()
            .name("latchkey-log".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(FLUSH_EVERY);
                    ticking.flush_now();
                }
            });
        if spawned.is_err() {
            eprintln!(
                "warning: cannot start the log flusher; log lines are written when 32 KiB are due"
            );
        }
        (writer.clone(), FlushOnDrop(writer))
    }

    fn flush_now(&self) {
        let mut buffer = self.buffer.lock().unwrap_or_else(|p| p.into_inner());
        write_out(&mut buffer);
    }
}

/// Writes the buffered lines to standard error and empties the buffer. A failed write is dropped:
/// there is nowhere left to report it.
fn write_out(buffer: &mut Vec<u8>) {
    if !buffer.is_empty() {
        let _ = std::io::stderr().lock().write_all(buffer);
        buffer.clear();
    }
}

impl Drop for FlushOnDrop {
    fn drop(&mut self) {
        self.0.flush_now();
    }
}

/// One event's line, about to be written.
pub(crate) struct Line<'a> {
    log: &'a BatchedStderr,
    urgent: bool,
}

impl std::io::Write for Line<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let mut buffer = self.log.buffer.lock().unwrap_or_else(|p| p.into_inner());
        buffer.extend_from_slice(bytes);
        if self.urgent || buffer.len() >= BATCH_BYTES {
            write_out(&mut buffer);
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for BatchedStderr {
    type Writer = Line<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        Line {
            log: self,
            urgent: true,
        }
    }

    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> Self::Writer {
        Line {
            log: self,
            urgent: *meta.level() <= tracing::Level::WARN,
        }
    }
}
