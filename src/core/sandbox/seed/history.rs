//! The seeded history, generated in memory: a few months of salaries, rent,
//! groceries, card payments, savings and transfers between the demo PSUs.
//!
//! A fixed-seed PRNG makes it deterministic: the same `now` and length give the
//! same amounts, dates and texts on every instance (ids stay random).

use time::{Date, Duration, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset, Weekday};

use super::{ACCOUNTS, PSUS};
use crate::core::sandbox::ledger::{LedgerError, NewEntry, NewTransaction, new_id};
use crate::domain::{Currency, Iban};

pub(super) const ALICE_GIRO: usize = 0;
pub(super) const ALICE_SAVINGS: usize = 1;
pub(super) const ALICE_HOUSEHOLD: usize = 2;
pub(super) const BOB_GIRO: usize = 3;
pub(super) const BOB_SAVINGS: usize = 4;
pub(super) const CLEARING: usize = 5;

/// The history never spends a customer account below this (EUR cents), so
/// balances stay positive even counting pending debits.
const FLOOR_MINOR: i64 = 2_000;
const PRNG_SEED: u64 = 0x0B6_5A4D_B0C5_EED5;

/// A card merchant: name, city, and the range of a typical bill in cents.
type Merchant = (&'static str, &'static str, i64, i64);

#[rustfmt::skip]
const GROCERS: [Merchant; 5] = [
    ("REWE Markt GmbH", "Berlin", 3_500, 12_900),
    ("EDEKA Center Kaiser", "Berlin", 2_800, 11_500),
    ("Lidl Dienstleistung", "Hamburg", 2_200, 8_900),
    ("ALDI Nord", "Hamburg", 1_900, 7_900),
    ("Bio Company", "Berlin", 1_500, 6_500),
];
#[rustfmt::skip]
const SHOPS: [Merchant; 8] = [
    ("Deutsche Bahn Fernverkehr", "Frankfurt", 1_990, 8_990),
    ("Shell Station 4711", "Berlin", 3_000, 7_500),
    ("Burgermeister", "Berlin", 890, 2_450),
    ("Thalia Buchhandlung", "Hamburg", 999, 3_499),
    ("Apotheke am Markt", "Berlin", 450, 2_890),
    ("BVG Ticketautomat", "Berlin", 350, 990),
    ("Cafe Einstein", "Berlin", 420, 1_860),
    ("MediaMarkt", "Hamburg", 1_499, 8_900),
];
#[rustfmt::skip]
const HOUSEHOLD: [Merchant; 4] = [
    ("dm-drogerie markt", "Berlin", 650, 3_900),
    ("Rossmann", "Berlin", 480, 2_900),
    ("IKEA Deutschland", "Berlin", 1_500, 6_500),
    ("OBI Baumarkt", "Berlin", 990, 4_900),
];
const SHARED_COSTS: [&str; 5] = [
    "Anteil Pizza Freitag",
    "Konzertkarten",
    "Geschenk fuer Lena",
    "Tankkosten Ausflug Ostsee",
    "Kino und Popcorn",
];
#[rustfmt::skip]
const MONTHS_DE: [&str; 12] = [
    "Januar", "Februar", "Maerz", "April", "Mai", "Juni", "Juli", "August", "September",
    "Oktober", "November", "Dezember",
];

