//! Payment gateways, one module per gateway, each implementing `mizan::payments::ports::PaymentGateway`.

pub mod zarinpal;
