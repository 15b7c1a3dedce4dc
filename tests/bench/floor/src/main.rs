//! The floor every function is measured against: the Rust runtime and nothing else. Built with
//! the workspace's release profile, like the functions, so the difference is their own work.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move { Ok::<_, Error>(event.payload) })).await
}
