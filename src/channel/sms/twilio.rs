//! Twilio's Programmable Messaging REST API (2010-04-01), and providers
//! that speak it (`base_url`).
//!
//! Inbound: `GET …/Messages.json?To=<our number>&DateSent>=<day>`, newest
//! first, following each page's `next_page_uri` as the server gives it.
//! Dates filter by whole days in GMT, so a poll asks from the day before
//! its cursor and drops what it already has by message SID. 429 waits for
//! `Retry-After`, 5xx and timeouts are retried with backoff, and any other
//! 4xx is the request's fault: a permanent error with Twilio's code and
//! words.

use std::time::Duration;

use serde::Deserialize;

use super::account::SmsAccount;
use super::SmsError;

/// A message resource, as much of it as echodesk reads.
#[derive(Debug, Clone, Deserialize)]
pub struct TwMessage {
    pub sid: String,
    pub from: Option<String>,
    pub to: Option<String>,
    pub body: Option<String>,
    pub direction: String,
    pub status: String,
    pub date_sent: Option<String>,
    pub date_created: Option<String>,
    pub num_media: Option<String>,
    pub error_code: Option<i64>,
    pub error_message: Option<String>,
}

impl TwMessage {
    /// When it was sent (RFC 2822 in the API), in Unix seconds.
    pub fn sent_at(&self) -> Option<i64> {
        self.date_sent
            .as_deref()
            .or(self.date_created.as_deref())
            .and_then(|d| chrono::DateTime::parse_from_rfc2822(d).ok())
            .map(|d| d.timestamp())
    }

    pub fn media_count(&self) -> usize {
        self.num_media
            .as_deref()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }
}

/// A list page, each message read on its own: one entry the gateway
/// garbled must not cost the page.
#[derive(Debug)]
pub struct Page {
    pub messages: Vec<Result<TwMessage, BadEntry>>,
    pub next_page_uri: Option<String>,
}

/// A message entry that did not have the documented shape.
#[derive(Debug, Clone, PartialEq)]
pub struct BadEntry {
    pub sid: Option<String>,
    pub error: String,
    pub raw: String,
}

#[derive(Deserialize)]
struct RawPage {
    messages: Vec<serde_json::Value>,
    next_page_uri: Option<String>,
}

/// Reads a Messages list page.
pub fn parse_page(bytes: &[u8]) -> Result<Page, String> {
    let raw: RawPage =
        serde_json::from_slice(bytes).map_err(|e| format!("unreadable page: {e}"))?;
    let messages = raw
        .messages
        .into_iter()
        .map(|v| {
            TwMessage::deserialize(&v).map_err(|e| BadEntry {
                sid: v.get("sid").and_then(|s| s.as_str()).map(str::to_string),
                error: e.to_string(),
                raw: v.to_string().chars().take(2000).collect(),
            })
        })
        .collect();
    Ok(Page {
        messages,
        next_page_uri: raw.next_page_uri,
    })
}

impl BadEntry {
    /// The entry as an inbound text that says what was wrong, so that it
    /// is seen (and deduped by its SID) rather than lost. None without a
    /// SID: such an entry cannot be told apart from the next poll's copy.
    pub fn as_message(&self) -> Option<TwMessage> {
        let sid = self.sid.clone()?;
        let v: serde_json::Value = serde_json::from_str(&self.raw).unwrap_or_default();
        let text = |k: &str| v.get(k).and_then(|s| s.as_str()).map(str::to_string);
        Some(TwMessage {
            sid,
            from: text("from"),
            to: text("to"),
            body: Some(format!(
                "[the gateway sent this message in a shape echodesk cannot read: {}]\n{}",
                self.error, self.raw
            )),
            direction: text("direction").unwrap_or_else(|| "inbound".into()),
            status: "received".into(),
            date_sent: text("date_sent"),
            date_created: text("date_created"),
            num_media: None,
            error_code: None,
            error_message: None,
        })
    }
}

#[derive(Debug, Deserialize)]
struct MediaList {
    media_list: Vec<MediaItem>,
}

#[derive(Debug, Deserialize)]
struct MediaItem {
    sid: String,
    content_type: String,
    uri: String,
}

#[derive(Debug, Deserialize)]
struct ApiError {
    code: Option<i64>,
    message: Option<String>,
}

pub struct Twilio {
    acct: SmsAccount,
    sid: String,
    token: String,
    http: reqwest::Client,
    base: String,
}

/// Attempts for a request that meets 429, 5xx or a timeout.
const TRIES: u32 = 4;

