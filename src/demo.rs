//! A generated demo inbox: a few hundred tickets over email, fax and SMS
//! from English, Chinese and Japanese customers, in every state, built
//! through the real ingest path so it looks like what a team would see.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::inbound::{Inbound, InboundAttachment};
use crate::ingest::{Ingest, Outcome};
use crate::model::{Channel, Direction, Priority};
use crate::store::{Settings, Store, Tx};

#[derive(Debug, Serialize)]
pub struct DemoReport {
    pub database: PathBuf,
    pub canned_dir: PathBuf,
    pub tickets: i64,
    pub messages: i64,
    pub customers: i64,
}

/// A small deterministic generator: the demo is the same on every machine.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    pub(crate) fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
    pub(crate) fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Lang {
    En,
    Zh,
    Ja,
}

struct Person {
    name: String,
    email: String,
    phone: String,
    fax: String,
    lang: Lang,
}

const EN_FIRST: &[&str] = &[
    "Alice", "Bob", "Carol", "David", "Emma", "Frank", "Grace", "Henry", "Irene", "Jack", "Karen",
    "Liam", "Maria", "Noah", "Olivia", "Peter", "Quinn", "Rosa", "Sam", "Tina",
];
const EN_LAST: &[&str] = &[
    "Smith", "Jones", "Miller", "Brown", "Garcia", "Wilson", "Taylor", "Clark", "Lewis", "Walker",
];
const ZH_NAMES: &[(&str, &str)] = &[
    ("王伟", "wang.wei"),
    ("李娜", "li.na"),
    ("张敏", "zhang.min"),
    ("刘洋", "liu.yang"),
    ("陈静", "chen.jing"),
    ("杨帆", "yang.fan"),
    ("赵磊", "zhao.lei"),
    ("黄婷", "huang.ting"),
    ("周杰", "zhou.jie"),
    ("吴霞", "wu.xia"),
];
const JA_NAMES: &[(&str, &str)] = &[
    ("佐藤 健", "sato.ken"),
    ("鈴木 花子", "suzuki.hanako"),
    ("高橋 誠", "takahashi.makoto"),
    ("田中 美咲", "tanaka.misaki"),
    ("渡辺 翔", "watanabe.sho"),
    ("伊藤 愛", "ito.ai"),
    ("山本 大輔", "yamamoto.daisuke"),
    ("中村 由美", "nakamura.yumi"),
];

