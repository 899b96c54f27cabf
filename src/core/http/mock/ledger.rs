//! The mock core's books: in memory, double entry (every transaction is two
//! entries summing to zero; money leaving or entering the bank goes through a
//! hidden clearing account), seeded like the sandbox, behind one mutex so every
//! operation is atomic.

use std::collections::HashMap;

use sha2::{Digest, Sha256};
use time::macros::time;
use time::{Date, Duration, OffsetDateTime, Weekday};

use crate::core::{
    Account, AccountId, AccountStatus, Balance, BalanceType, BookingStatus, ChallengeId,
    PaymentOrder, PaymentOutcome, PsuId, RejectReason, ScaChallenge, ScaContext, ScaVerdict,
    Transaction, TransactionId, TransactionPage, TransactionQuery,
};
use crate::domain::{Currency, Iban, Money};
use crate::secret::Secret;

/// The one code the mock core accepts.
pub const MOCK_OTP: &str = "123456";
const CHALLENGE_VALIDITY: Duration = Duration::minutes(5);
const MAX_ATTEMPTS: u32 = 3;
/// Seeded debits never take an account below this (cents).
const FLOOR: i64 = 2_000;

struct Psu {
    id: PsuId,
    username: &'static str,
    name: &'static str,
}

struct Entry {
    account: usize,
    at: OffsetDateTime,
    tx: Transaction,
}

/// An external counterparty: name and, for transfers, IBAN.
type Party = (String, Option<Iban>);

/// One movement to book: both entries' texts, the external party if any.
struct Posting {
    at: OffsetDateTime,
    booked: bool,
    from: usize,
    to: usize,
    minor: i64,
    text: String,
    party: Option<Party>,
}

struct Challenge {
    psu: PsuId,
    context_hash: [u8; 32],
    expires_at: OffsetDateTime,
    attempts: u32,
    consumed: bool,
}

pub(super) struct Ledger {
    psus: Vec<Psu>,
    /// Customer accounts, then the clearing account (never visible outside).
    accounts: Vec<Account>,
    entries: Vec<Entry>,
    payments: HashMap<String, PaymentOutcome>,
    challenges: HashMap<String, Challenge>,
}

/// Booked balance, pending credits, pending debits (≤ 0), and when the booked
/// balance and any balance last changed.
#[derive(Default)]
struct Figures {
    booked: i64,
    credits: i64,
    debits: i64,
    last_booked: Option<OffsetDateTime>,
    last: Option<OffsetDateTime>,
}

fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn eur(minor: i64) -> Money {
    Money::from_minor(minor, Currency::EUR)
}

fn hash(context: &ScaContext) -> [u8; 32] {
    Sha256::digest(context.canonical().as_bytes()).into()
}

impl Ledger {
    fn clearing(&self) -> usize {
        self.accounts.len() - 1
    }

    fn find(&self, hit: impl Fn(&Account) -> bool) -> Option<usize> {
        (self.accounts.iter().position(hit)).filter(|i| *i != self.clearing())
    }

    fn by_id(&self, id: &str) -> Option<usize> {
        self.find(|a| a.id.as_str() == id)
    }

    fn by_iban(&self, iban: &Iban) -> Option<usize> {
        self.find(|a| &a.iban == iban)
    }

    pub fn authenticate(&self, username: &str, password: &Secret) -> Option<PsuId> {
        let psu = self.psus.iter().find(|p| p.username == username)?;
        // The demo passwords are the usernames.
        password.ct_eq(psu.username).then(|| psu.id.clone())
    }

    pub fn knows_psu(&self, psu: &str) -> bool {
        self.psus.iter().any(|p| p.id.as_str() == psu)
    }

    pub fn accounts_of(&self, psu: &str) -> Vec<Account> {
        let owned = |a: &&Account| a.owner.as_ref().is_some_and(|o| o.as_str() == psu);
        self.accounts.iter().filter(owned).cloned().collect()
    }

    pub fn account(&self, id: &str) -> Option<Account> {
        self.by_id(id).map(|i| self.accounts[i].clone())
    }

    pub fn account_by_iban(&self, iban: &Iban) -> Option<Account> {
        self.by_iban(iban).map(|i| self.accounts[i].clone())
    }

    fn figures(&self, i: usize) -> Figures {
        let mut f = Figures::default();
        for e in self.entries.iter().filter(|e| e.account == i) {
            let minor = e.tx.amount.minor_units();
            match (e.tx.booked, minor > 0) {
                (true, _) => (f.booked, f.last_booked) = (f.booked + minor, Some(e.at)),
                (false, true) => f.credits += minor,
                (false, false) => f.debits += minor,
            }
            f.last = Some(e.at);
        }
        f
    }

