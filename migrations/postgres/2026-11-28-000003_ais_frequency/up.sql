-- frequencyPerDay (PSD2 RTS Art. 36(5)): how often a TPP read account information
-- without the PSU, per consent, endpoint, account ('' for the account list) and
-- UTC day. A call counts by `calls = calls + 1 ... WHERE calls < limit`, so the
-- limit holds exactly under concurrent calls and across replicas.
CREATE TABLE ais_access_counts (
    consent_id  TEXT NOT NULL,
    endpoint    TEXT NOT NULL,
    account_id  TEXT NOT NULL,
    day         DATE NOT NULL,
    calls       INTEGER NOT NULL,
    PRIMARY KEY (consent_id, endpoint, account_id, day)
);

-- Transaction listings served per consent, account and UTC day, so that the
-- further pages of a listing (its `_links.next`) do not count again. `listing` is
-- the listing's query: bookingStatus|dateFrom|dateTo|itemsPerPage.
CREATE TABLE ais_listings (
    consent_id  TEXT NOT NULL,
    account_id  TEXT NOT NULL,
    day         DATE NOT NULL,
    listing     TEXT NOT NULL,
    PRIMARY KEY (consent_id, account_id, day, listing)
);
