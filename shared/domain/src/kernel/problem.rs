//! RFC 9457 problem details: the one shape every function answers errors with.
//!
//! Messages are Persian, for the storefront to show as they are; `code`s are stable English
//! identifiers for the storefront's logic. Internal details never go into a problem: they are
//! logged (without personal data) and the customer gets a generic answer.

use serde::Serialize;

/// Where the problem types are documented (infra/openapi.yaml lists every code).
const TYPE_BASE: &str = "https://mizancoffee.ir/problems/";

/// What a parser says about input it refuses: a stable code and a Persian message.
pub trait Rejection: std::error::Error {
    fn code(&self) -> &'static str;
    fn message(&self) -> &'static str;

    /// The rejection as it applies to one field of a request.
    fn at(&self, field: &str) -> FieldError {
        FieldError { field: field.to_owned(), code: self.code(), message: self.message() }
    }
}

/// One invalid field, as the storefront shows it beside the input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub code: &'static str,
    pub message: &'static str,
}

impl FieldError {
    pub fn new(field: &str, code: &'static str, message: &'static str) -> Self {
        Self { field: field.to_owned(), code, message }
    }

    pub fn missing(field: &str) -> Self {
        Self::new(field, "required", "این مورد الزامی است.")
    }
}

/// An RFC 9457 problem details document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_uri: String,
    pub title: &'static str,
    pub status: u16,
    pub detail: &'static str,
    pub code: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// Seconds after which a retry may succeed; sent as the `Retry-After` header.
    #[serde(skip)]
    pub retry_after: Option<u64>,
}

impl Problem {
    fn new(status: u16, code: &'static str, title: &'static str, detail: &'static str) -> Self {
        Self {
            type_uri: format!("{TYPE_BASE}{code}"),
            title,
            status,
            detail,
            code,
            errors: Vec::new(),
            retry_after: None,
        }
    }

    /// A request whose fields broke the rules; nothing was changed.
    pub fn invalid(errors: Vec<FieldError>) -> Self {
        Self {
            errors,
            ..Self::new(
                400,
                "validation-failed",
                "اطلاعات ارسالی نامعتبر است",
                "برخی از موارد درخواست نادرست است؛ آن‌ها را اصلاح کنید و دوباره بفرستید.",
            )
        }
    }

    /// The body was not JSON, or not a JSON object.
    pub fn malformed_body() -> Self {
        Self::new(400, "malformed-body", "بدنهٔ درخواست خوانا نیست", "بدنهٔ درخواست باید یک شیء JSON معتبر باشد.")
    }

    pub fn unsupported_media_type() -> Self {
        Self::new(
            415,
            "unsupported-media-type",
            "نوع محتوا پشتیبانی نمی‌شود",
            "بدنهٔ درخواست را با Content-Type: application/json بفرستید.",
        )
    }

    pub fn payload_too_large() -> Self {
        Self::new(413, "payload-too-large", "درخواست بیش از حد بزرگ است", "حجم بدنهٔ درخواست از حد مجاز بیشتر است.")
    }

    pub fn unauthorized() -> Self {
        Self::new(401, "unauthorized", "ورود لازم است", "برای این درخواست باید وارد حساب خود شوید.")
    }

    pub fn invalid_credentials() -> Self {
        Self::new(401, "invalid-credentials", "ورود ناموفق بود", "ایمیل یا گذرواژه نادرست است.")
    }

    /// A verification token or code that is wrong, used, expired or dead — deliberately alike.
    pub fn verification_failed() -> Self {
        Self::new(400, "verification-failed", "تأیید انجام نشد", "کد یا پیوند تأیید نادرست است یا منقضی شده است.")
    }

    pub fn too_many_attempts(retry_after_seconds: u64) -> Self {
        Self {
            retry_after: Some(retry_after_seconds),
            ..Self::new(
                429,
                "too-many-attempts",
                "تلاش‌های بیش از حد",
                "تعداد تلاش‌های ناموفق زیاد بوده است؛ کمی بعد دوباره تلاش کنید.",
            )
        }
    }

    /// An abuse limit (signups, messages asked for again) is used up for now.
    pub fn too_many_requests(retry_after_seconds: u64) -> Self {
        Self {
            retry_after: Some(retry_after_seconds),
            ..Self::new(
                429,
                "too-many-requests",
                "درخواست‌های بیش از حد",
                "از این نشانی یا برای این شماره درخواست‌های زیادی رسیده است؛ کمی بعد دوباره تلاش کنید.",
            )
        }
    }

    /// The password re-entered to confirm a grave step (closing the account) is wrong.
    pub fn wrong_password() -> Self {
        Self::new(403, "wrong-password", "گذرواژه نادرست است", "گذرواژه‌ای که وارد کردید با گذرواژهٔ حساب یکی نیست.")
    }

