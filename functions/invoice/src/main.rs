//! Not built yet: every route of this function answers 501 with a problem+json body.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    mizan::telemetry::init();
    mizan::http::serve(mizan::http::not_implemented).await
}