/// (subject, body) pairs; `{n}` becomes a number.
const EN_MAIL: &[(&str, &str)] = &[
    ("Order #{n} has not arrived", "Hi,\n\nI ordered a kettle (order #{n}) two weeks ago and it still has not arrived. The tracking page has not changed for five days. Could you check what is going on?\n\nThanks"),
    ("Refund for damaged item", "Hello,\n\nThe lamp from order #{n} arrived with a cracked base. I attached a photo. I would like a refund rather than a replacement, please.\n\nBest regards"),
    ("Cannot log in to my account", "Hi support,\n\nSince yesterday the login page says my password is wrong, and the reset email never arrives. My username is the address I am writing from.\n"),
    ("Invoice {n} shows the wrong amount", "Hello,\n\nInvoice {n} charges us for 12 licences but we only have 10 users. Please send a corrected invoice; our accounts team cannot pay this one.\n"),
    ("Change of delivery address", "Hi,\n\nWe moved offices. Could you send order #{n} to 14 Harbour Street instead? It has not shipped yet according to your site.\n"),
    ("Service outage this morning", "Hi,\n\nYour service was down for us from 8:10 to about 9:30 this morning, all of our shops were affected. Is it fixed now and what happened?\n"),
    ("Warranty question", "Hello,\n\nMy coffee machine stopped heating after 14 months. Is this still covered by the two-year warranty, and where do I send it?\n"),
    ("Please cancel my subscription", "Hi,\n\nPlease cancel my subscription at the end of this month and confirm by email. Thank you for the good service so far.\n"),
];
const ZH_MAIL: &[(&str, &str)] = &[
    (
        "订单{n}还没有到",
        "你好，\n\n我上周下的订单{n}到现在还没有收到，物流信息也一直没有更新。请帮我查一下，谢谢！",
    ),
    (
        "申请退款",
        "您好，\n\n收到的商品外包装破损，里面的杯子也碎了。我想申请退款，照片在附件里。",
    ),
    (
        "无法登录账户",
        "你好，\n\n我的账户从昨天开始无法登录，重置密码的邮件也收不到。请尽快帮我处理。",
    ),
    (
        "发票抬头错误",
        "您好，\n\n发票{n}的抬头写错了，公司名称应为“上海星辰贸易有限公司”。麻烦重新开一张。",
    ),
];
const JA_MAIL: &[(&str, &str)] = &[
    ("注文{n}がまだ届きません", "お世話になっております。\n\n先週注文した商品（注文番号{n}）がまだ届いておりません。配送状況をご確認いただけますでしょうか。\n\nよろしくお願いいたします。"),
    ("返金のお願い", "お世話になっております。\n\n届いた商品が破損しておりました。返金をお願いできますでしょうか。写真を添付いたします。"),
    ("ログインできません", "いつもお世話になっております。\n\n昨日からアカウントにログインできません。パスワードの再設定メールも届きません。"),
    ("請求書の金額について", "お世話になっております。\n\n請求書{n}の金額が見積もりと異なっております。ご確認のほどよろしくお願いいたします。"),
];
const SMS: &[(Lang, &str)] = &[
    (Lang::En, "Hi, my order {n} still hasn't arrived. Any news?"),
    (
        Lang::En,
        "Is the outage fixed? Our card terminal is still offline",
    ),
    (Lang::En, "Can I change my delivery slot to Friday?"),
    (Lang::En, "Thanks, got it 👍"),
    (Lang::Zh, "请问我的快递{n}到哪了？"),
    (Lang::Zh, "收到了，谢谢！"),
    (Lang::Ja, "配達はいつになりますか？注文番号{n}です。"),
    (Lang::Ja, "ありがとうございます、受け取りました。"),
];
const FAX: &[(&str, &str)] = &[
    ("Purchase order {n}", "PURCHASE ORDER {n}\nPlease supply 40 x cartridge type B, 12 x toner black.\nDeliver to: Riverside Clinic, Dock Road 3.\nAuthorised: M. Becker"),
    ("Signed contract amendment", "Attached the signed amendment to contract {n}, 3 pages.\nPlease countersign and return by fax."),
    ("Claim form {n}", "Warranty claim form {n}: device serial SN-{n}, fault: no power after storm.\nPlease advise on repair or exchange."),
];
const AGENT_REPLIES: &[&str] = &[
    "Thanks for getting in touch. I have looked into this and will come back to you by tomorrow.",
    "Sorry about the trouble. I have asked the warehouse to check and will update you as soon as I hear back.",
    "This is sorted now — please let us know if anything else comes up.",
    "Could you send us the order number and a photo, please? Then we can process it straight away.",
];
const NOTES: &[&str] = &[
    "Checked with the warehouse: parcel is stuck at the depot. Chasing.",
    "Customer is a key account — keep them posted daily.",
    "Refund approved by finance, waiting for the bank.",
    "Duplicate of an older ticket? Left open until the customer confirms.",
];
const AGENTS: &[&str] = &["alice", "bob", "chen", "yuki"];
const TAGS: &[&str] = &[
    "billing", "shipping", "outage", "refund", "login", "vip", "warranty",
];

fn people(rng: &mut Rng) -> Vec<Person> {
    let mut out = Vec::new();
    for (i, first) in EN_FIRST.iter().enumerate() {
        let last = EN_LAST[i % EN_LAST.len()];
        let domain = ["example.com", "example.org", "mail.example.net"][i % 3];
        out.push(Person {
            name: format!("{first} {last}"),
            email: format!("{}.{}@{domain}", first.to_lowercase(), last.to_lowercase()),
            phone: format!("+1415555{:04}", 1000 + i),
            fax: format!("+1212555{:04}", 2000 + i),
            lang: Lang::En,
        });
    }
    for (i, (name, local)) in ZH_NAMES.iter().enumerate() {
        out.push(Person {
            name: name.to_string(),
            email: format!("{local}@example.cn"),
            phone: format!("+86138{:08}", 10_000_000 + i * 7919),
            fax: format!("+86215{:07}", 1_000_000 + i),
            lang: Lang::Zh,
        });
    }
    for (i, (name, local)) in JA_NAMES.iter().enumerate() {
        out.push(Person {
            name: name.to_string(),
            email: format!("{local}@example.jp"),
            phone: format!("+8190{:08}", 12_000_000 + i * 4099),
            fax: format!("+8135{:08}", 10_000_000 + i),
            lang: Lang::Ja,
        });
    }
    // Shuffle lightly so languages interleave in the queue.
    for i in (1..out.len()).rev() {
        let j = rng.below(i + 1);
        out.swap(i, j);
    }
    out
}

