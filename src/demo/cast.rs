//! Who writes in the demo and what they write: English, Chinese and
//! Japanese customers, their mail, texts and faxes, the agents' replies,
//! notes, tags and canned answers, and the generator that picks them.

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
pub(super) enum Lang {
    En,
    Zh,
    Ja,
}

pub(super) struct Person {
    pub(super) name: String,
    pub(super) email: String,
    pub(super) phone: String,
    pub(super) fax: String,
    pub(super) lang: Lang,
}

pub(super) const EN_FIRST: &[&str] = &[
    "Alice", "Bob", "Carol", "David", "Emma", "Frank", "Grace", "Henry", "Irene", "Jack", "Karen",
    "Liam", "Maria", "Noah", "Olivia", "Peter", "Quinn", "Rosa", "Sam", "Tina",
];
pub(super) const EN_LAST: &[&str] = &[
    "Smith", "Jones", "Miller", "Brown", "Garcia", "Wilson", "Taylor", "Clark", "Lewis", "Walker",
];
pub(super) const ZH_NAMES: &[(&str, &str)] = &[
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
pub(super) const JA_NAMES: &[(&str, &str)] = &[
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
pub(super) const EN_MAIL: &[(&str, &str)] = &[
    ("Order #{n} has not arrived", "Hi,\n\nI ordered a kettle (order #{n}) two weeks ago and it still has not arrived. The tracking page has not changed for five days. Could you check what is going on?\n\nThanks"),
    ("Refund for damaged item", "Hello,\n\nThe lamp from order #{n} arrived with a cracked base. I attached a photo. I would like a refund rather than a replacement, please.\n\nBest regards"),
    ("Cannot log in to my account", "Hi support,\n\nSince yesterday the login page says my password is wrong, and the reset email never arrives. My username is the address I am writing from.\n"),
    ("Invoice {n} shows the wrong amount", "Hello,\n\nInvoice {n} charges us for 12 licences but we only have 10 users. Please send a corrected invoice; our accounts team cannot pay this one.\n"),
    ("Change of delivery address", "Hi,\n\nWe moved offices. Could you send order #{n} to 14 Harbour Street instead? It has not shipped yet according to your site.\n"),
    ("Service outage this morning", "Hi,\n\nYour service was down for us from 8:10 to about 9:30 this morning, all of our shops were affected. Is it fixed now and what happened?\n"),
    ("Warranty question", "Hello,\n\nMy coffee machine stopped heating after 14 months. Is this still covered by the two-year warranty, and where do I send it?\n"),
    ("Please cancel my subscription", "Hi,\n\nPlease cancel my subscription at the end of this month and confirm by email. Thank you for the good service so far.\n"),
];
pub(super) const ZH_MAIL: &[(&str, &str)] = &[
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
pub(super) const JA_MAIL: &[(&str, &str)] = &[
    ("注文{n}がまだ届きません", "お世話になっております。\n\n先週注文した商品（注文番号{n}）がまだ届いておりません。配送状況をご確認いただけますでしょうか。\n\nよろしくお願いいたします。"),
    ("返金のお願い", "お世話になっております。\n\n届いた商品が破損しておりました。返金をお願いできますでしょうか。写真を添付いたします。"),
    ("ログインできません", "いつもお世話になっております。\n\n昨日からアカウントにログインできません。パスワードの再設定メールも届きません。"),
    ("請求書の金額について", "お世話になっております。\n\n請求書{n}の金額が見積もりと異なっております。ご確認のほどよろしくお願いいたします。"),
];
pub(super) const SMS: &[(Lang, &str)] = &[
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
pub(super) const FAX: &[(&str, &str)] = &[
    ("Purchase order {n}", "PURCHASE ORDER {n}\nPlease supply 40 x cartridge type B, 12 x toner black.\nDeliver to: Riverside Clinic, Dock Road 3.\nAuthorised: M. Becker"),
    ("Signed contract amendment", "Attached the signed amendment to contract {n}, 3 pages.\nPlease countersign and return by fax."),
    ("Claim form {n}", "Warranty claim form {n}: device serial SN-{n}, fault: no power after storm.\nPlease advise on repair or exchange."),
];
pub(super) const AGENT_REPLIES: &[&str] = &[
    "Thanks for getting in touch. I have looked into this and will come back to you by tomorrow.",
    "Sorry about the trouble. I have asked the warehouse to check and will update you as soon as I hear back.",
    "This is sorted now — please let us know if anything else comes up.",
    "Could you send us the order number and a photo, please? Then we can process it straight away.",
];
pub(super) const NOTES: &[&str] = &[
    "Checked with the warehouse: parcel is stuck at the depot. Chasing.",
    "Customer is a key account — keep them posted daily.",
    "Refund approved by finance, waiting for the bank.",
    "Duplicate of an older ticket? Left open until the customer confirms.",
];
pub(super) const AGENTS: &[&str] = &["alice", "bob", "chen", "yuki"];
pub(super) const TAGS: &[&str] = &[
    "billing", "shipping", "outage", "refund", "login", "vip", "warranty",
];

pub(super) fn people(rng: &mut Rng) -> Vec<Person> {
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
pub(super) fn fake_pdf(text: &str) -> Vec<u8> {
    format!("%PDF-1.4\n% echodesk demo fax\n1 0 obj << /Type /Catalog >> endobj\n% {text}\n%%EOF\n")
        .into_bytes()
}

pub(super) fn mail_for(rng: &mut Rng, lang: Lang) -> (String, String) {
    let (s, b) = match lang {
        Lang::En => *rng.pick(EN_MAIL),
        Lang::Zh => *rng.pick(ZH_MAIL),
        Lang::Ja => *rng.pick(JA_MAIL),
    };
    let n = (10_000 + rng.below(90_000)).to_string();
    (s.replace("{n}", &n), b.replace("{n}", &n))
}

pub(super) fn sms_for(rng: &mut Rng, lang: Lang) -> String {
    let options: Vec<&str> = SMS
        .iter()
        .filter(|(l, _)| *l == lang)
        .map(|(_, t)| *t)
        .collect();
    let n = (10_000 + rng.below(90_000)).to_string();
    rng.pick(&options).replace("{n}", &n)
}

pub(super) const CANNED: &[(&str, &str)] = &[
    ("shipping-delay.md", "+++\ntitle = \"Shipping delay\"\nshortcut = \"ship\"\ntags = [\"shipping\"]\nchannels = [\"email\", \"sms\", \"fax\"]\nstate = \"pending\"\nadd_tags = [\"shipping\"]\n[variants]\nsms = \"Hi {{ customer.first_name }}, your parcel is with the carrier and arrives within 2 working days. {{ ticket.tag }}\"\n+++\nHello {{ customer.first_name }},\n\nsorry for the wait. Your parcel is with the carrier and should reach you within two working days.\n\n{{ agent.signature }}\n"),
    ("refund-approved.md", "+++\ntitle = \"Refund approved\"\nshortcut = \"refund\"\ntags = [\"refund\", \"billing\"]\nchannels = [\"email\"]\nstate = \"solved\"\n+++\nHello {{ customer.first_name }},\n\nyour refund has been approved and will reach your account within 5 working days.\n\n{{ agent.signature }}\n"),
    ("password-reset.md", "+++\ntitle = \"Password reset\"\nshortcut = \"pw\"\ntags = [\"login\"]\nchannels = [\"email\", \"sms\"]\n+++\nHello {{ customer.first_name }},\n\nI have reset your login. You will get a new reset link within a few minutes; please check your spam folder too.\n\n{{ agent.signature }}\n"),
    ("outage-fixed.md", "+++\ntitle = \"Outage fixed\"\nshortcut = \"fixed\"\ntags = [\"outage\"]\nchannels = [\"email\", \"sms\"]\nstate = \"solved\"\n+++\nHello {{ customer.first_name }},\n\nthe outage is over and all services are running normally again. Sorry for the trouble.\n\n{{ agent.signature }}\n"),
    ("thanks-zh.md", "+++\ntitle = \"感谢来信 (中文)\"\nshortcut = \"zh\"\nchannels = [\"email\", \"sms\"]\n+++\n{{ customer.name }} 您好，\n\n感谢您的来信，我们已收到您的问题，会尽快回复您。\n\n{{ agent.signature }}\n"),
    ("thanks-ja.md", "+++\ntitle = \"お問い合わせありがとうございます (日本語)\"\nshortcut = \"ja\"\nchannels = [\"email\", \"sms\"]\n+++\n{{ customer.name }} 様\n\nお問い合わせいただきありがとうございます。担当者より追ってご連絡いたします。\n\n{{ agent.signature }}\n"),
];