    /// Pending debits already reserve money; pending credits are not yet spendable.
    fn available(&self, i: usize) -> i64 {
        let f = self.figures(i);
        f.booked + f.debits
    }

    pub fn balances(&self, id: &str, today: Date) -> Option<Vec<Balance>> {
        let f = self.figures(self.by_id(id)?);
        let balance = |kind, minor, last_change| Balance {
            kind,
            amount: eur(minor),
            reference_date: today,
            last_change,
        };
        Some(vec![
            balance(BalanceType::ClosingBooked, f.booked, f.last_booked),
            balance(
                BalanceType::Expected,
                f.booked + f.credits + f.debits,
                f.last,
            ),
            balance(BalanceType::InterimAvailable, f.booked + f.debits, f.last),
        ])
    }

    /// Newest first; the entry's position breaks ties, so pages are stable.
    pub fn transactions(&self, id: &str, q: &TransactionQuery) -> Option<TransactionPage> {
        let i = self.by_id(id)?;
        let wanted = |e: &&Entry| {
            e.account == i
                && (q.date_from..=q.date_to).contains(&e.tx.booking_date)
                && match q.status {
                    BookingStatus::Booked => e.tx.booked,
                    BookingStatus::Pending => !e.tx.booked,
                    BookingStatus::Both => true,
                }
        };
        let mut rows: Vec<(usize, &Entry)> =
            self.entries.iter().filter(wanted).enumerate().collect();
        rows.sort_by(|(ia, a), (ib, b)| (b.tx.booking_date, ib).cmp(&(a.tx.booking_date, ia)));
        let limit = q.limit as usize;
        let offset = usize::try_from(q.offset).unwrap_or(usize::MAX);
        let mut transactions: Vec<Transaction> = (rows.into_iter().skip(offset).take(limit + 1))
            .map(|(_, e)| e.tx.clone())
            .collect();
        let has_more = transactions.len() > limit;
        transactions.truncate(limit);
        Some(TransactionPage {
            transactions,
            has_more,
        })
    }

    pub fn transaction(&self, account: &str, tx: &str) -> Option<Transaction> {
        let i = self.by_id(account)?;
        let entry = self
            .entries
            .iter()
            .find(|e| e.account == i && e.tx.id.as_str() == tx);
        entry.map(|e| e.tx.clone())
    }

    pub fn funds_available(&self, iban: &Iban, amount: &Money) -> Option<bool> {
        let i = self.by_iban(iban)?;
        let same_currency = self.accounts[i].currency == amount.currency();
        Some(same_currency && self.available(i) >= amount.minor_units())
    }

    fn holder(&self, i: usize) -> String {
        let owner = self.accounts[i].owner.as_ref();
        let psu = owner.and_then(|o| self.psus.iter().find(|p| &p.id == o));
        psu.map_or_else(|| self.accounts[i].name.clone(), |p| p.name.to_owned())
    }

    /// Books two entries summing to zero. Each side sees the other as its
    /// counterparty, or the external party when one side is the clearing account.
    fn post(&mut self, p: Posting) -> TransactionId {
        let id = TransactionId(new_id());
        let side = |i: usize| (self.holder(i), Some(self.accounts[i].iban.clone()));
        let (payee, payer) = match p.party {
            Some(party) => (party.clone(), party),
            None => (side(p.to), side(p.from)),
        };
        for (account, minor, (name, iban)) in [(p.from, -p.minor, payee), (p.to, p.minor, payer)] {
            let tx = Transaction {
                id: id.clone(),
                booked: p.booked,
                booking_date: p.at.date(),
                value_date: p.at.date(),
                amount: eur(minor),
                counterparty_name: name,
                counterparty_iban: iban,
                remittance: p.text.clone(),
                end_to_end_id: None,
            };
            let at = p.at;
            self.entries.push(Entry { account, at, tx });
        }
        id
    }

    /// Executes an order at most once per payment id; a repeat returns the
    /// recorded outcome.
    pub fn submit(&mut self, order: &PaymentOrder, now: OffsetDateTime) -> PaymentOutcome {
        if let Some(outcome) = self.payment(order.payment_id.as_str()) {
            return outcome;
        }
        let outcome = match self.execute(order, now) {
            Ok(transaction_id) => PaymentOutcome::Executed { transaction_id },
            Err(reason) => PaymentOutcome::Rejected { reason },
        };
        self.payments
            .insert(order.payment_id.0.clone(), outcome.clone());
        outcome
    }