    pub fn forbidden() -> Self {
        Self::new(403, "forbidden", "دسترسی مجاز نیست", "شما اجازهٔ انجام این کار را ندارید.")
    }

    pub fn not_found() -> Self {
        Self::new(404, "not-found", "پیدا نشد", "چنین نشانی‌ای وجود ندارد.")
    }

    pub fn method_not_allowed() -> Self {
        Self::new(405, "method-not-allowed", "روش درخواست مجاز نیست", "این نشانی از این روش درخواست پشتیبانی نمی‌کند.")
    }

    /// A route of the contract whose function is not built yet.
    pub fn not_implemented() -> Self {
        Self::new(501, "not-implemented", "هنوز آماده نیست", "این بخش از فروشگاه هنوز راه‌اندازی نشده است.")
    }

    /// Something failed on our side; the details are in the log under the request id.
    pub fn internal() -> Self {
        Self::new(500, "internal-error", "خطای داخلی", "خطایی در سامانه رخ داد؛ لطفاً کمی بعد دوباره تلاش کنید.")
    }

    /// A dependency (DynamoDB, SNS) is throttling or unreachable: retrying later is safe.
    pub fn unavailable() -> Self {
        Self::new(503, "service-unavailable", "سرویس موقتاً در دسترس نیست", "لطفاً کمی بعد دوباره تلاش کنید.")
    }

    /// The `Idempotency-Key` was used before with a different body: replaying the first answer
    /// would answer a request that was not made, and running this one would break the key's promise.
    pub fn idempotency_key_reused() -> Self {
        Self::new(
            422,
            "idempotency-key-reused",
            "کلید یکتایی تکراری است",
            "این کلید یکتایی (Idempotency-Key) پیش‌تر با درخواست دیگری به کار رفته است؛ برای درخواست تازه کلید تازه بسازید.",
        )
    }

    /// The first request with the same `Idempotency-Key` is still running; retrying after
    /// `retry_after_seconds` gets its answer.
    pub fn request_in_progress(retry_after_seconds: u64) -> Self {
        Self {
            retry_after: Some(retry_after_seconds),
            ..Self::new(
                409,
                "request-in-progress",
                "درخواست در حال انجام است",
                "درخواستی با همین کلید یکتایی هنوز در حال انجام است؛ کمی بعد دوباره تلاش کنید.",
            )
        }
    }

    /// The store has less of a product than the order asks for; nothing was reserved.
    pub fn out_of_stock() -> Self {
        Self::new(
            409,
            "out-of-stock",
            "موجودی کافی نیست",
            "موجودی برخی از کالاهای سبد کمتر از تعداد درخواستی است؛ سبد را اصلاح کنید.",
        )
    }

    /// The order exists but its invoice is still being issued (moments after checkout).
    pub fn invoice_pending() -> Self {
        Self {
            retry_after: Some(2),
            ..Self::new(
                409,
                "invoice-pending",
                "فاکتور در حال صدور است",
                "فاکتور رسمی این سفارش چند لحظه دیگر آماده می‌شود؛ کمی بعد دوباره بخواهید.",
            )
        }
    }

    /// The order is paid already: a second payment would take the customer's money twice.
    pub fn order_already_paid() -> Self {
        Self::new(
            409,
            "order-already-paid",
            "این سفارش پرداخت شده است",
            "پرداخت این سفارش پیش‌تر انجام و تأیید شده است.",
        )
    }

    /// The order's payment window has closed and its stock went back on the shelf.
    pub fn order_expired() -> Self {
        Self::new(
            409,
            "order-expired",
            "مهلت پرداخت این سفارش گذشته است",
            "این سفارش در مهلت مقرر پرداخت نشد و لغو شد؛ برای خرید، سفارش تازه‌ای ثبت کنید.",
        )
    }

    /// The order's status does not allow what was asked (packing an unpaid order, delivering one
    /// that never shipped, shipping twice with different codes): nothing changed.
    pub fn order_transition_not_allowed() -> Self {
        Self::new(
            409,
            "order-transition-not-allowed",
            "وضعیت سفارش اجازهٔ این کار را نمی‌دهد",
            "این کار در وضعیت کنونی سفارش ممکن نیست؛ وضعیت و تاریخچهٔ سفارش را دوباره ببینید.",
        )
    }

    /// The parcel has left: a shipped order is no longer cancelled, it is returned.
    pub fn order_already_shipped() -> Self {
        Self::new(
            409,
            "order-already-shipped",
            "سفارش ارسال شده است",
            "این سفارش به شرکت حمل سپرده شده و دیگر لغو نمی‌شود؛ برای بازگرداندن کالا با پشتیبانی فروشگاه تماس بگیرید.",
        )
    }

