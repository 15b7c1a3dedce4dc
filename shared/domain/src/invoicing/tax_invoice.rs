//! An official invoice as the tax system (سامانه مودیان, API v2) reads it: its JSON of header,
//! items and payments (shared/design/payments-and-tax.md), made from the stored invoice and
//! checked against it before anything is sent.
//!
//! Only what tax law requires leaves the store (P5, P8): the buyer's identity codes and, for a
//! company, its economic code and registered postal code. No name, email, phone or recipient.
//! Every sum is computed afresh from the items and must equal the stored invoice's: a mismatch is
//! a bug to alarm on, never a submission.

use serde::Serialize;
use serde_json::Value;

use crate::invoicing::invoice::{INVOICE_PATTERN, INVOICE_TYPE, Invoice, PAYMENT_METHOD_GATEWAY};
use crate::kernel::money::Rial;
use crate::ordering::order::Buyer;
use crate::ordering::pricing::{PricedLine, line_vat};

/// Settlement (`setm`) 1: paid in full, in cash (a gateway payment counts as cash).
const SETTLEMENT_CASH: u8 = 1;

/// The invoice as the tax system's JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaxInvoice {
    pub header: Header,
    pub body: Vec<Item>,
    pub payments: Vec<Payment>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Header {
    pub taxid: String,
    /// Issue time, Unix milliseconds.
    pub indatim: i64,
    pub inty: u8,
    /// Our serial, 10 hex digits.
    pub inno: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub irtaxid: Option<String>,
    pub inp: u8,
    pub ins: u8,
    /// The seller's economic code.
    pub tins: String,
    pub tob: u8,
    pub bid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tinb: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bpc: Option<String>,
    pub tprdis: u64,
    pub tdis: u64,
    pub tadis: u64,
    pub tvam: u64,
    pub todam: u64,
    pub tbill: u64,
    pub setm: u8,
    /// Paid in cash: the whole bill.
    pub cap: u64,
    /// Paid on credit: nothing.
    pub insp: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Item {
    pub sstid: String,
    pub sstt: String,
    pub am: u32,
    pub mu: u32,
    pub fee: u64,
    pub prdis: u64,
    pub dis: u64,
    pub adis: u64,
    /// The VAT rate in percent: an integer where it is one (10), else a decimal (9.5).
    pub vra: Value,
    pub vam: u64,
    pub tsstam: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Payment {
    pub pmt: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trn: Option<String>,
    /// Payment time, Unix milliseconds.
    pub pdt: i64,
    pub pv: u64,
}

/// A figure of the stored invoice that its items do not add up to: a bug, never sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invoice {serial}: {field} is {stored} stored but {computed} from its items")]
pub struct SumMismatch {
    pub serial: u64,
    pub field: &'static str,
    pub stored: u64,
    pub computed: u64,
}

impl TaxInvoice {
    /// The tax system's JSON of `invoice`, every sum recomputed from its lines and checked
    /// against what the invoice stores.
    pub fn of(invoice: &Invoice) -> Result<Self, SumMismatch> {
        let mismatch =
            |field, stored: u64, computed: u64| SumMismatch { serial: invoice.serial, field, stored, computed };
        let body = invoice
            .lines
            .iter()
            .map(|line| item(line).map_err(|(field, stored, computed)| mismatch(field, stored, computed)))
            .collect::<Result<Vec<_>, _>>()?;
        let sum = |pick: fn(&Item) -> u64| body.iter().map(pick).sum::<u64>();
        let (tprdis, tdis, tadis, tvam, tbill) =
            (sum(|i| i.prdis), sum(|i| i.dis), sum(|i| i.adis), sum(|i| i.vam), sum(|i| i.tsstam));
        let totals = &invoice.totals;
        for (field, stored, computed) in [
            ("tprdis", totals.before_discount, tprdis),
            ("tdis", totals.discount, tdis),
            ("tadis", totals.after_discount, tadis),
            ("tvam", totals.vat, tvam),
            ("tbill", totals.total, tbill),
        ] {
            if stored.value() != computed {
                return Err(mismatch(field, stored.value(), computed));
            }
        }
        if invoice.payment.amount.value() != tbill {
            return Err(mismatch("pv", invoice.payment.amount.value(), tbill));
        }
        let (tob, bid, tinb, bpc) = match &invoice.buyer {
            Buyer::Natural { national_code, .. } => (1, national_code.as_str().to_owned(), None, None),
            Buyer::Legal { economic_code, national_id, postal_code, .. } => (
                2,
                national_id.as_str().to_owned(),
                Some(economic_code.as_str().to_owned()),
                Some(postal_code.as_str().to_owned()),
            ),
        };
        let header = Header {
            taxid: invoice.tax_id.as_str().to_owned(),
            indatim: unix_ms(invoice.issued_at),
            inty: INVOICE_TYPE,
            inno: format!("{:010X}", invoice.serial),
            irtaxid: invoice.subject.references().map(|original| original.as_str().to_owned()),
            inp: INVOICE_PATTERN,
            ins: invoice.subject.code(),
            tins: invoice.seller_economic_code.as_str().to_owned(),
            tob,
            bid,
            tinb,
            bpc,
            tprdis,
            tdis,
            tadis,
            tvam,
            todam: 0,
            tbill,
            setm: SETTLEMENT_CASH,
            cap: tbill,
            insp: 0,
        };
        let payments = vec![Payment {
            pmt: PAYMENT_METHOD_GATEWAY,
            trn: invoice.payment.tracking_number.clone(),
            pdt: unix_ms(invoice.payment.paid_at),
            pv: invoice.payment.amount.value(),
        }];
        Ok(Self { header, body, payments })
    }
}

/// One line as an item, its figures recomputed: (field, stored, computed) where they differ.
fn item(line: &PricedLine) -> Result<Item, (&'static str, u64, u64)> {
    let overflow = |field| (field, 0, u64::MAX);
    let prdis = line.unit_price.checked_mul(line.quantity).ok_or_else(|| overflow("prdis"))?;
    let adis = prdis.value().checked_sub(line.discount.value()).ok_or_else(|| overflow("adis"))?;
    if adis != line.net.value() {
        return Err(("adis", line.net.value(), adis));
    }
    let vam = line_vat(Rial::new(adis), line.vat_basis_points).map_err(|_| overflow("vam"))?.value();
    if vam != line.vat.value() {
        return Err(("vam", line.vat.value(), vam));
    }
    let tsstam = adis.checked_add(vam).ok_or_else(|| overflow("tsstam"))?;
    if tsstam != line.total.value() {
        return Err(("tsstam", line.total.value(), tsstam));
    }
    Ok(Item {
        sstid: line.goods_id.as_str().to_owned(),
        sstt: line.name_fa.clone(),
        am: line.quantity,
        mu: line.unit_code.0,
        fee: line.unit_price.value(),
        prdis: prdis.value(),
        dis: line.discount.value(),
        adis,
        vra: percent(line.vat_basis_points),
        vam,
        tsstam,
    })
}

/// Basis points as a percent: 1000 → 10, 950 → 9.5.
fn percent(basis_points: u32) -> Value {
    if basis_points.is_multiple_of(100) {
        Value::from(basis_points / 100)
    } else {
        Value::from(f64::from(basis_points) / 100.0)
    }
}

fn unix_ms(at: time::OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invoicing::invoice::{InvoiceSubject, InvoiceTotals, PaymentRecord};
    use crate::invoicing::testing::fixtures::{legal, natural, now, order, paid, seller};
    use crate::kernel::ids::AccountId;
    use crate::ordering::catalog::{GoodsId, UnitCode};

    fn invoice(buyer: Buyer) -> Invoice {
        let placed = order(AccountId::new(), buyer);
        Invoice::issue(&placed, &seller(), 12, &paid(&placed)).unwrap()
    }

    /// The facts file's worked example: 5 × 12,200,000 at 9%.
    fn worked_example() -> Invoice {
        let mut invoice = invoice(natural());
        let mut line = invoice.lines[0].clone();
        line.goods_id = GoodsId::parse("2720000118401").unwrap();
        line.unit_code = UnitCode::PIECE;
        line.quantity = 5;
        line.unit_price = Rial::new(12_200_000);
        line.discount = Rial::new(0);
        line.net = Rial::new(61_000_000);
        line.vat_basis_points = 900;
        line.vat = Rial::new(5_490_000);
        line.total = Rial::new(66_490_000);
        invoice.lines = vec![line];
        invoice.totals = InvoiceTotals {
            before_discount: Rial::new(61_000_000),
            discount: Rial::new(0),
            after_discount: Rial::new(61_000_000),
            vat: Rial::new(5_490_000),
            total: Rial::new(66_490_000),
        };
        invoice.payment = PaymentRecord { amount: Rial::new(66_490_000), ..invoice.payment };
        invoice
    }

    #[test]
    fn the_worked_example_maps_and_sums_exactly() {
        let tax = TaxInvoice::of(&worked_example()).unwrap();
        let item = &tax.body[0];
        assert_eq!((item.am, item.fee, item.prdis, item.adis), (5, 12_200_000, 61_000_000, 61_000_000));
        assert_eq!((item.vra.clone(), item.vam, item.tsstam), (Value::from(9), 5_490_000, 66_490_000));
        assert_eq!((tax.header.tvam, tax.header.tbill, tax.header.cap), (5_490_000, 66_490_000, 66_490_000));
        assert_eq!(tax.payments[0].pv, 66_490_000);
        assert_eq!(tax.payments[0].pmt, 5);
    }

    #[test]
    fn the_header_names_the_invoice_and_its_seller_as_the_tax_system_reads_them() {
        let invoice = invoice(natural());
        let header = TaxInvoice::of(&invoice).unwrap().header;
        assert_eq!(header.taxid, invoice.tax_id.as_str());
        assert_eq!((header.inty, header.inp, header.ins, header.setm), (1, 1, 1, 1));
        assert_eq!(header.inno, "000000000C", "serial 12 in 10 hex digits");
        assert_eq!(header.indatim, now().unix_timestamp() * 1000);
        assert_eq!(header.tins, invoice.seller_economic_code.as_str());
        assert_eq!(header.irtaxid, None);
    }

    #[test]
    fn p5_p8_a_natural_buyer_is_sent_as_their_national_code_and_nothing_else() {
        let invoice = invoice(natural());
        let json = serde_json::to_value(TaxInvoice::of(&invoice).unwrap()).unwrap();
        let Buyer::Natural { full_name, national_code } = &invoice.buyer else { unreachable!() };
        assert_eq!(
            (json["header"]["tob"].clone(), json["header"]["bid"].clone()),
            (1.into(), national_code.as_str().into())
        );
        let keys: Vec<&str> = json["header"].as_object().unwrap().keys().map(String::as_str).collect();
        let allowed = [
            "taxid", "indatim", "inty", "inno", "inp", "ins", "tins", "tob", "bid", "tprdis", "tdis", "tadis", "tvam",
            "todam", "tbill", "setm", "cap", "insp",
        ];
        assert!(keys.iter().all(|key| allowed.contains(key)), "{keys:?}");
        assert!(!json.to_string().contains(full_name.as_str()), "no name leaves the store");
    }

    #[test]
    fn p5_p8_a_company_is_sent_with_its_id_economic_code_and_postal_code() {
        let invoice = invoice(legal());
        let header = TaxInvoice::of(&invoice).unwrap().header;
        let Buyer::Legal { company_name, economic_code, national_id, postal_code } = &invoice.buyer else {
            unreachable!()
        };
        assert_eq!(header.tob, 2);
        assert_eq!(header.bid, national_id.as_str());
        assert_eq!(header.tinb.as_deref(), Some(economic_code.as_str()));
        assert_eq!(header.bpc.as_deref(), Some(postal_code.as_str()));
        assert!(!serde_json::to_string(&header).unwrap().contains(company_name.as_str()));
    }

    #[test]
    fn a_return_invoice_names_the_one_it_undoes() {
        let original = invoice(natural());
        let returned = Invoice::returning(&original, &seller(), 13, now()).unwrap();
        let header = TaxInvoice::of(&returned).unwrap().header;
        assert_eq!((header.ins, header.irtaxid.as_deref()), (4, Some(original.tax_id.as_str())));
        assert_eq!(returned.subject, InvoiceSubject::Return { original: original.tax_id.clone() });
    }

    #[test]
    fn an_invoice_whose_figures_do_not_add_up_is_never_sent() {
        let mut tampered = worked_example();
        tampered.totals.total = Rial::new(66_490_001);
        let mismatch = TaxInvoice::of(&tampered).unwrap_err();
        assert_eq!((mismatch.field, mismatch.stored, mismatch.computed), ("tbill", 66_490_001, 66_490_000));
        let mut wrong_vat = worked_example();
        wrong_vat.lines[0].vat = Rial::new(5_490_001);
        assert_eq!(TaxInvoice::of(&wrong_vat).unwrap_err().field, "vam");
        let mut wrong_payment = worked_example();
        wrong_payment.payment.amount = Rial::new(1);
        assert_eq!(TaxInvoice::of(&wrong_payment).unwrap_err().field, "pv");
    }

    #[test]
    fn a_fractional_rate_is_a_decimal_percent() {
        assert_eq!(percent(950), Value::from(9.5));
        assert_eq!(percent(1000), Value::from(10));
        assert_eq!(percent(0), Value::from(0));
    }
}