/// SplitMix64: tiny, and good enough to make demo data look varied.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }

    /// A value in `lo..=hi`.
    fn between(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below(hi.saturating_sub(lo).unsigned_abs() + 1) as i64
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// `items` is one of this file's non-empty constant tables.
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

/// The other side of an external payment.
struct Party {
    name: &'static str,
    iban: Option<Iban>,
}

impl Party {
    fn at(name: &'static str, bank_code: &str, account: u64) -> Result<Party, LedgerError> {
        let iban = Iban::german(bank_code, account)
            .map_err(|_| LedgerError::Invalid(format!("invalid IBAN for {name}")))?;
        Ok(Party {
            name,
            iban: Some(iban),
        })
    }
}

/// The external payers and payees, each with an IBAN at another bank.
struct Parties {
    alice_old_bank: Party,
    bob_old_bank: Party,
    alice_employer: Party,
    bob_employer: Party,
    alice_landlord: Party,
    bob_landlord: Party,
    streaming: Party,
    music: Party,
    gym: Party,
}

impl Parties {
    fn new() -> Result<Parties, LedgerError> {
        Ok(Parties {
            alice_old_bank: Party::at("Alice Example", "10010010", 532_013_000)?,
            bob_old_bank: Party::at("Bob Example", "20010020", 741_852_963)?,
            alice_employer: Party::at("Nordlicht Software GmbH", "20050550", 1_234_567_890)?,
            bob_employer: Party::at("Hafenlogistik Nord GmbH", "20040000", 4_455_667_788)?,
            alice_landlord: Party::at("Hausverwaltung Berger GmbH", "10050000", 190_012_345)?,
            bob_landlord: Party::at("Wohnungsbau Elbufer eG", "20050550", 1_280_457_712)?,
            streaming: Party::at("Netflix International B.V.", "50070010", 9_876_543_210)?,
            music: Party::at("Spotify AB", "50010517", 5_566_778_899)?,
            gym: Party::at("FitX Deutschland GmbH", "36050105", 3_300_112_233)?,
        })
    }
}

/// One movement of money: from one account to another, with an external party
/// as both entries' counterparty when one side is the clearing account.
struct Move<'a> {
    at: OffsetDateTime,
    booked: bool,
    from: usize,
    to: usize,
    amount: i64,
    remittance: String,
    party: Option<&'a Party>,
}

/// The whole seeded ledger, built in memory before one batch of inserts.
pub(super) struct Journal {
    pub ids: Vec<String>,
    pub ibans: Vec<Iban>,
    /// Booked balances at the end of the history.
    pub balances: Vec<i64>,
    pub pending_debits: Vec<i64>,
    pub transactions: Vec<NewTransaction>,
    pub entries: Vec<NewEntry>,
    pub opened_at: OffsetDateTime,
    /// Debits left out because they would have overdrawn the account.
    pub refused: usize,
    holders: Vec<&'static str>,
    rng: SplitMix64,
    last_at: OffsetDateTime,
    day_start: OffsetDateTime,
    slot: i64,
}

