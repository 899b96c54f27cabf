//! The PSU's consent page on the public listener: server-rendered HTML, one step
//! at a time, no JavaScript. Every form carries a CSRF token (rotated each step);
//! the session cookie is `Secure; HttpOnly; SameSite=Strict`.
//!
//! Form fields (the contract TPP sandbox drivers rely on): login `username`,
//! `password`; decision `decision=approve|deny`, `otp` when SCA is due, and
//! `account` (repeatable) when the PSU picks accounts; every form `csrf`.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};

use crate::http::AppState;
use crate::http::errors::{html_error, html_escape};
use crate::oauth::authorize::{
    AuthorizeError, AuthorizeParams, Decision, FundsSummary, PaymentSummary, PsuStep, Review,
    StepOutcome,
};
use crate::secret::Secret;

const COOKIE: &str = "__Host-obgw_authz";

fn layout(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{t} — your bank</title><style>\
body{{font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem;color:#1a1a1a}}\
h1{{font-size:1.4rem}} .error{{color:#a40000;font-weight:600}} fieldset{{border:1px solid #ccc;margin:1rem 0}}\
label{{display:block;margin:.5rem 0}} button{{font-size:1rem;padding:.5rem 1rem;margin-right:.5rem}}\
table{{border-collapse:collapse}} td,th{{text-align:left;padding:.2rem .6rem .2rem 0}}\
</style></head><body><main>{body}</main></body></html>",
        t = html_escape(title)
    )
}

fn page(status: StatusCode, title: &str, body: &str) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("X-Frame-Options", "DENY"))
        .insert_header((
            "Content-Security-Policy",
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
        ))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .body(layout(title, body))
}

fn csrf_input(csrf: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        html_escape(csrf)
    )
}

fn error_line(error: &Option<String>) -> String {
    error
        .as_ref()
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", html_escape(e)))
        .unwrap_or_default()
}

fn render_login(client_name: &str, error: &Option<String>, csrf: &str) -> HttpResponse {
    let status = if error.is_some() {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::OK
    };
    page(
        status,
        "Log in",
        &format!(
            "<h1>Log in to your bank</h1><p><strong>{client}</strong> is asking for access to your accounts. \
Log in to review the request.</p>{err}\
<form method=\"post\" action=\"/oauth/authorize/login\">{csrf}\
<label>Username <input name=\"username\" autocomplete=\"username\" required></label>\
<label>Password <input name=\"password\" type=\"password\" autocomplete=\"current-password\" required></label>\
<button type=\"submit\">Log in</button></form>",
            client = html_escape(client_name),
            err = error_line(error),
            csrf = csrf_input(csrf),
        ),
    )
}

fn render_payment_review(r: &Review, p: &PaymentSummary, csrf: &str) -> HttpResponse {
    let reference = p
        .reference
        .as_deref()
        .map(|r| format!("<tr><th>Reference</th><td>{}</td></tr>", html_escape(r)))
        .unwrap_or_default();
    let mut body = format!(
        "<h1>Approve a payment for {client}</h1><p><strong>{client}</strong> asks you to approve this payment.</p>{err}\
<table><tr><th>Amount</th><td><strong>{amount} {currency}</strong></td></tr>\
<tr><th>Payee</th><td>{name}<br>{iban}</td></tr>{reference}\
<tr><th>From your account</th><td>{debtor}</td></tr></table>\
<form method=\"post\" action=\"/oauth/authorize/decision\">{csrf}",
        client = html_escape(&r.client_name),
        err = error_line(&r.error),
        amount = html_escape(&p.amount),
        currency = html_escape(&p.currency),
        name = html_escape(&p.creditor_name),
        iban = html_escape(&p.creditor_iban),
        debtor = html_escape(&p.debtor_iban),
        csrf = csrf_input(csrf),
    );
    match &r.otp_prompt {
        Some(prompt) => body.push_str(&format!(
            "<label>{} <input name=\"otp\" inputmode=\"numeric\" autocomplete=\"one-time-code\"></label>",
            html_escape(prompt)
        )),
        None => body.push_str(
            "<p>No one-time code is needed for this payment (a strong customer authentication exemption applies).</p>",
        ),
    }
    if r.offer_trust {
        body.push_str(
            "<label><input type=\"checkbox\" name=\"trust_payee\" value=\"on\"> Trust this payee: \
later payments to it may not need a one-time code</label>",
        );
    }
    body.push_str(
        "<button type=\"submit\" name=\"decision\" value=\"approve\">Approve payment</button>\
<button type=\"submit\" name=\"decision\" value=\"deny\" formnovalidate>Deny</button></form>",
    );
    page(StatusCode::OK, "Approve a payment", &body)
}