/// A one-page PDF-shaped placeholder for demo fax attachments.
fn fake_pdf(text: &str) -> Vec<u8> {
    format!("%PDF-1.4\n% echodesk demo fax\n1 0 obj << /Type /Catalog >> endobj\n% {text}\n%%EOF\n")
        .into_bytes()
}

fn mail_for(rng: &mut Rng, lang: Lang) -> (String, String) {
    let (s, b) = match lang {
        Lang::En => *rng.pick(EN_MAIL),
        Lang::Zh => *rng.pick(ZH_MAIL),
        Lang::Ja => *rng.pick(JA_MAIL),
    };
    let n = (10_000 + rng.below(90_000)).to_string();
    (s.replace("{n}", &n), b.replace("{n}", &n))
}

fn sms_for(rng: &mut Rng, lang: Lang) -> String {
    let options: Vec<&str> = SMS
        .iter()
        .filter(|(l, _)| *l == lang)
        .map(|(_, t)| *t)
        .collect();
    let n = (10_000 + rng.below(90_000)).to_string();
    rng.pick(&options).replace("{n}", &n)
}

struct Gen<'a> {
    rng: Rng,
    /// For what comes back after a solve (see `maybe_reopen`).
    again: Rng,
    /// For satisfaction surveys (see `maybe_survey`).
    asked: Rng,
    zone: crate::clock::Zone,
    ingest: Ingest,
    seq: u64,
    _config: &'a Config,
}

