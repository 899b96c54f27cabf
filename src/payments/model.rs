//! The payment model: products, the ISO 20022 status machine, and a payment as
//! the gateway stores it.

use std::fmt;

use time::OffsetDateTime;

use crate::core::{PaymentId, PsuId};
use crate::domain::{Iban, Money};

/// The Berlin Group payment products this gateway offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Product {
    SepaCreditTransfers,
    InstantSepaCreditTransfers,
    CrossBorderCreditTransfers,
}

impl Product {
    pub const ALL: [Product; 3] = [
        Product::SepaCreditTransfers,
        Product::InstantSepaCreditTransfers,
        Product::CrossBorderCreditTransfers,
    ];

    /// The product's path segment (`sepa-credit-transfers`, …).
    pub fn as_str(&self) -> &'static str {
        match self {
            Product::SepaCreditTransfers => "sepa-credit-transfers",
            Product::InstantSepaCreditTransfers => "instant-sepa-credit-transfers",
            Product::CrossBorderCreditTransfers => "cross-border-credit-transfers",
        }
    }

    pub fn parse(s: &str) -> Option<Product> {
        Product::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// SEPA products move euros only.
    pub fn is_sepa(&self) -> bool {
        !matches!(self, Product::CrossBorderCreditTransfers)
    }

    pub fn is_instant(&self) -> bool {
        matches!(self, Product::InstantSepaCreditTransfers)
    }
}

impl fmt::Display for Product {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// ISO 20022 transaction status, as Berlin Group reports it.
///
/// ```text
/// RCVD ──PSU approves──▶ ACTC ──core executes──▶ ACSC (or ACSP while settling)
///  │                      │  └──core refuses───▶ RJCT
///  ├──PSU denies / risk──▶ RJCT
///  └──TPP cancels───────▶ CANC ◀──TPP cancels (not yet claimed for forwarding)
/// ```
/// `ACSC`, `RJCT` and `CANC` are terminal; `ACSP` only moves on to `ACSC`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PaymentStatus {
    /// Received: initiated, awaiting the PSU's authorization.
    Rcvd,
    /// Accepted technical validation: authorized, queued for the core.
    Actc,
    /// Accepted, settlement in process.
    Acsp,
    /// Accepted, settlement completed on the debtor's account.
    Acsc,
    /// Pending (reserved; not produced by this gateway).
    Pdng,
    Rjct,
    Canc,
}

impl PaymentStatus {
    pub const ALL: [PaymentStatus; 7] = [
        PaymentStatus::Rcvd,
        PaymentStatus::Actc,
        PaymentStatus::Acsp,
        PaymentStatus::Acsc,
        PaymentStatus::Pdng,
        PaymentStatus::Rjct,
        PaymentStatus::Canc,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            PaymentStatus::Rcvd => "RCVD",
            PaymentStatus::Actc => "ACTC",
            PaymentStatus::Acsp => "ACSP",
            PaymentStatus::Acsc => "ACSC",
            PaymentStatus::Pdng => "PDNG",
            PaymentStatus::Rjct => "RJCT",
            PaymentStatus::Canc => "CANC",
        }
    }

    pub fn parse(s: &str) -> Option<PaymentStatus> {
        PaymentStatus::ALL.into_iter().find(|p| p.as_str() == s)
    }

    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            PaymentStatus::Acsc | PaymentStatus::Rjct | PaymentStatus::Canc
        )
    }
}

impl fmt::Display for PaymentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A payment as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Payment {
    pub id: PaymentId,
    pub client_id: String,
    pub product: Product,
    pub status: PaymentStatus,
    pub debtor: Iban,
    pub creditor: Iban,
    pub creditor_name: String,
    pub amount: Money,
    pub remittance: Option<String>,
    pub end_to_end_id: Option<String>,
    /// The owner of the debtor account, as the core reported it at initiation.
    pub psu_id: PsuId,
    pub psu_ip_address: Option<String>,
    pub sca_exemption: Option<String>,
    pub reject_reason: Option<String>,
    pub core_transaction_id: Option<String>,
    pub created_at: OffsetDateTime,
    pub status_changed_at: OffsetDateTime,
    pub authorized_at: Option<OffsetDateTime>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn products_and_statuses_round_trip_through_their_wire_names() {
        for p in Product::ALL {
            assert_eq!(Product::parse(p.as_str()), Some(p));
        }
        assert_eq!(Product::parse("sepa"), None);
        for s in PaymentStatus::ALL {
            assert_eq!(PaymentStatus::parse(s.as_str()), Some(s));
        }
    }

    #[test]
    fn only_executed_rejected_and_cancelled_payments_are_final() {
        let terminal: Vec<_> = PaymentStatus::ALL
            .into_iter()
            .filter(PaymentStatus::is_terminal)
            .collect();
        assert_eq!(
            terminal,
            vec![
                PaymentStatus::Acsc,
                PaymentStatus::Rjct,
                PaymentStatus::Canc
            ]
        );
    }
}