    fn execute(
        &mut self,
        o: &PaymentOrder,
        now: OffsetDateTime,
    ) -> Result<TransactionId, RejectReason> {
        let minor = o.amount.minor_units();
        if minor <= 0 || o.debtor == o.creditor {
            return Err(RejectReason::Other);
        }
        let from = self.by_iban(&o.debtor).ok_or(RejectReason::UnknownDebtor)?;
        let to = self.by_iban(&o.creditor);
        if self.accounts[from].status != AccountStatus::Enabled {
            return Err(RejectReason::AccountBlocked);
        }
        let currencies = [Some(from), to]
            .into_iter()
            .flatten()
            .map(|i| self.accounts[i].currency);
        if currencies.into_iter().any(|c| c != o.amount.currency()) {
            return Err(RejectReason::CurrencyMismatch);
        }
        if self.available(from) < minor {
            return Err(RejectReason::InsufficientFunds);
        }
        let party = to
            .is_none()
            .then(|| (o.creditor_name.clone(), Some(o.creditor.clone())));
        let to = to.unwrap_or(self.clearing());
        let text = o.remittance.clone().unwrap_or_default();
        Ok(self.post(Posting {
            at: now,
            booked: true,
            from,
            to,
            minor,
            text,
            party,
        }))
    }

    pub fn payment(&self, id: &str) -> Option<PaymentOutcome> {
        self.payments.get(id).cloned()
    }

    /// Payments that moved money.
    pub fn executed_payments(&self) -> usize {
        let moved = |o: &&PaymentOutcome| matches!(o, PaymentOutcome::Executed { .. });
        self.payments.values().filter(moved).count()
    }

    /// `None` when the PSU is unknown.
    pub fn issue(
        &mut self,
        psu: &PsuId,
        context: &ScaContext,
        now: OffsetDateTime,
    ) -> Option<ScaChallenge> {
        if !self.knows_psu(psu.as_str()) {
            return None;
        }
        let (id, expires_at) = (new_id(), now + CHALLENGE_VALIDITY);
        let challenge = Challenge {
            psu: psu.clone(),
            context_hash: hash(context),
            expires_at,
            attempts: 0,
            consumed: false,
        };
        self.challenges.insert(id.clone(), challenge);
        Some(ScaChallenge {
            id: ChallengeId(id),
            expires_at,
            prompt: format!("Enter the one-time code (mock core: {MOCK_OTP})"),
        })
    }

    /// `None` when the challenge is unknown. The code is bound to the PSU and the
    /// exact context; a verified challenge is consumed.
    pub fn verify(
        &mut self,
        id: &str,
        psu: &PsuId,
        ctx: &ScaContext,
        otp: &Secret,
        now: OffsetDateTime,
    ) -> Option<ScaVerdict> {
        let c = self.challenges.get_mut(id)?;
        let usable = &c.psu == psu
            && !c.consumed
            && now < c.expires_at
            && c.context_hash == hash(ctx)
            && c.attempts < MAX_ATTEMPTS;
        Some(if !usable {
            ScaVerdict::Unusable
        } else if otp.ct_eq(MOCK_OTP) {
            c.consumed = true;
            ScaVerdict::Verified
        } else {
            c.attempts += 1;
            if c.attempts < MAX_ATTEMPTS {
                ScaVerdict::Invalid
            } else {
                ScaVerdict::Unusable
            }
        })
    }
}

const ALICE: usize = 0;
const BOB: usize = 2;
const CLEARING: usize = 4;

/// (owner, account number, name, product, cash account type); clearing last.
#[rustfmt::skip]
const ACCOUNTS: [(Option<usize>, u64, &str, &str, &str); 5] = [
    (Some(0), 1_000_001, "Hauptkonto", "Girokonto", "CACC"),
    (Some(0), 1_000_002, "Sparkonto", "Tagesgeld", "SVGS"),
    (Some(1), 2_000_001, "Hauptkonto", "Girokonto", "CACC"),
    (Some(1), 2_000_002, "Sparkonto", "Tagesgeld", "SVGS"),
    (None, 9_000_000_000, "Clearing", "Clearing", "CACC"),
];

/// External parties: name, bank code, account number.
#[rustfmt::skip]
const PARTIES: [(&str, &str, u64); 3] = [
    ("Vorherige Bank", "10010010", 532_013_000),
    ("Hausverwaltung Berger GmbH", "10050000", 190_012_345),
    ("Nordlicht Software GmbH", "20050550", 1_234_567_890),
];
const LANDLORD: Option<usize> = Some(1);
const EMPLOYER: Option<usize> = Some(2);

