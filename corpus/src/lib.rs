//! Synthetic support mail for benchmarks and test servers: realistic sizes
//! (~500-character bodies), threads with In-Reply-To/References, English,
//! Chinese (GBK, Big5, UTF-8) and Japanese (ISO-2022-JP, Shift_JIS) mail in
//! their real transfer encodings, HTML alternatives and auto-replies.
//! Deterministic for a seed.

use std::path::Path;

use encoding_rs::{Encoding, BIG5, GBK, ISO_2022_JP, SHIFT_JIS, UTF_8};

/// xorshift64: deterministic, so every machine generates the same mail.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

/// An I/O error that names the file.
fn at(path: &Path, e: std::io::Error) -> std::io::Error {
    std::io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

/// Standard base64 with line breaks every 76 characters.
pub fn base64(data: &[u8]) -> String {
    use base64::Engine;
    let plain = base64::engine::general_purpose::STANDARD.encode(data);
    let mut out = String::with_capacity(plain.len() + plain.len() / 38);
    for (i, line) in plain.as_bytes().chunks(76).enumerate() {
        if i > 0 {
            out.push_str("\r\n");
        }
        // base64 output is ASCII.
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
    }
    out
}

fn encoded_word(text: &str, enc: &'static Encoding) -> String {
    if text.is_ascii() {
        return text.to_string();
    }
    let bytes = enc.encode(text).0;
    format!(
        "=?{}?B?{}?=",
        enc.name(),
        base64(&bytes).replace("\r\n", "")
    )
}

const FIRST: &[&str] = &[
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "John",
    "Jennifer",
    "Michael",
    "Linda",
    "William",
    "Elizabeth",
    "David",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
];
const LAST: &[&str] = &[
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Taylor",
];
const DOMAINS: &[&str] = &[
    "example.com",
    "example.org",
    "example.net",
    "mail.example",
    "shop.example",
];
const EN_SUBJECTS: &[&str] = &[
    "Order #{n} has not arrived",
    "Refund for order {n}",
    "Cannot log in",
    "Invoice {n} is wrong",
    "Damaged item in order {n}",
    "Change my delivery address",
    "Warranty claim for serial {n}",
    "Cancel subscription",
    "Question about my bill",
    "App crashes on start",
];
const EN_SENTENCES: &[&str] = &[
    "I placed the order on {day} and the tracking page has not changed since {day}.",
    "Could you please check what happened to my {product} and let me know when I can expect it?",
    "The box with the {product} arrived with a large dent and the glass inside was broken.",
    "I have attached a photo of the damage and the packing slip for order {n}.",
    "My invoice lists {num} licences but our team in {city} only uses {num2} of them.",
    "When I try to log in the page says my password is wrong, and the reset link never arrives.",
    "We moved offices to {city} last week, so please send the {product} there instead.",
    "The {product} (model {model}) stopped working after {num} months, which should still be under warranty.",
    "Please cancel my plan at the end of the month and confirm by email.",
    "I called your hotline twice on {day} but nobody answered, so I am writing instead.",
    "This is the third time I am asking about this and I would appreciate a quick answer.",
    "Thank you for your help so far, the service has otherwise been very good.",
    "{carrier} says the parcel was delivered, but nobody in {city} received anything.",
    "The {product} makes a loud {noise} noise whenever I switch it on.",
    "Your app shows error {model} when I try to pay for the {product}.",
    "I was charged twice for order {n}, once on {day} and again on {day2}.",
    "Can I exchange the {colour} {product} for the {colour2} one?",
    "The replacement part {model} you sent does not fit my {product}.",
    "Our shop in {city} needs {num} more units of the {product} before {day}.",
    "The manual for the {product} is missing pages {num} to {num2}.",
];
const PRODUCTS: &[&str] = &[
    "kettle",
    "toaster",
    "desk lamp",
    "coffee grinder",
    "blender",
    "router",
    "headset",
    "monitor",
    "keyboard",
    "printer",
    "scanner",
    "webcam",
    "air purifier",
    "heater",
    "fan",
    "vacuum cleaner",
    "smart plug",
    "doorbell",
    "thermostat",
    "label printer",
    "card terminal",
    "tablet stand",
    "espresso machine",
    "rice cooker",
    "water filter",
    "bike light",
    "power bank",
    "charger",
];
const CARRIERS: &[&str] = &[
    "DHL",
    "UPS",
    "FedEx",
    "Hermes",
    "DPD",
    "GLS",
    "Royal Mail",
    "PostNL",
    "Yamato",
    "SF Express",
];
const CITIES: &[&str] = &[
    "Leeds", "Bristol", "Hamburg", "Lyon", "Porto", "Dublin", "Osaka", "Shenzhen", "Austin",
    "Denver", "Tacoma", "Utrecht", "Graz", "Malmo", "Bergen", "Turku", "Gdansk", "Brno", "Cork",
];
const DAYS: &[&str] = &[
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const COLOURS: &[&str] = &[
    "black", "white", "red", "blue", "green", "silver", "grey", "yellow",
];
const NOISES: &[&str] = &[
    "clicking",
    "buzzing",
    "rattling",
    "humming",
    "whistling",
    "grinding",
];
const ZH_SUBJECTS: &[&str] = &[
    "订单{n}还没有到",
    "申请退款",
    "无法登录账户",
    "发票{n}抬头错误",
    "商品破损",
];
const ZH_SENTENCES: &[&str] = &[
    "我上周下的订单到现在还没有收到，物流信息也一直没有更新。",
    "收到的商品外包装破损，里面的杯子也碎了，照片在附件里。",
    "我的账户从昨天开始无法登录，重置密码的邮件也收不到。",
    "发票的抬头写错了，麻烦重新开一张，谢谢。",
    "请尽快帮我处理，这个问题已经影响到我们的工作了。",
    "如果需要更多信息，请随时联系我。",
];
const ZH_TW_SENTENCES: &[&str] = &[
    "我上週下的訂單到現在還沒有收到，請協助查詢。",
    "收到的商品包裝破損，我想申請退款。",
    "帳戶無法登入，重設密碼的郵件也收不到。",
    "麻煩儘快處理，謝謝您的協助。",
];
const JA_SUBJECTS: &[&str] = &[
    "注文{n}がまだ届きません",
    "返金のお願い",
    "ログインできません",
    "請求書{n}について",
];
const JA_SENTENCES: &[&str] = &[
    "先週注文した商品がまだ届いておりません。",
    "配送状況をご確認いただけますでしょうか。",
    "届いた商品が破損しておりましたので、返金をお願いいたします。",
    "昨日からアカウントにログインできません。",
    "お手数をおかけしますが、よろしくお願いいたします。",
];

/// One generated message and what the generator knows about it.
pub struct Generated {
    pub raw: Vec<u8>,
    pub message_id: String,
    pub kind: &'static str,
    pub date: i64,
}

pub struct Corpus {
    rng: Rng,
    seq: u64,
    seed: u64,
    time: i64,
    /// Recent (message-id, subject, sender) to reply to.
    recent: Vec<(String, String, String, String)>,
}

impl Corpus {
    pub fn new(seed: u64, start: i64) -> Corpus {
        Corpus {
            rng: Rng(seed.wrapping_mul(0x2545_F491_4F6C_DD1D) | 1),
            seq: 0,
            seed,
            time: start,
            recent: Vec::new(),
        }
    }

    fn sentences(&mut self, pool: &[&str], target_chars: usize) -> String {
        let mut s = String::new();
        while s.chars().count() < target_chars {
            if !s.is_empty() {
                s.push(' ');
            }
            let t = pool[self.rng.below(pool.len())];
            s.push_str(&self.fill(t));
        }
        s
    }

    /// Fills `{slot}`s so that vocabulary and term frequencies look like
    /// real mail: some words everywhere, model codes and numbers rare.
    fn fill(&mut self, template: &str) -> String {
        if !template.contains('{') {
            return template.to_string();
        }
        let mut out = String::with_capacity(template.len() + 16);
        let mut rest = template;
        while let Some(start) = rest.find('{') {
            out.push_str(&rest[..start]);
            let Some(end) = rest[start..].find('}') else {
                break;
            };
            let slot = &rest[start + 1..start + end];
            let value = match slot {
                "product" => self.rng.pick(PRODUCTS).to_string(),
                "carrier" => self.rng.pick(CARRIERS).to_string(),
                "city" => self.rng.pick(CITIES).to_string(),
                "day" | "day2" => self.rng.pick(DAYS).to_string(),
                "colour" | "colour2" => self.rng.pick(COLOURS).to_string(),
                "noise" => self.rng.pick(NOISES).to_string(),
                "num" | "num2" => (2 + self.rng.below(40)).to_string(),
                "model" => {
                    let a = (b'A' + self.rng.below(26) as u8) as char;
                    let b = (b'A' + self.rng.below(26) as u8) as char;
                    format!("{a}{b}-{}", 100 + self.rng.below(9900))
                }
                "n" => self.number(),
                _ => String::new(),
            };
            out.push_str(&value);
            rest = &rest[start + end + 1..];
        }
        out.push_str(rest);
        out
    }

    fn number(&mut self) -> String {
        (100_000 + self.rng.below(900_000)).to_string()
    }

    pub fn next_message(&mut self) -> Generated {
        self.seq += 1;
        self.time += 5 + self.rng.below(120) as i64;
        let roll = self.rng.below(100);
        let date = chrono::DateTime::from_timestamp(self.time, 0)
            .map(|d| d.to_rfc2822())
            .unwrap_or_default();
        let domain = *self.rng.pick(DOMAINS);
        let mid = format!(
            "{}.{}.{:x}@{domain}",
            self.seed,
            self.seq,
            self.rng.next() & 0xffff_ffff
        );
        let (kind, from_name, from_addr, subject, body, charset, cte, refs, extra): (
            &'static str,
            String,
            String,
            String,
            String,
            &'static Encoding,
            &str,
            Vec<String>,
            &str,
        );
        if roll < 25 && !self.recent.is_empty() {
            let i = self.rng.below(self.recent.len());
            let (parent, subj, name, addr) = self.recent[i].clone();
            kind = "reply";
            from_name = name;
            from_addr = addr;
            subject = format!("Re: {subj}");
            body = format!(
                "{}\n\n> {}\n",
                self.sentences(EN_SENTENCES, 300),
                self.sentences(EN_SENTENCES, 120)
            );
            charset = UTF_8;
            cte = "8bit";
            refs = vec![parent];
            extra = "";
        } else if roll < 30 {
            kind = "auto-reply";
            from_name = "Auto Responder".into();
            from_addr = format!("noreply{}@{domain}", self.rng.below(50));
            subject = "Automatic reply: out of office".into();
            body =
                "I am out of the office until Monday and will read your message when I am back.\n"
                    .into();
            charset = UTF_8;
            cte = "8bit";
            refs = vec![];
            extra = "Auto-Submitted: auto-replied\r\n";
        } else {
            let first = *self.rng.pick(FIRST);
            let last = *self.rng.pick(LAST);
            let n = self.number();
            let lang = self.rng.below(100);
            let (k, name, subj, text, cs, enc): (
                &'static str,
                String,
                String,
                String,
                &'static Encoding,
                &str,
            ) = if lang < 65 {
                let subj = self.rng.pick(EN_SUBJECTS).replace("{n}", &n);
                let text = format!(
                    "Hello,\n\n{}\n\nRegards,\n{first} {last}\n",
                    self.sentences(EN_SENTENCES, 450)
                );
                ("en", format!("{first} {last}"), subj, text, UTF_8, "8bit")
            } else if lang < 75 {
                let subj = self.rng.pick(ZH_SUBJECTS).replace("{n}", &n);
                let text = format!(
                    "您好，\n\n{}\n\n谢谢！\n",
                    self.sentences(ZH_SENTENCES, 200)
                );
                ("zh-gbk", "王伟".into(), subj, text, GBK, "base64")
            } else if lang < 80 {
                let subj = "申請退款".to_string();
                let text = format!("您好，\n\n{}\n", self.sentences(ZH_TW_SENTENCES, 200));
                ("zh-big5", "陳美玲".into(), subj, text, BIG5, "8bit")
            } else if lang < 85 {
                let subj = self.rng.pick(ZH_SUBJECTS).replace("{n}", &n);
                let text = format!("你好，\n\n{}\n", self.sentences(ZH_SENTENCES, 200));
                ("zh-utf8", "李娜".into(), subj, text, UTF_8, "base64")
            } else if lang < 93 {
                let subj = self.rng.pick(JA_SUBJECTS).replace("{n}", &n);
                let text = format!(
                    "お世話になっております。\n\n{}\n",
                    self.sentences(JA_SENTENCES, 200)
                );
                (
                    "ja-iso2022",
                    "佐藤 健".into(),
                    subj,
                    text,
                    ISO_2022_JP,
                    "7bit",
                )
            } else {
                let subj = self.rng.pick(JA_SUBJECTS).replace("{n}", &n);
                let text = format!(
                    "お世話になっております。\n\n{}\n",
                    self.sentences(JA_SENTENCES, 200)
                );
                ("ja-sjis", "鈴木 花子".into(), subj, text, SHIFT_JIS, "8bit")
            };
            kind = k;
            from_addr = format!(
                "{}.{}{}@{domain}",
                first.to_lowercase(),
                last.to_lowercase(),
                self.rng.below(5000)
            );
            from_name = name;
            subject = subj;
            body = text;
            charset = cs;
            cte = enc;
            refs = vec![];
            extra = "";
            if self.recent.len() < 256 {
                self.recent.push((
                    mid.clone(),
                    subject.clone(),
                    from_name.clone(),
                    from_addr.clone(),
                ));
            } else {
                let i = self.rng.below(256);
                self.recent[i] = (
                    mid.clone(),
                    subject.clone(),
                    from_name.clone(),
                    from_addr.clone(),
                );
            }
        }

        let mut raw = String::with_capacity(1400);
        raw.push_str(&format!("Return-Path: <{from_addr}>\r\n"));
        raw.push_str(&format!(
            "From: {} <{from_addr}>\r\nTo: Support <support@example.test>\r\n",
            encoded_word(
                &from_name,
                if charset == ISO_2022_JP {
                    UTF_8
                } else {
                    charset
                }
            )
        ));
        raw.push_str(&format!(
            "Subject: {}\r\nDate: {date}\r\nMessage-ID: <{mid}>\r\n",
            encoded_word(
                &subject,
                if charset == ISO_2022_JP {
                    UTF_8
                } else {
                    charset
                }
            )
        ));
        if let Some(p) = refs.last() {
            raw.push_str(&format!("In-Reply-To: <{p}>\r\nReferences: <{p}>\r\n"));
        }
        raw.push_str(extra);
        raw.push_str("MIME-Version: 1.0\r\n");
        let encoded = charset.encode(&body).0;
        let mut bytes = raw.into_bytes();
        let alternative = kind == "en" && self.rng.chance(30);
        if alternative {
            let boundary = format!("b{}", self.seq);
            bytes.extend_from_slice(
                format!("Content-Type: multipart/alternative; boundary=\"{boundary}\"\r\n\r\n--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n").as_bytes(),
            );
            bytes.extend_from_slice(body.replace('\n', "\r\n").as_bytes());
            let html = format!(
                "<html><body><p>{}</p></body></html>",
                body.replace("\n\n", "</p><p>")
            );
            bytes.extend_from_slice(
                format!("\r\n--{boundary}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{html}\r\n--{boundary}--\r\n").as_bytes(),
            );
        } else {
            bytes.extend_from_slice(
                format!(
                    "Content-Type: text/plain; charset={}\r\nContent-Transfer-Encoding: {cte}\r\n\r\n",
                    charset.name().to_lowercase()
                )
                .as_bytes(),
            );
            if cte == "base64" {
                bytes.extend_from_slice(base64(&encoded).as_bytes());
                bytes.extend_from_slice(b"\r\n");
            } else {
                let text = String::from_utf8_lossy(&encoded).into_owned();
                if charset == UTF_8 {
                    bytes.extend_from_slice(text.replace('\n', "\r\n").as_bytes());
                } else {
                    // Non-UTF-8 bytes go out as they are.
                    for line in encoded.split(|b| *b == b'\n') {
                        bytes.extend_from_slice(line);
                        bytes.extend_from_slice(b"\r\n");
                    }
                }
            }
        }
        Generated {
            raw: bytes,
            message_id: mid,
            kind,
            date: self.time,
        }
    }

    /// Writes `count` messages into `maildir/new` (creating cur/new/tmp),
    /// with file mtimes set to the message dates.
    pub fn write_maildir(&mut self, maildir: &Path, count: usize) -> std::io::Result<()> {
        for sub in ["cur", "new", "tmp"] {
            let d = maildir.join(sub);
            std::fs::create_dir_all(&d).map_err(|e| at(&d, e))?;
        }
        for i in 0..count {
            let m = self.next_message();
            let p = maildir
                .join("new")
                .join(format!("{}.{:08}.echodesk", m.date, i));
            std::fs::write(&p, &m.raw).map_err(|e| at(&p, e))?;
            let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(m.date.max(0) as u64);
            if let Ok(f) = std::fs::File::options().write(true).open(&p) {
                let _ = f.set_modified(t);
            }
        }
        Ok(())
    }
}
