DROP TABLE interbank_credits;
DROP TABLE core_reversals;
DROP TABLE core_credits;
