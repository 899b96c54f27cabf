DROP TABLE core_sca_challenges;
DROP TABLE core_payments;
DROP TABLE core_entries;
DROP TABLE core_transactions;
DROP TABLE core_accounts;
DROP TABLE core_psus;
DROP TABLE tpp_clients;