impl Twilio {
    pub async fn new(acct: &SmsAccount) -> Result<Twilio, SmsError> {
        let err = |m: String| SmsError::new(&acct.name, "setup", m, true);
        let cfg = acct
            .twilio()
            .ok_or_else(|| err("not a Twilio account".into()))?;
        let sid = cfg.account_sid.clone();
        let token = cfg.token.read_async(acct.timeout).await.map_err(err)?;
        let tls = crate::channel::email::tls::client_config(cfg.ca_file.as_deref()).map_err(err)?;
        let http = reqwest::Client::builder()
            .use_preconfigured_tls((*tls).clone())
            .timeout(Duration::from_secs(acct.timeout))
            .connect_timeout(Duration::from_secs(acct.timeout))
            .build()
            .map_err(|e| err(e.to_string()))?;
        Ok(Twilio {
            base: cfg.base_url.trim_end_matches('/').to_string(),
            acct: acct.clone(),
            sid,
            token,
            http,
        })
    }

    fn messages_path(&self) -> String {
        format!("/2010-04-01/Accounts/{}/Messages.json", self.sid)
    }

    /// Sends a request built by `make`, retrying what may pass on its own.
    async fn call(
        &self,
        step: &'static str,
        make: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, SmsError> {
        let name = &self.acct.name;
        let mut wait = Duration::from_millis(500);
        let mut last = String::new();
        for attempt in 1..=TRIES {
            let r = make().basic_auth(&self.sid, Some(&self.token)).send().await;
            match r {
                Ok(resp) if resp.status().is_success() => return Ok(resp),
                Ok(resp) => {
                    let status = resp.status();
                    let retry_after = resp
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok());
                    let text = resp.text().await.unwrap_or_default();
                    let api: Option<ApiError> = serde_json::from_str(&text).ok();
                    let words = match &api {
                        Some(ApiError {
                            code: Some(c),
                            message: Some(m),
                        }) => format!("{status}: {m} (Twilio error {c})"),
                        _ => format!("{status}: {}", text.chars().take(200).collect::<String>()),
                    };
                    if status.as_u16() == 429 {
                        last = words;
                        // Honour the server, but never hang a poll for long.
                        let secs = retry_after.unwrap_or(wait.as_secs().max(1)).min(30);
                        if attempt < TRIES {
                            tokio::time::sleep(Duration::from_secs(secs)).await;
                        }
                        continue;
                    }
                    if status.is_server_error() {
                        last = words;
                        if attempt < TRIES {
                            tokio::time::sleep(wait).await;
                            wait *= 2;
                        }
                        continue;
                    }
                    // 4xx: this request is wrong and will stay wrong.
                    return Err(SmsError::new(name, step, words, false));
                }
                Err(e) => {
                    last = if e.is_timeout() {
                        format!("no answer within {} s", self.acct.timeout)
                    } else {
                        error_words(&e)
                    };
                    if attempt < TRIES {
                        tokio::time::sleep(wait).await;
                        wait *= 2;
                    }
                }
            }
        }
        Err(SmsError::new(
            name,
            step,
            format!("{last} (after {TRIES} tries)"),
            true,
        ))
    }

    /// Inbound messages to our number sent on or after `day` (GMT), every
    /// page, oldest first.
    pub async fn inbound_since(&self, day: chrono::NaiveDate) -> Result<Vec<TwMessage>, SmsError> {
        let day = day.format("%Y-%m-%d").to_string();
        let all = self
            .list(&[("To", self.acct.number.as_str()), ("DateSent>", &day)])
            .await?;
        Ok(all
            .into_iter()
            .filter(|m| m.direction == "inbound")
            .collect())
    }

    /// What we sent from our number to `to` on or after `day` (GMT),
    /// oldest first: the gateway's own record, for resolving a send a
    /// crash interrupted.
    pub async fn sent_to(
        &self,
        to: &str,
        day: chrono::NaiveDate,
    ) -> Result<Vec<TwMessage>, SmsError> {
        let day = day.format("%Y-%m-%d").to_string();
        let all = self
            .list(&[
                ("From", self.acct.number.as_str()),
                ("To", to),
                ("DateSent>", &day),
            ])
            .await?;
        Ok(all
            .into_iter()
            .filter(|m| m.direction.starts_with("outbound"))
            .collect())
    }