impl Gen<'_> {
    fn inbound(
        &mut self,
        channel: Channel,
        p: &Person,
        subject: &str,
        body: &str,
        at: i64,
        refs: Vec<String>,
    ) -> Inbound {
        self.seq += 1;
        let (from, account, to) = match channel {
            Channel::Email => (p.email.clone(), "demo-mail", "support@echodesk.example"),
            Channel::Sms => (p.phone.clone(), "demo-sms", "+14155550100"),
            Channel::Fax => (p.fax.clone(), "demo-fax", "+14155550199"),
        };
        let attachments = if channel == Channel::Fax {
            vec![InboundAttachment {
                filename: format!("fax-{:06}.pdf", self.seq),
                content_type: "application/pdf".into(),
                data: fake_pdf(body),
            }]
        } else {
            Vec::new()
        };
        Inbound {
            channel,
            account: account.into(),
            provider_id: format!("demo-{}", self.seq),
            message_id: (channel == Channel::Email)
                .then(|| format!("demo-{}@customer.example", self.seq)),
            refs,
            from_addr: from,
            from_name: (channel == Channel::Email).then(|| p.name.clone()),
            to_addr: to.into(),
            subject: subject.into(),
            body_text: body.into(),
            body_html: None,
            received_at: at,
            auto_kind: None,
            attachments,
            parse_error: None,
            raw: None,
        }
    }

    fn ticket(&mut self, tx: &Tx<'_>, people: &[Person], now: i64) -> Result<()> {
        let p = &people[self.rng.below(people.len())];
        let roll = self.rng.below(100);
        let channel = if roll < 60 {
            Channel::Email
        } else if roll < 85 {
            Channel::Sms
        } else {
            Channel::Fax
        };
        let start = office_time(self.zone, now, self.rng.below(HISTORY_DAYS * 86_400) as i64);
        let (subject, body) = match channel {
            Channel::Email => mail_for(&mut self.rng, p.lang),
            Channel::Sms => (String::new(), sms_for(&mut self.rng, p.lang)),
            Channel::Fax => {
                let (s, b) = *self.rng.pick(FAX);
                let n = (1000 + self.rng.below(9000)).to_string();
                (s.replace("{n}", &n), b.replace("{n}", &n))
            }
        };
        tx.set_clock(Some(start));
        register_machine(tx, p, &body)?;
        let first = self.inbound(channel, p, &subject, &body, start, vec![]);
        let first_mid = first.message_id.clone();
        let ticket = match self.ingest.ingest(tx, &first)? {
            Outcome::Created { ticket, .. }
            | Outcome::Threaded { ticket, .. }
            | Outcome::Rated { ticket, .. }
            | Outcome::Noted { ticket, .. } => ticket,
            Outcome::Duplicate => return Ok(()),
        };
        let mut at = start;
        let agent = *self.rng.pick(AGENTS);
        let exchanges = self.rng.below(3);
        for _ in 0..exchanges {
            at = (at + 600 + self.rng.below(20 * 3600) as i64).min(now - 30);
            tx.set_clock(Some(at));
            let reply = *self.rng.pick(AGENT_REPLIES);
            tx.add_agent_message(ticket, Direction::Out, reply, agent, at)?;
            if self.rng.chance(60) {
                at = (at + 600 + self.rng.below(10 * 3600) as i64).min(now - 20);
                let (subj, body) = match channel {
                    Channel::Sms => (String::new(), sms_for(&mut self.rng, p.lang)),
                    _ => (
                        format!("Re: {subject}"),
                        "Thank you for the quick answer. One more question: when can I expect it?"
                            .to_string(),
                    ),
                };
                let refs = first_mid.iter().cloned().collect();
                tx.set_clock(Some(at));
                let follow = self.inbound(channel, p, &subj, &body, at, refs);
                self.ingest.ingest(tx, &follow)?;
            }
        }
        if self.rng.chance(30) {
            at = (at + 300).min(now - 10);
            let note = NOTES[self.rng.below(NOTES.len())];
            tx.add_agent_message(ticket, Direction::Note, note, agent, at)?;
        }
        tx.set_clock(Some(at));
        if self.rng.chance(70) {
            tx.assign(ticket, Some(agent), agent, None)?;
        }
        let pri = match self.rng.below(100) {
            0..=14 => Priority::Low,
            15..=69 => Priority::Normal,
            70..=91 => Priority::High,
            _ => Priority::Urgent,
        };
        tx.set_priority(ticket, pri, agent, None)?;
        for _ in 0..self.rng.below(3) {
            let t = self.rng.pick(TAGS).to_string();
            tx.tag(ticket, &[t], &[], agent, None)?;
        }
        // Most of what came in weeks ago is done; this week's is in work.
        let roll = self.rng.below(100);
        let target = if now - start > 10 * 86_400 {
            match roll {
                0..=2 => "new",
                3..=7 => "open",
                8..=11 => "pending",
                12..=14 => "on-hold",
                15..=54 => "solved",
                55..=94 => "closed",
                _ => "spam",
            }
        } else {
            match roll {
                0..=19 => "new",
                20..=44 => "open",
                45..=59 => "pending",
                60..=64 => "on-hold",
                65..=84 => "solved",
                85..=94 => "closed",
                _ => "spam",
            }
        };
        let wf = &tx.settings().workflow;
        if wf.check_state(target).is_ok() {
            let (cur, _) = tx.ticket_state(ticket)?;
            if wf.check_transition(ticket, &cur, target).is_err()
                && wf.check_state(&wf.reopen_to).is_ok()
            {
                let _ = tx.set_state(ticket, &wf.reopen_to.clone(), agent, None);
            }
            let _ = tx.set_state(ticket, target, agent, None);
        }
        if target == "solved" {
            self.maybe_reopen(tx, p, channel, ticket, &subject, first_mid, at, now)?;
        }
        if matches!(target, "solved" | "closed") && channel != Channel::Fax {
            self.maybe_survey(tx, ticket, channel, agent, now)?;
        }
        tx.set_clock(None);
        Ok(())
    }

    /// Some solved tickets come back: the customer writes again a few
    /// hours or days later (which reopens the ticket), an agent answers
    /// and solves it again. From a second generator, so the tickets
    /// themselves stay what they were.
    #[allow(clippy::too_many_arguments)]
    fn maybe_reopen(
        &mut self,
        tx: &Tx<'_>,
        p: &Person,
        channel: Channel,
        ticket: i64,
        subject: &str,
        first_mid: Option<String>,
        solved_at: i64,
        now: i64,
    ) -> Result<()> {
        if !self.again.chance(12) {
            return Ok(());
        }
        let back = solved_at + 3 * 3600 + self.again.below(3 * 86_400) as i64;
        if back > now - 6 * 3600 {
            return Ok(());
        }
        let (subj, body) = match channel {
            Channel::Sms => (
                String::new(),
                "Sorry, it stopped working again.".to_string(),
            ),
            _ => (
                format!("Re: {subject}"),
                "Hello again, the problem is back since this morning. Can you have another look?"
                    .to_string(),
            ),
        };
        tx.set_clock(Some(back));
        let refs = first_mid.into_iter().collect();
        let again = self.inbound(channel, p, &subj, &body, back, refs);
        let into = match self.ingest.ingest(tx, &again)? {
            Outcome::Threaded { ticket: t, .. } => t,
            _ => return Ok(()),
        };
        if into != ticket {
            return Ok(());
        }
        let agent = *self.again.pick(AGENTS);
        let at = (back + 900 + self.again.below(8 * 3600) as i64).min(now - 120);
        tx.set_clock(Some(at));
        let reply = *self.again.pick(AGENT_REPLIES);
        tx.add_agent_message(ticket, Direction::Out, reply, agent, at)?;
        let solve = (at + 600 + self.again.below(20 * 3600) as i64).min(now - 60);
        tx.set_clock(Some(solve));
        let _ = tx.set_state(ticket, "solved", agent, None);
        Ok(())
    }
}

