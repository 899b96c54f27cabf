//! One-time-code challenges and dynamic linking.

use super::*;

fn payment_context(payment: &str, amount: &str, payee: &Iban) -> ScaContext {
    ScaContext::Payment {
        payment_id: PaymentId(payment.into()),
        amount: eur(amount),
        payee: payee.clone(),
    }
}

#[tokio::test]
async fn the_sandbox_code_verifies_a_challenge_exactly_once() {
    let s = sandbox();
    let alice = s.login("alice").await;
    let ctx = ScaContext::Consent {
        consent_id: "c-1".into(),
    };
    let challenge = s.core.issue_sca_challenge(&alice, &ctx).await.unwrap();
    assert!(challenge.prompt.contains(SANDBOX_OTP));
    assert_eq!(challenge.expires_at, s.clock.now() + Duration::minutes(5));
    let otp = Secret::new(SANDBOX_OTP);
    assert_eq!(
        s.core
            .verify_sca(&challenge.id, &alice, &ctx, &otp)
            .await
            .unwrap(),
        ScaVerdict::Verified
    );
    assert_eq!(
        s.core
            .verify_sca(&challenge.id, &alice, &ctx, &otp)
            .await
            .unwrap(),
        ScaVerdict::Unusable
    );
}

#[tokio::test]
async fn wrong_codes_are_invalid_until_the_third_makes_the_challenge_unusable() {
    let s = sandbox();
    let alice = s.login("alice").await;
    let ctx = ScaContext::Consent {
        consent_id: "c-2".into(),
    };
    let (wrong, right) = (Secret::new("000000"), Secret::new(SANDBOX_OTP));

    let retry = s.core.issue_sca_challenge(&alice, &ctx).await.unwrap();
    assert_eq!(
        s.core
            .verify_sca(&retry.id, &alice, &ctx, &wrong)
            .await
            .unwrap(),
        ScaVerdict::Invalid
    );
    assert_eq!(
        s.core
            .verify_sca(&retry.id, &alice, &ctx, &right)
            .await
            .unwrap(),
        ScaVerdict::Verified
    );

    let exhausted = s.core.issue_sca_challenge(&alice, &ctx).await.unwrap();
    let verdicts = [
        s.core
            .verify_sca(&exhausted.id, &alice, &ctx, &wrong)
            .await
            .unwrap(),
        s.core
            .verify_sca(&exhausted.id, &alice, &ctx, &wrong)
            .await
            .unwrap(),
        s.core
            .verify_sca(&exhausted.id, &alice, &ctx, &wrong)
            .await
            .unwrap(),
        s.core
            .verify_sca(&exhausted.id, &alice, &ctx, &right)
            .await
            .unwrap(),
    ];
    use ScaVerdict::{Invalid, Unusable};
    assert_eq!(verdicts, [Invalid, Invalid, Unusable, Unusable]);
}

#[tokio::test]
async fn a_code_is_bound_to_its_amount_payee_psu_and_lifetime() {
    let s = sandbox();
    let alice = s.login("alice").await;
    let bob = s.login("bob").await;
    let payee = Iban::german("10020030", 42).unwrap();
    let other_payee = Iban::german("10020030", 43).unwrap();
    let issued_for = payment_context("p-1", "10.00", &payee);
    let otp = Secret::new(SANDBOX_OTP);
    let cases = [
        (
            "another amount",
            alice.clone(),
            payment_context("p-1", "10.01", &payee),
            Duration::ZERO,
        ),
        (
            "another payee",
            alice.clone(),
            payment_context("p-1", "10.00", &other_payee),
            Duration::ZERO,
        ),
        (
            "another payment",
            alice.clone(),
            payment_context("p-2", "10.00", &payee),
            Duration::ZERO,
        ),
        ("another PSU", bob, issued_for.clone(), Duration::ZERO),
        (
            "after expiry",
            alice.clone(),
            issued_for.clone(),
            Duration::minutes(5),
        ),
    ];
    for (case, psu, ctx, wait) in cases {
        let challenge = s
            .core
            .issue_sca_challenge(&alice, &issued_for)
            .await
            .unwrap();
        s.clock.advance(wait);
        let verdict = s
            .core
            .verify_sca(&challenge.id, &psu, &ctx, &otp)
            .await
            .unwrap();
        assert_eq!(verdict, ScaVerdict::Unusable, "{case}");
    }
    let unknown = ChallengeId("unknown".into());
    assert_eq!(
        s.core
            .verify_sca(&unknown, &alice, &issued_for, &otp)
            .await
            .unwrap(),
        ScaVerdict::Unusable
    );
}