impl Journal {
    pub(super) fn generate(
        now: OffsetDateTime,
        bank_code: &str,
        history_days: u32,
    ) -> Result<Journal, LedgerError> {
        let now = now.to_offset(UtcOffset::UTC);
        let days = i64::from(history_days.max(1));
        let first_day = now.date() - Duration::days(days);
        let opened_at = morning(first_day);
        let ibans = ACCOUNTS
            .iter()
            .map(|a| Iban::german(bank_code, a.number))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| {
                LedgerError::Invalid(format!("bank code {bank_code:?} is not 8 digits"))
            })?;
        let holders = ACCOUNTS
            .iter()
            .map(|a| a.owner.map_or(a.name, |o| PSUS[o].display_name))
            .collect();
        let mut journal = Journal {
            ids: ACCOUNTS.iter().map(|_| new_id()).collect(),
            ibans,
            balances: vec![0; ACCOUNTS.len()],
            pending_debits: vec![0; ACCOUNTS.len()],
            transactions: Vec::new(),
            entries: Vec::new(),
            opened_at,
            refused: 0,
            holders,
            rng: SplitMix64(PRNG_SEED),
            last_at: opened_at,
            day_start: opened_at,
            slot: 0,
        };
        let parties = Parties::new()?;
        for offset in 0..days {
            journal.day(first_day + Duration::days(offset), offset == 0, &parties);
        }
        journal.pending(now);
        Ok(journal)
    }

    /// The time of the day's next transaction: 25 minutes apart, jittered.
    fn tick(&mut self) -> OffsetDateTime {
        self.slot += 1;
        self.day_start + Duration::minutes(self.slot * 25 + self.rng.between(0, 20))
    }

    /// Books one transaction of two entries summing to zero, unless it would take
    /// a customer account below the floor.
    fn post(&mut self, m: Move<'_>) {
        if m.from != CLEARING
            && self.balances[m.from] + self.pending_debits[m.from] - m.amount < FLOOR_MINOR
        {
            self.refused += 1;
            return;
        }
        let tx = NewTransaction::new(m.booked, m.at, Currency::EUR, m.remittance);
        let (to_side, from_side) = match m.party {
            Some(p) => ((p.name, p.iban.as_ref()), (p.name, p.iban.as_ref())),
            None => (
                (self.holders[m.to], Some(&self.ibans[m.to])),
                (self.holders[m.from], Some(&self.ibans[m.from])),
            ),
        };
        let debit = NewEntry::new(&tx, &self.ids[m.from], -m.amount, to_side.0, to_side.1);
        let credit = NewEntry::new(&tx, &self.ids[m.to], m.amount, from_side.0, from_side.1);
        self.entries.extend([debit, credit]);
        self.transactions.push(tx);
        if m.booked {
            self.balances[m.from] -= m.amount;
            self.balances[m.to] += m.amount;
        } else {
            self.pending_debits[m.from] -= m.amount;
        }
        self.last_at = m.at;
    }

    fn transfer(&mut self, from: usize, to: usize, amount: i64, text: String) {
        let at = self.tick();
        self.post(Move {
            at,
            booked: true,
            from,
            to,
            amount,
            remittance: text,
            party: None,
        });
    }

    fn pay(&mut self, from: usize, to: &Party, amount: i64, text: String) {
        let at = self.tick();
        self.post(Move {
            at,
            booked: true,
            from,
            to: CLEARING,
            amount,
            remittance: text,
            party: Some(to),
        });
    }

    fn receive(&mut self, to: usize, from: &Party, amount: i64, text: String) {
        let at = self.tick();
        self.post(Move {
            at,
            booked: true,
            from: CLEARING,
            to,
            amount,
            remittance: text,
            party: Some(from),
        });
    }

    fn card_payment(&mut self, from: usize, shops: &[Merchant]) {
        let at = self.tick();
        self.card_payment_at(at, true, from, shops);
    }

    fn card_payment_at(
        &mut self,
        at: OffsetDateTime,
        booked: bool,
        from: usize,
        shops: &[Merchant],
    ) {
        let (name, city, low, high) = self.rng.pick(shops);
        let amount = self.rng.between(low, high);
        let (date, hour, minute) = (at.date(), at.hour(), at.minute());
        let remittance =
            format!("{name}//{city}/DE {date} {hour:02}:{minute:02} Kartenzahlung girocard");
        let party = Party { name, iban: None };
        self.post(Move {
            at,
            booked,
            from,
            to: CLEARING,
            amount,
            remittance,
            party: Some(&party),
        });
    }

    /// One booked day. Its transactions are spread from 07:00 on in the order they
    /// are generated, so `created_at` increases through the whole history.
    fn day(&mut self, date: Date, first: bool, parties: &Parties) {
        self.day_start = morning(date);
        self.slot = 0;
        let (month, year) = (u8::from(date.month()), date.year());
        let period = format!("{} {year}", MONTHS_DE[usize::from(month) - 1]);
        if first {
            let openings = [
                (ALICE_GIRO, 320_000, &parties.alice_old_bank),
                (ALICE_SAVINGS, 800_000, &parties.alice_old_bank),
                (ALICE_HOUSEHOLD, 80_000, &parties.alice_old_bank),
                (BOB_GIRO, 240_000, &parties.bob_old_bank),
                (BOB_SAVINGS, 350_000, &parties.bob_old_bank),
            ];
            for (account, amount, owner) in openings {
                let text = "Kontoeroeffnung Uebertrag vom bisherigen Konto".to_owned();
                self.receive(account, owner, amount, text);
            }
        }
        match date.day() {
            1 if !first => {
                let text = format!("Miete {period} Lindenstr. 12, 3. OG links");
                self.pay(ALICE_GIRO, &parties.alice_landlord, 115_000, text);
                let text = format!("Nutzungsgebuehr {period} Whg. 0815");
                self.pay(BOB_GIRO, &parties.bob_landlord, 78_000, text);
            }
            2 => {
                let text = format!("Haushaltsgeld {period}");
                self.transfer(ALICE_GIRO, ALICE_HOUSEHOLD, 45_000, text);
            }
            5 => {
                let text = format!("Netflix Abo {period} Mandat NFX-20931");
                self.pay(ALICE_GIRO, &parties.streaming, 1_399, text);
            }
            15 => {
                let text = format!("Spotify Premium {period} P1D7E2A");
                self.pay(BOB_GIRO, &parties.music, 1_099, text);
                let text = format!("Mitgliedsbeitrag {period} Vertrag 88120");
                self.pay(ALICE_GIRO, &parties.gym, 2_499, text);
            }
            27 => {
                let text = format!("LOHN/GEHALT {month:02}/{year} PersNr 4711");
                let employer = &parties.alice_employer;
                self.receive(ALICE_GIRO, employer, 341_257, text);
                let text = format!("LOHN/GEHALT {month:02}/{year} Hafenlogistik Nord");
                let employer = &parties.bob_employer;
                self.receive(BOB_GIRO, employer, 287_410, text);
            }
            28 => {
                let text = format!("Sparrate {period}");
                self.transfer(ALICE_GIRO, ALICE_SAVINGS, 30_000, text.clone());
                self.transfer(BOB_GIRO, BOB_SAVINGS, 15_000, text);
            }
            _ => {}
        }
        let grocery_day = match date.weekday() {
            Weekday::Saturday => Some(ALICE_GIRO),
            Weekday::Friday => Some(BOB_GIRO),
            _ => None,
        };
        if let Some(account) = grocery_day {
            self.card_payment(account, &GROCERS);
        }
        let card_odds = [
            (ALICE_GIRO, &SHOPS[..], 35),
            (BOB_GIRO, &SHOPS[..], 30),
            (ALICE_HOUSEHOLD, &HOUSEHOLD[..], 25),
        ];
        for (account, shops, percent) in card_odds {
            if self.rng.chance(percent) {
                self.card_payment(account, shops);
            }
        }
        if !first && self.rng.chance(5) {
            let (from, to) = if self.rng.chance(50) {
                (ALICE_GIRO, BOB_GIRO)
            } else {
                (BOB_GIRO, ALICE_GIRO)
            };
            let amount = self.rng.between(15, 60) * 100 + self.rng.pick(&[0, 50]);
            let text = self.rng.pick(&SHARED_COSTS).to_owned();
            self.transfer(from, to, amount, text);
        }
    }

    /// Two or three card payments per current account, still pending, spread
    /// between the last booked transaction (at most two days ago) and `now`.
    fn pending(&mut self, now: OffsetDateTime) {
        let mut plan = Vec::new();
        for account in [ALICE_GIRO, ALICE_HOUSEHOLD, BOB_GIRO] {
            let shops = if account == ALICE_HOUSEHOLD {
                &HOUSEHOLD[..]
            } else {
                &SHOPS[..]
            };
            for _ in 0..2 + self.rng.below(2) {
                plan.push((account, shops));
            }
        }
        let start = (self.last_at + Duration::minutes(1)).max(now - Duration::hours(47));
        let step = (now - start) / (plan.len() as f64 + 1.0);
        for (i, (account, shops)) in plan.into_iter().enumerate() {
            let at = start + step * (i as f64 + 1.0);
            self.card_payment_at(at, false, account, shops);
        }
    }
}

fn morning(date: Date) -> OffsetDateTime {
    PrimitiveDateTime::new(date, Time::MIDNIGHT).assume_utc() + Duration::hours(7)
}