impl Gen<'_> {
    /// Most solved tickets got a satisfaction survey a day later; some
    /// customers answered, mostly happy. From a generator of its own.
    fn maybe_survey(
        &mut self,
        tx: &Tx<'_>,
        ticket: i64,
        channel: Channel,
        agent: &str,
        now: i64,
    ) -> Result<()> {
        let Some(solved_at) = tx.ticket_solved_at(ticket)? else {
            return Ok(());
        };
        let sent = solved_at + 86_400;
        if sent > now - 3600 || !self.asked.chance(70) {
            return Ok(());
        }
        let customer = tx.ticket_customer(ticket)?;
        let answer = if self.asked.chance(45) {
            let rating = match self.asked.below(100) {
                0..=49 => 5,
                50..=74 => 4,
                75..=84 => 3,
                85..=92 => 2,
                _ => 1,
            };
            let comment = match rating {
                5 => *self
                    .asked
                    .pick(&["", "great, thank you!", "fast and friendly", ""]),
                4 => *self.asked.pick(&["", "took a while but fine", "good"]),
                3 => *self.asked.pick(&["", "ok"]),
                _ => *self
                    .asked
                    .pick(&["nobody called back", "still not fixed", "too slow"]),
            };
            let at = (sent + 1800 + self.asked.below(30 * 3600) as i64).min(now - 60);
            Some((rating, comment, at))
        } else {
            None
        };
        let token = format!("demo{ticket:012}");
        // A later conversation may thread into the same ticket.
        if tx.survey_by_token(&token)?.is_some() {
            return Ok(());
        }
        tx.set_clock(Some(sent));
        tx.add_past_survey(
            &crate::store::NewSurvey {
                ticket,
                customer,
                channel,
                body: "How satisfied are you with how we handled your request? Reply 1-5.",
                token: &token,
                agent: Some(agent),
                expires_at: sent + 14 * 86_400,
            },
            sent,
            answer,
        )?;
        Ok(())
    }
}

/// How far back the demo's history reaches: twelve weeks, so that a
/// comparison with the period before and the dashboard's "last 12
/// weeks" have figures.
const HISTORY_DAYS: usize = 84;

/// How busy each hour of the team's day is, relative to the others.
const HOUR_WEIGHT: [i64; 24] = [
    1, 1, 1, 1, 1, 1, 2, 4, 8, 10, 10, 9, 7, 8, 9, 9, 8, 6, 4, 3, 3, 2, 2, 1,
];