fn otp_input(prompt: &str) -> String {
    format!(
        "<label>{} <input name=\"otp\" inputmode=\"numeric\" autocomplete=\"one-time-code\"></label>",
        html_escape(prompt)
    )
}

fn render_funds_review(r: &Review, f: &FundsSummary, csrf: &str) -> HttpResponse {
    let row = |label: &str, value: &Option<String>| {
        value
            .as_deref()
            .map(|v| format!("<tr><th>{label}</th><td>{}</td></tr>", html_escape(v)))
            .unwrap_or_default()
    };
    let card = f
        .card_ending
        .as_ref()
        .map(|c| format!("the card ending {c}"));
    let mut body = format!(
        "<h1>Allow {client} to confirm funds</h1><p><strong>{client}</strong> asks to check, until \
<strong>{until}</strong>, whether this account of yours holds enough money for a given amount. \
It will only learn \"funds are available\" or \"funds are not available\": no balance, no transactions.</p>{err}\
<table><tr><th>Account</th><td><strong>{iban}</strong></td></tr>{card}{info}{registration}\
<tr><th>Until</th><td>{until}</td></tr></table>\
<form method=\"post\" action=\"/oauth/authorize/decision\">{csrf}",
        client = html_escape(&r.client_name),
        until = html_escape(&f.valid_until),
        err = error_line(&r.error),
        iban = html_escape(&f.iban),
        card = row("For", &card),
        info = row("Card", &f.card_information),
        registration = row("Registration", &f.registration_information),
        csrf = csrf_input(csrf),
    );
    if let Some(prompt) = &r.otp_prompt {
        body.push_str(&otp_input(prompt));
    }
    body.push_str(
        "<button type=\"submit\" name=\"decision\" value=\"approve\">Allow</button>\
<button type=\"submit\" name=\"decision\" value=\"deny\" formnovalidate>Deny</button></form>",
    );
    page(StatusCode::OK, "Allow confirmation of funds", &body)
}

fn render_review(r: &Review, csrf: &str) -> HttpResponse {
    if let Some(p) = &r.payment {
        return render_payment_review(r, p, csrf);
    }
    if let Some(f) = &r.funds {
        return render_funds_review(r, f, csrf);
    }
    let mut body = format!(
        "<h1>Review access for {client}</h1><p><strong>{client}</strong> asks to read the following, \
until <strong>{until}</strong>, at most <strong>{freq}</strong> time(s) a day when you are not using it{rec}.</p>{err}\
<form method=\"post\" action=\"/oauth/authorize/decision\">{csrf}",
        client = html_escape(&r.client_name),
        until = html_escape(&r.valid_until),
        freq = r.frequency_per_day,
        rec = if r.recurring {
            ", repeatedly"
        } else {
            ", once"
        },
        err = error_line(&r.error),
        csrf = csrf_input(csrf),
    );
    if !r.access.is_empty() {
        body.push_str("<table><tr><th>Access</th><th>Accounts</th></tr>");
        for (kind, ibans) in &r.access {
            let list: Vec<String> = ibans.iter().map(|i| html_escape(i)).collect();
            body.push_str(&format!(
                "<tr><td>{}</td><td>{}</td></tr>",
                html_escape(kind),
                list.join("<br>")
            ));
        }
        body.push_str("</table>");
    }
    if let Some((what, accounts)) = &r.pick {
        body.push_str(&format!(
            "<fieldset><legend>Choose the accounts to share ({})</legend>",
            html_escape(what)
        ));
        for a in accounts {
            body.push_str(&format!(
                "<label><input type=\"checkbox\" name=\"account\" value=\"{id}\"> {name} — {iban}</label>",
                id = html_escape(&a.id),
                name = html_escape(&a.name),
                iban = html_escape(&a.iban),
            ));
        }
        body.push_str("</fieldset>");
    }
    if let Some(prompt) = &r.otp_prompt {
        body.push_str(&format!(
            "<label>{} <input name=\"otp\" inputmode=\"numeric\" autocomplete=\"one-time-code\"></label>",
            html_escape(prompt)
        ));
    }
    body.push_str(
        "<button type=\"submit\" name=\"decision\" value=\"approve\">Approve</button>\
<button type=\"submit\" name=\"decision\" value=\"deny\" formnovalidate>Deny</button></form>",
    );
    page(StatusCode::OK, "Review access", &body)
}