    /// Every page of the message list under `filters`, oldest first.
    async fn list(&self, filters: &[(&str, &str)]) -> Result<Vec<TwMessage>, SmsError> {
        let mut out = Vec::new();
        let mut pairs = filters.to_vec();
        pairs.push(("PageSize", "1000"));
        let first = format!(
            "{}{}?{}",
            self.base,
            self.messages_path(),
            serde_urlencoded_pairs(&pairs)
        );
        let mut next = Some(first);
        while let Some(url) = next.take() {
            let resp = self.call("list", || self.http.get(&url)).await?;
            let body = resp.bytes().await.map_err(|e| {
                SmsError::new(
                    &self.acct.name,
                    "list",
                    format!("reading the page: {e}"),
                    true,
                )
            })?;
            let page =
                parse_page(&body).map_err(|e| SmsError::new(&self.acct.name, "list", e, true))?;
            for entry in page.messages {
                match entry {
                    Ok(m) => out.push(m),
                    Err(bad) => match bad.as_message() {
                        Some(m) => out.push(m),
                        None => tracing::warn!(
                            account = %self.acct.name,
                            "skipped a message entry without a sid: {}",
                            bad.error
                        ),
                    },
                }
            }
            // The server's own link to the next page; never built by hand.
            next = page.next_page_uri.map(|u| format!("{}{u}", self.base));
        }
        out.reverse();
        Ok(out)
    }

    /// An MMS's media: (content type, bytes, media SID).
    pub async fn media(
        &self,
        message_sid: &str,
    ) -> Result<Vec<(String, Vec<u8>, String)>, SmsError> {
        let url = format!(
            "{}/2010-04-01/Accounts/{}/Messages/{message_sid}/Media.json",
            self.base, self.sid
        );
        let list: MediaList = self
            .call("media", || self.http.get(&url))
            .await?
            .json()
            .await
            .map_err(|e| SmsError::new(&self.acct.name, "media", e.to_string(), true))?;
        let mut out = Vec::new();
        for m in list.media_list {
            let url = format!("{}{}", self.base, m.uri.trim_end_matches(".json"));
            let bytes = self
                .call("media", || self.http.get(&url))
                .await?
                .bytes()
                .await
                .map_err(|e| SmsError::new(&self.acct.name, "media", e.to_string(), true))?;
            out.push((m.content_type, bytes.to_vec(), m.sid));
        }
        Ok(out)
    }

    /// Sends a text; the message resource Twilio answers with.
    /// Creating a message is not idempotent, so this is no plain `call`:
    /// it is repeated only when the gateway surely did not take it (a
    /// refused connection, a 429). After an answer that leaves it open (a
    /// 5xx, a timeout, a connection lost once the request was out, an
    /// unreadable answer) the gateway's own list decides: the message is
    /// there (sent) or it is not (safe to try again). If even the list
    /// cannot be read, the send is [`SmsError::unknown`].
    pub async fn send(&self, to: &str, body: &str) -> Result<TwMessage, SmsError> {
        let name = &self.acct.name;
        let url = format!("{}{}", self.base, self.messages_path());
        let mut form: Vec<(&str, &str)> = vec![("To", to), ("Body", body)];
        match self
            .acct
            .twilio()
            .and_then(|t| t.messaging_service_sid.as_ref())
        {
            Some(s) => form.push(("MessagingServiceSid", s)),
            None => form.push(("From", &self.acct.number)),
        }
        let encoded = serde_urlencoded_pairs(&form);
        let started = chrono::Utc::now().timestamp() - 5;
        let mut wait = Duration::from_millis(500);
        let mut last = String::new();
        for attempt in 1..=TRIES {
            let r = self
                .http
                .post(&url)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(encoded.clone())
                .basic_auth(&self.sid, Some(&self.token))
                .send()
                .await;
            let open_question = match r {
                Ok(resp) if resp.status().is_success() => match resp.json::<TwMessage>().await {
                    Ok(m) => return Ok(m),
                    Err(e) => format!("unreadable answer: {e}"),
                },
                Ok(resp) if resp.status().as_u16() == 429 => {
                    let secs = resp
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .unwrap_or(wait.as_secs().max(1))
                        .min(30);
                    last = format!("{}: too many requests", resp.status());
                    if attempt < TRIES {
                        tokio::time::sleep(Duration::from_secs(secs)).await;
                    }
                    continue;
                }
                Ok(resp) if resp.status().is_client_error() => {
                    let status = resp.status();
                    let text = resp.text().await.unwrap_or_default();
                    let words = match serde_json::from_str::<ApiError>(&text).ok() {
                        Some(ApiError {
                            code: Some(c),
                            message: Some(m),
                        }) => format!("{status}: {m} (Twilio error {c})"),
                        _ => format!("{status}: {}", text.chars().take(200).collect::<String>()),
                    };
                    return Err(SmsError::new(name, "send", words, false));
                }
                Ok(resp) => format!("{}", resp.status()),
                Err(e) if e.is_connect() => {
                    last = error_words(&e);
                    if attempt < TRIES {
                        tokio::time::sleep(wait).await;
                        wait *= 2;
                    }
                    continue;
                }
                Err(e) if e.is_timeout() => format!("no answer within {} s", self.acct.timeout),
                Err(e) => error_words(&e),
            };
            // Did it arrive anyway? Give the gateway a moment to list it.
            tokio::time::sleep(Duration::from_millis(300)).await;
            match self.find_sent(to, body, started).await {
                Ok(Some(m)) => return Ok(m),
                Ok(None) => {
                    last = format!("{open_question} (not created: the gateway does not list it)");
                    if attempt < TRIES {
                        tokio::time::sleep(wait).await;
                        wait *= 2;
                    }
                }
                Err(e) => {
                    return Err(SmsError::unknown(
                        name,
                        "send",
                        format!(
                            "{open_question}; the gateway's list could not be read to check ({})",
                            e.message
                        ),
                    ))
                }
            }
        }
        Err(SmsError::new(
            name,
            "send",
            format!("{last} (after {TRIES} tries)"),
            true,
        ))
    }