/// `offset` seconds of randomness back from `now`, as office life has
/// it: the day `offset` falls on, busy weekday mornings and afternoons,
/// quiet nights, and two in three weekend contacts moved to the Friday
/// before or the Monday after.
fn office_time(zone: crate::clock::Zone, now: i64, offset: i64) -> i64 {
    let r = offset % 86_400;
    let mut day = zone.day(now) - (offset / 86_400) as i32;
    // Day 0 (1970-01-01) was a Thursday: Monday is 0 here.
    let weekday = (day + 3).rem_euclid(7);
    if weekday >= 5 {
        match r % 3 {
            1 => day -= weekday - 4,
            2 => day += 7 - weekday,
            _ => {}
        }
    }
    let total: i64 = HOUR_WEIGHT.iter().sum();
    let mut pick = r * total / 86_400;
    let mut hour = 0;
    for (h, w) in HOUR_WEIGHT.iter().enumerate() {
        if pick < *w {
            hour = h as i64;
            break;
        }
        pick -= w;
    }
    let at = zone.day_start(day) + hour * 3600 + (r * 7919) % 3600;
    at.min(now - 60 - r % 3600)
}

const CANNED: &[(&str, &str)] = &[
    ("shipping-delay.md", "+++\ntitle = \"Shipping delay\"\nshortcut = \"ship\"\ntags = [\"shipping\"]\nchannels = [\"email\", \"sms\", \"fax\"]\nstate = \"pending\"\nadd_tags = [\"shipping\"]\n[variants]\nsms = \"Hi {{ customer.first_name }}, your parcel is with the carrier and arrives within 2 working days. {{ ticket.tag }}\"\n+++\nHello {{ customer.first_name }},\n\nsorry for the wait. Your parcel is with the carrier and should reach you within two working days.\n\n{{ agent.signature }}\n"),
    ("refund-approved.md", "+++\ntitle = \"Refund approved\"\nshortcut = \"refund\"\ntags = [\"refund\", \"billing\"]\nchannels = [\"email\"]\nstate = \"solved\"\n+++\nHello {{ customer.first_name }},\n\nyour refund has been approved and will reach your account within 5 working days.\n\n{{ agent.signature }}\n"),
    ("password-reset.md", "+++\ntitle = \"Password reset\"\nshortcut = \"pw\"\ntags = [\"login\"]\nchannels = [\"email\", \"sms\"]\n+++\nHello {{ customer.first_name }},\n\nI have reset your login. You will get a new reset link within a few minutes; please check your spam folder too.\n\n{{ agent.signature }}\n"),
    ("outage-fixed.md", "+++\ntitle = \"Outage fixed\"\nshortcut = \"fixed\"\ntags = [\"outage\"]\nchannels = [\"email\", \"sms\"]\nstate = \"solved\"\n+++\nHello {{ customer.first_name }},\n\nthe outage is over and all services are running normally again. Sorry for the trouble.\n\n{{ agent.signature }}\n"),
    ("thanks-zh.md", "+++\ntitle = \"感谢来信 (中文)\"\nshortcut = \"zh\"\nchannels = [\"email\", \"sms\"]\n+++\n{{ customer.name }} 您好，\n\n感谢您的来信，我们已收到您的问题，会尽快回复您。\n\n{{ agent.signature }}\n"),
    ("thanks-ja.md", "+++\ntitle = \"お問い合わせありがとうございます (日本語)\"\nshortcut = \"ja\"\nchannels = [\"email\", \"sms\"]\n+++\n{{ customer.name }} 様\n\nお問い合わせいただきありがとうございます。担当者より追ってご連絡いたします。\n\n{{ agent.signature }}\n"),
];

/// Builds a fresh demo store in `dir` (replacing an earlier demo there).
pub fn build(dir: &Path, tickets: usize, config: &Config) -> Result<DemoReport> {
    build_at(dir, tickets, config, crate::store::now())
}