fn render_step(outcome: StepOutcome) -> HttpResponse {
    match outcome.step {
        PsuStep::Login { client_name, error } => render_login(&client_name, &error, &outcome.csrf),
        PsuStep::Review(review) => render_review(&review, &outcome.csrf),
        PsuStep::Blocked { retry_after } => {
            let mut res = page(
                StatusCode::TOO_MANY_REQUESTS,
                "Temporarily blocked",
                "<h1>Too many failed attempts</h1><p>Logging in with this username is blocked for a while \
after too many wrong passwords. Please try again later.</p>",
            );
            if let Ok(v) = header::HeaderValue::from_str(&retry_after.to_string()) {
                res.headers_mut().insert(header::RETRY_AFTER, v);
            }
            res
        }
        PsuStep::Message {
            title,
            text,
            back_to_tpp,
        } => {
            let link = back_to_tpp
                .map(|href| {
                    format!(
                        "<p><a href=\"{}\">Return to the application</a></p>",
                        html_escape(&href)
                    )
                })
                .unwrap_or_default();
            page(
                StatusCode::FORBIDDEN,
                &title,
                &format!(
                    "<h1>{}</h1><p>{}</p>{link}",
                    html_escape(&title),
                    html_escape(&text)
                ),
            )
        }
        PsuStep::Redirect(location) => HttpResponse::SeeOther()
            .insert_header((header::LOCATION, location))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .cookie(expired_cookie())
            .finish(),
    }
}

fn session_cookie(token: String) -> Cookie<'static> {
    Cookie::build(COOKIE, token)
        .path("/")
        .secure(true)
        .http_only(true)
        .same_site(SameSite::Strict)
        .finish()
}

fn expired_cookie() -> Cookie<'static> {
    let mut c = session_cookie(String::new());
    c.make_removal();
    c
}

fn render_error(e: AuthorizeError) -> HttpResponse {
    match e {
        AuthorizeError::Page { title, text } => html_error(StatusCode::BAD_REQUEST, &title, &text),
        AuthorizeError::Redirect { location } => HttpResponse::SeeOther()
            .insert_header((header::LOCATION, location))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish(),
        AuthorizeError::Forbidden { text } => {
            html_error(StatusCode::FORBIDDEN, "Request refused", &text)
        }
        AuthorizeError::Server(cause) => {
            tracing::error!(error.cause = %cause, "consent page failed");
            html_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "Please try again later.",
            )
        }
    }
}

/// Form pairs of a PSU page (`application/x-www-form-urlencoded`).
fn pairs(body: &[u8]) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes(body).unwrap_or_default()
}

