//! Plays a sandbox PSU's browser through obgw's consent page (shared by the examples).

use anyhow::anyhow;

/// The hidden `csrf` input of a consent-page form.
fn csrf(html: &str) -> anyhow::Result<String> {
    let marker = "name=\"csrf\" value=\"";
    let start = html
        .find(marker)
        .ok_or_else(|| anyhow!("no CSRF token on the page"))?
        + marker.len();
    let end = html[start..]
        .find('"')
        .ok_or_else(|| anyhow!("bad CSRF token"))?
        + start;
    Ok(html[start..end].to_owned())
}

/// Plays the PSU's browser through the consent page's real forms; returns where
/// the page redirects the browser (the TPP's callback with `code`).
pub async fn play_psu(
    browser: &reqwest::Client,
    url: &str,
    user: &str,
    password: &str,
) -> anyhow::Result<String> {
    let page = browser.get(url).send().await?;
    let origin = {
        let u = page.url();
        format!("{}://{}", u.scheme(), u.authority())
    };
    let cookie = page
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|c| c.split(';').next())
        .ok_or_else(|| anyhow!("no session cookie"))?
        .to_owned();
    let html = page.error_for_status()?.text().await?;
    let post = |path: &str, form: Vec<(&str, String)>| {
        browser
            .post(format!("{origin}{path}"))
            .header("cookie", &cookie)
            .form(&form)
            .send()
    };
    let review = post(
        "/oauth/authorize/login",
        vec![
            ("csrf", csrf(&html)?),
            ("username", user.into()),
            ("password", password.into()),
        ],
    )
    .await?
    .error_for_status()?
    .text()
    .await?;
    let mut form = vec![("csrf", csrf(&review)?), ("decision", "approve".into())];
    if review.contains("name=\"otp\"") {
        form.push(("otp", "123456".into()));
    }
    let marker = "name=\"account\" value=\"";
    let mut rest = review.as_str();
    while let Some(i) = rest.find(marker) {
        rest = &rest[i + marker.len()..];
        let end = rest.find('"').unwrap_or(0);
        form.push(("account", rest[..end].to_owned()));
    }
    let done = post("/oauth/authorize/decision", form).await?;
    let location = done
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            anyhow!(
                "the consent page did not redirect (status {})",
                done.status()
            )
        })?
        .to_owned();
    Ok(location)
}