    /// A message from our number to `to` with this text, created at or
    /// after `since` (Unix seconds).
    pub async fn find_sent(
        &self,
        to: &str,
        body: &str,
        since: i64,
    ) -> Result<Option<TwMessage>, SmsError> {
        let day = chrono::DateTime::from_timestamp(since, 0)
            .map(|d| d.date_naive())
            .unwrap_or_else(|| chrono::Utc::now().date_naive());
        let sent = self.sent_to(to, day).await?;
        Ok(sent.into_iter().find(|m| {
            m.body.as_deref().map(str::trim) == Some(body.trim())
                && m.sent_at().is_none_or(|t| t >= since)
        }))
    }

    /// A sent message's current state.
    pub async fn fetch(&self, sid: &str) -> Result<TwMessage, SmsError> {
        let url = format!(
            "{}/2010-04-01/Accounts/{}/Messages/{sid}.json",
            self.base, self.sid
        );
        self.call("status", || self.http.get(&url))
            .await?
            .json()
            .await
            .map_err(|e| SmsError::new(&self.acct.name, "status", e.to_string(), true))
    }
}

/// application/x-www-form-urlencoded, as Twilio reads it.
/// reqwest's own words hide the cause (connection refused, DNS, TLS) in
/// its sources.
fn error_words(e: &reqwest::Error) -> String {
    let mut words = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        words.push_str(&format!(": {c}"));
        cause = c.source();
    }
    words
}

fn serde_urlencoded_pairs(pairs: &[(&str, &str)]) -> String {
    fn enc(s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        for b in s.bytes() {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    out.push(b as char)
                }
                b' ' => out.push('+'),
                _ => out.push_str(&format!("%{b:02X}")),
            }
        }
        out
    }
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_encoding_keeps_plus_and_unicode_safe() {
        assert_eq!(
            serde_urlencoded_pairs(&[("To", "+15005550006"), ("Body", "Hi 你好 & bye")]),
            "To=%2B15005550006&Body=Hi+%E4%BD%A0%E5%A5%BD+%26+bye"
        );
        assert_eq!(
            serde_urlencoded_pairs(&[("DateSent>", "2026-11-22")]),
            "DateSent%3E=2026-11-22"
        );
    }

    #[test]
    fn dates_parse_from_the_api_format() {
        let m = TwMessage {
            sid: "SM1".into(),
            from: None,
            to: None,
            body: None,
            direction: "inbound".into(),
            status: "received".into(),
            date_sent: Some("Mon, 23 Nov 2026 02:15:00 +0000".into()),
            date_created: None,
            num_media: Some("2".into()),
            error_code: None,
            error_message: None,
        };
        assert_eq!(m.sent_at(), Some(1_795_400_100));
        assert_eq!(m.media_count(), 2);
    }

    #[test]
    fn a_garbled_entry_costs_only_itself() {
        let page = br#"{"messages":[
            {"sid":"SM1","from":"+14155550100","body":"fine","direction":"inbound","status":"received"},
            {"sid":"SM2","from":"+14155550101","body":7,"direction":"inbound","status":"received"},
            {"from":"+14155550102","body":"no sid"},
            {"sid":"SM4","from":"+14155550103","body":"after","direction":"inbound","status":"received"}
        ],"next_page_uri":null}"#;
        let p = parse_page(page).unwrap();
        assert_eq!(p.messages.len(), 4);
        assert!(p.messages[0].is_ok() && p.messages[3].is_ok());
        let bad = p.messages[1].as_ref().unwrap_err();
        let m = bad.as_message().unwrap();
        assert_eq!(
            (m.sid.as_str(), m.from.as_deref()),
            ("SM2", Some("+14155550101"))
        );
        assert!(m.body.unwrap().contains("cannot read"));
        assert!(p.messages[2].as_ref().unwrap_err().as_message().is_none());
        assert!(parse_page(b"<html>502</html>")
            .unwrap_err()
            .contains("unreadable page"));
    }
}