/// A standing order: day of month, from, to, cents, text, external party.
type Standing = (u8, usize, usize, i64, &'static str, Option<usize>);

#[rustfmt::skip]
const MONTHLY: [Standing; 6] = [
    (1, ALICE, CLEARING, 115_000, "Miete Lindenstr. 12", LANDLORD),
    (1, BOB, CLEARING, 78_000, "Miete Whg. 0815", LANDLORD),
    (27, CLEARING, ALICE, 341_257, "LOHN/GEHALT PersNr 4711", EMPLOYER),
    (27, CLEARING, BOB, 287_410, "LOHN/GEHALT Nordlicht", EMPLOYER),
    (28, ALICE, ALICE + 1, 30_000, "Sparrate", None),
    (28, BOB, BOB + 1, 15_000, "Sparrate", None),
];
const SHOPS: [&str; 6] = [
    "REWE Markt",
    "EDEKA Center",
    "Deutsche Bahn",
    "Shell",
    "Apotheke",
    "Cafe Einstein",
];

/// SplitMix64: deterministic demo data from a fixed seed.
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Seeds the books: PSUs alice and bob (passwords as usernames), two EUR
/// accounts each, `history_days` of opening transfers, rent, salaries, savings
/// and card payments up to yesterday, and three card payments pending today.
pub(super) fn seeded(
    now: OffsetDateTime,
    bank_code: &str,
    history_days: u32,
) -> Result<Ledger, String> {
    let iban =
        |code: &str, n: u64| Iban::german(code, n).map_err(|_| format!("bad bank code {code:?}"));
    let psus = vec![("alice", "Alice Example"), ("bob", "Bob Example")];
    let psus: Vec<Psu> = psus
        .into_iter()
        .map(|(username, name)| Psu {
            id: PsuId(new_id()),
            username,
            name,
        })
        .collect();
    let mut accounts = Vec::new();
    for (owner, number, name, product, kind) in ACCOUNTS {
        accounts.push(Account {
            id: AccountId(new_id()),
            owner: owner.map(|o: usize| psus[o].id.clone()),
            iban: iban(bank_code, number)?,
            currency: Currency::EUR,
            name: name.to_owned(),
            product: product.to_owned(),
            cash_account_type: kind.to_owned(),
            status: AccountStatus::Enabled,
        });
    }
    let parties = PARTIES
        .iter()
        .map(|(name, code, n)| Ok(((*name).to_owned(), Some(iban(code, *n)?))));
    let parties: Vec<Party> = parties.collect::<Result<_, String>>()?;
    let (mut l, mut rng) = (
        Ledger {
            psus,
            accounts,
            entries: Vec::new(),
            payments: HashMap::new(),
            challenges: HashMap::new(),
        },
        0x0B6_C0DE,
    );
    let first = now.date() - Duration::days(i64::from(history_days.max(1)));
    let mut day = first;
    while day < now.date() {
        let mut plan: Vec<(usize, usize, i64, String, Option<Party>)> = Vec::new();
        if day == first {
            for (to, minor) in [
                (ALICE, 320_000),
                (ALICE + 1, 800_000),
                (BOB, 240_000),
                (BOB + 1, 350_000),
            ] {
                plan.push((
                    CLEARING,
                    to,
                    minor,
                    "Kontoeroeffnung".into(),
                    Some(parties[0].clone()),
                ));
            }
        }
        for (_, from, to, minor, text, party) in MONTHLY.iter().filter(|m| m.0 == day.day()) {
            let text = format!("{text} {} {}", day.month(), day.year());
            plan.push((*from, *to, *minor, text, party.map(|p| parties[p].clone())));
        }
        for (account, percent) in [(ALICE, 40), (BOB, 35)] {
            if day.weekday() == Weekday::Saturday || next(&mut rng) % 100 < percent {
                let shop = SHOPS[(next(&mut rng) % SHOPS.len() as u64) as usize];
                let minor = 500 + (next(&mut rng) % 9_000) as i64;
                let text = format!("{shop}//{day} Kartenzahlung girocard");
                plan.push((
                    account,
                    CLEARING,
                    minor,
                    text,
                    Some((shop.to_owned(), None)),
                ));
            }
        }
        let morning = day.with_time(time!(7:00)).assume_utc();
        for (slot, (from, to, minor, text, party)) in plan.into_iter().enumerate() {
            if from == CLEARING || l.available(from) - minor >= FLOOR {
                let at = morning + Duration::minutes(25 * slot as i64);
                l.post(Posting {
                    at,
                    booked: true,
                    from,
                    to,
                    minor,
                    text,
                    party,
                });
            }
        }
        day = day.next_day().unwrap_or(now.date());
    }
    for (k, from) in [ALICE, ALICE, BOB].into_iter().enumerate() {
        let at =
            (now - Duration::minutes(30 * (3 - k as i64))).max(now.date().midnight().assume_utc());
        let (minor, text, party) = (
            1_250 + 500 * k as i64,
            format!("{} Kartenzahlung", SHOPS[k]),
            Some((SHOPS[k].to_owned(), None)),
        );
        l.post(Posting {
            at,
            booked: false,
            from,
            to: CLEARING,
            minor,
            text,
            party,
        });
    }
    Ok(l)
}
