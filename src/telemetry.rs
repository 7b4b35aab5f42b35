//! OpenTelemetry traces over OTLP/HTTP (protobuf), off unless `otel.endpoint` is set.
//!
//! Every request already runs in a `tracing` span (`request`, with `method`, `route` and
//! `request_id`; see `server`); `cli::serve` adds a `tracing-opentelemetry` layer over the
//! tracer made here, so those spans, their fields as attributes and the events inside them are
//! exported in batches from the SDK's own thread. Shut the provider down on exit to flush the last batch.

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