fn field<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The authorization endpoint: starts the PSU's consent page.
#[utoipa::path(
    tag = "OAuth 2.0",
    params(
        ("client_id" = String, Query),
        ("response_type" = String, Query, description = "`code`"),
        ("redirect_uri" = String, Query, description = "Exactly one registered redirect URI"),
        ("scope" = String, Query, description = "`AIS:<consentId>` or `PIS:<paymentId>`"),
        ("state" = Option<String>, Query),
        ("code_challenge" = String, Query, description = "PKCE S256 challenge"),
        ("code_challenge_method" = String, Query, description = "`S256`"),
        ("request_uri" = Option<String>, Query, description = "From /oauth/par, instead of the parameters above")
    ),
    responses(
        (status = 200, description = "The login page", content_type = "text/html"),
        (status = 303, description = "An error redirect to the client (after its redirect URI was verified)"),
        (status = 400, description = "An error page (unknown client or unregistered redirect URI: never redirected)", content_type = "text/html")
    )
)]
#[get("/oauth/authorize")]
pub async fn authorize(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let params = match AuthorizeParams::from_pairs(pairs) {
        Ok(p) => p,
        Err(text) => return html_error(StatusCode::BAD_REQUEST, "Invalid request", &text),
    };
    match state.oauth.start(params).await {
        Ok((session, outcome)) => {
            let mut res = render_step(outcome);
            if let Err(e) = res.add_cookie(&session_cookie(session)) {
                tracing::error!(error.cause = %e, "cannot set the session cookie");
            }
            res
        }
        Err(e) => render_error(e),
    }
}

/// The login form, for documentation.
#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)]
pub struct LoginForm {
    username: String,
    password: String,
    csrf: String,
}

/// The decision form, for documentation.
#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)]
pub struct DecisionForm {
    /// `approve` or `deny`.
    decision: String,
    /// The one-time code, when the page asks for it.
    otp: Option<String>,
    /// Account ids the PSU picked (repeatable), for `availableAccounts`/`allPsd2`.
    account: Option<Vec<String>>,
    csrf: String,
}

/// Login step of the consent page (`username`, `password`, `csrf`).
#[utoipa::path(
    tag = "OAuth 2.0",
    request_body(content = LoginForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The review page", content_type = "text/html"),
        (status = 401, description = "Wrong credentials: the login page again", content_type = "text/html"),
        (status = 403, description = "Missing or invalid CSRF token or session", content_type = "text/html"),
        (status = 429, description = "Blocked after too many failed logins", content_type = "text/html")
    )
)]
#[post("/oauth/authorize/login")]
pub async fn login(req: HttpRequest, body: web::Bytes, state: web::Data<AppState>) -> HttpResponse {
    let form = pairs(&body);
    let session = req.cookie(COOKIE).map(|c| c.value().to_owned());
    let password = Secret::new(field(&form, "password").unwrap_or_default());
    let result = state
        .oauth
        .login(
            session.as_deref(),
            field(&form, "csrf"),
            field(&form, "username").unwrap_or_default(),
            &password,
        )
        .await;
    match result {
        Ok(outcome) => render_step(outcome),
        Err(e) => render_error(e),
    }
}

/// Decision step of the consent page (`decision`, `otp`, `account`…, `csrf`).
#[utoipa::path(
    tag = "OAuth 2.0",
    request_body(content = DecisionForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Back to the client with `code`, `state` and `iss`, or `error=access_denied`"),
        (status = 200, description = "The review page again (wrong code, no account picked)", content_type = "text/html"),
        (status = 403, description = "Missing or invalid CSRF token or session", content_type = "text/html")
    )
)]
#[post("/oauth/authorize/decision")]
pub async fn decision(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let form = pairs(&body);
    let session = req.cookie(COOKIE).map(|c| c.value().to_owned());
    let approve = match field(&form, "decision") {
        Some("approve") => true,
        Some("deny") => false,
        _ => {
            return html_error(
                StatusCode::BAD_REQUEST,
                "Invalid request",
                "Choose approve or deny.",
            );
        }
    };
    let decision = Decision {
        approve,
        otp: field(&form, "otp").map(Secret::new),
        accounts: form
            .iter()
            .filter(|(k, _)| k == "account")
            .map(|(_, v)| v.clone())
            .collect(),
        trust_payee: field(&form, "trust_payee") == Some("on"),
    };
    match state
        .oauth
        .decide(session.as_deref(), field(&form, "csrf"), decision)
        .await
    {
        Ok(outcome) => render_step(outcome),
        Err(e) => render_error(e),
    }
}