    /// Only an invoice the tax system rejected is corrected here (and only once at a time).
    /// The invoice is on its way to the tax system: it is corrected once the system has
    /// accepted or rejected it.
    pub fn invoice_awaiting_verdict() -> Self {
        Self::new(
            409,
            "invoice-awaiting-verdict",
            "این صورتحساب در انتظار پاسخ سامانهٔ مؤدیان است",
            "صورتحساب هنوز در صف ارسال است یا سامانهٔ مؤدیان دربارهٔ آن پاسخ نداده است؛ پس از پذیرش یا رد آن دوباره اقدام کنید.",
        )
    }

    /// The sale's accepted invoice has its corrective invoice already.
    pub fn invoice_already_corrected() -> Self {
        Self::new(
            409,
            "invoice-already-corrected",
            "برای این صورتحساب پیش‌تر صورتحساب اصلاحی صادر شده است",
            "هر صورتحساب فروش یک بار اصلاح می‌شود؛ اگر صورتحساب اصلاحی رد شده است، همان را با kind=correction اصلاح کنید.",
        )
    }

    /// A return invoice, or a sale that has been returned, stands as it was accepted.
    pub fn invoice_not_correctable() -> Self {
        Self::new(
            409,
            "invoice-not-correctable",
            "این صورتحساب اصلاح‌پذیر نیست",
            "صورتحساب برگشت از فروش، و صورتحساب فروشی که برگشت خورده است، پس از پذیرش در سامانهٔ مؤدیان اصلاح نمی‌شوند.",
        )
    }

    /// The order was cancelled: it can no longer be paid.
    pub fn order_cancelled() -> Self {
        Self::new(
            409,
            "order-cancelled",
            "این سفارش لغو شده است",
            "این سفارش لغو شده است؛ برای خرید، سفارش تازه‌ای ثبت کنید.",
        )
    }

    /// The payment gateway did not answer, or refused to start a payment: nothing was charged,
    /// and trying again later is safe.
    pub fn payment_gateway_unavailable() -> Self {
        Self {
            retry_after: Some(30),
            ..Self::new(
                503,
                "payment-gateway-unavailable",
                "درگاه پرداخت در دسترس نیست",
                "اتصال به درگاه پرداخت برقرار نشد و مبلغی کسر نشده است؛ چند لحظه بعد دوباره تلاش کنید.",
            )
        }
    }

    /// The order is not paid yet: its official invoice is issued once it is.
    pub fn order_not_paid() -> Self {
        Self::new(409, "order-not-paid", "سفارش هنوز پرداخت نشده است", "فاکتور رسمی پس از پرداخت سفارش صادر می‌شود.")
    }

    /// VAT certificates are for legal-entity buyers: a natural person has no VAT to offset.
    pub fn not_a_legal_entity() -> Self {
        Self::new(
            409,
            "not-a-legal-entity",
            "گواهی ارزش افزوده فقط برای اشخاص حقوقی است",
            "این سفارش به نام شخص حقیقی ثبت شده است؛ گواهی ارزش افزوده تنها برای خریداران حقوقی (دارای کد اقتصادی و شناسه ملی) صادر می‌شود.",
        )
    }

    /// Logging in, and posting reviews, need a proven email.
    pub fn email_not_verified() -> Self {
        Self::new(
            403,
            "email-not-verified",
            "ایمیل تأیید نشده است",
            "نخست نشانی ایمیل خود را با پیوندی که به آن فرستاده شده تأیید کنید.",
        )
    }

    /// A change of contact to the email or number the account has, proven already.
    pub fn contact_unchanged() -> Self {
        Self::new(
            409,
            "contact-unchanged",
            "تغییری در کار نیست",
            "این نشانی یا شماره همین حالا از آنِ حساب شماست و تأیید شده است.",
        )
    }

    /// The email a change would move to belongs to another account, which proved it. Only the
    /// owner of that inbox, who followed its link, is told.
    pub fn email_taken() -> Self {
        Self::new(
            409,
            "email-taken",
            "این ایمیل حساب دیگری است",
            "این نشانی ایمیل پیش‌تر برای حساب دیگری تأیید شده است؛ ایمیل حساب تغییری نکرد.",
        )
    }

    /// A customer posted the hour's share of reviews.
    pub fn too_many_reviews() -> Self {
        Self {
            retry_after: Some(3600),
            ..Self::new(
                429,
                "too-many-reviews",
                "دیدگاه‌های بیش از حد",
                "در هر ساعت تنها چند دیدگاه می‌توانید بنویسید؛ کمی بعد دوباره تلاش کنید.",
            )
        }
    }

    /// The store edited or hid this review (P10): its author may not undo that by reposting.
    pub fn review_moderated() -> Self {
        Self::new(
            409,
            "review-moderated",
            "این دیدگاه را فروشگاه بازبینی کرده است",
            "دیدگاه شما دربارهٔ این کالا را فروشگاه ویرایش یا پنهان کرده است و دیگر نمی‌توانید آن را جایگزین کنید؛ برای پرسش با پشتیبانی تماس بگیرید.",
        )
    }
}