/// As [`build`], with history ending at `now` (reproducible screens).
pub fn build_at(dir: &Path, tickets: usize, config: &Config, now: i64) -> Result<DemoReport> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let db = dir.join("demo.db");
    let search = crate::store::search_index::path_for(&db);
    for (file, suffix) in [&db, &search]
        .into_iter()
        .flat_map(|f| ["", "-wal", "-shm"].map(|s| (f, s)))
    {
        let p = PathBuf::from(format!("{}{suffix}", file.display()));
        if p.exists() {
            std::fs::remove_file(&p).map_err(|e| Error::io(&p, e))?;
        }
    }
    let canned_dir = dir.join("canned");
    std::fs::create_dir_all(&canned_dir).map_err(|e| Error::io(&canned_dir, e))?;
    for (name, text) in CANNED {
        let p = canned_dir.join(name);
        std::fs::write(&p, text).map_err(|e| Error::io(&p, e))?;
    }

    // The demo's faxes name serials its own way, whatever the user's
    // config recognises.
    let mut settings = Settings::from(config);
    settings.serial_pattern = regex::Regex::new(SERIAL_PATTERN).ok();
    let mut store = Store::open(&db, settings)?;
    let mut gen = Gen {
        rng: Rng(0x9E37_79B9_7F4A_7C15),
        again: Rng(0x2545_F491_4F6C_DD1D),
        asked: Rng(0x6A09_E667_F3BC_C908),
        zone: store.settings().zone,
        ingest: Ingest::new(store.settings()),
        seq: 0,
        _config: config,
    };
    let people = people(&mut gen.rng);
    {
        let tx = store.transaction()?;
        tx.set_clock(Some(now - (HISTORY_DAYS as i64 + 10) * 86_400));
        // Two companies: customers at their domains are their people.
        for (name, domain) in [
            ("Example Corp", "example.com"),
            ("Example Org", "example.org"),
        ] {
            let org = tx.create_org(name, None, "demo")?;
            tx.add_org_domain(org, domain, "demo")?;
        }
        // Most customers are known with every address they use; the rest
        // arrive as strangers and get a record from their first message.
        for p in people.iter().take(people.len() * 2 / 3) {
            use crate::model::IdentityKind as K;
            let region = &config.default_region;
            let email = crate::identity::normalise(K::Email, &p.email, region)?;
            let phone = crate::identity::normalise(K::Phone, &p.phone, region)?;
            let fax = crate::identity::normalise(K::Fax, &p.fax, region)?;
            tx.create_customer(
                &p.name,
                &[(K::Email, &email), (K::Phone, &phone), (K::Fax, &fax)],
            )?;
        }
        while store_tickets(&tx)? < tickets as i64 {
            gen.ticket(&tx, &people, now)?;
        }
        tx.commit()?;
    }
    store.optimize()?;
    let (tickets, messages, customers) = store.totals()?;
    Ok(DemoReport {
        database: db,
        canned_dir,
        tickets,
        messages,
        customers,
    })
}

/// The serial numbers the demo's claim forms name (`SN-4890`).
pub const SERIAL_PATTERN: &str = r"\bSN-\d{4}\b";

/// A claim form names a machine: a known customer owns it, so that the
/// serial in the fax links the ticket to it when it is filed, and the
/// asset's tickets are its repair record. Model and dates follow from the
/// serial, so the demo's random draws are the same as without machines.
fn register_machine(tx: &Tx<'_>, p: &Person, body: &str) -> Result<()> {
    let Some(serial) = body
        .split_whitespace()
        .map(|w| w.trim_end_matches([',', '.', ':']))
        .find(|w| w.starts_with("SN-"))
    else {
        return Ok(());
    };
    if tx.asset_by_serial(serial)?.is_some() {
        return Ok(());
    }
    let fax = crate::identity::normalise(crate::model::IdentityKind::Fax, &p.fax, "US")?;
    let Some(customer) = tx.find_identity(crate::model::IdentityKind::Fax, &fax)? else {
        return Ok(());
    };
    let n: i64 = serial[3..].parse().unwrap_or(0);
    let bought = chrono::NaiveDate::from_ymd_opt(2023, 1, 1).unwrap_or_default()
        + chrono::Duration::days(n % 900);
    let warranty = bought + chrono::Duration::days(2 * 365);
    tx.create_asset(
        &crate::store::AssetInput {
            customer_id: Some(customer),
            model: Some(["PowerBox P100", "PowerBox P200", "Inverter X5"][(n % 3) as usize].into()),
            serial: Some(serial.to_string()),
            purchased: Some(bought.to_string()),
            warranty_until: Some(warranty.to_string()),
            location: Some(["Workshop", "Basement", "Roof"][(n % 3) as usize].into()),
            ..Default::default()
        },
        "demo",
    )?;
    Ok(())
}

fn store_tickets(tx: &Tx<'_>) -> Result<i64> {
    tx.count_tickets()
}
