DROP TABLE trusted_payees;
DROP TABLE psu_exemption_counters;
DROP TABLE risk_decisions;
DROP TABLE payment_outbox;
DROP TABLE payments;
