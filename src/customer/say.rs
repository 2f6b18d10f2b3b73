//! A decision in the customer's language: one or two sentences that give the verdict, the
//! dates and the cost, each to be cited with the clauses the decision applied. The wording is
//! fixed per reason code; nothing here decides anything.

use chrono::{Datelike, NaiveDate};

use super::decide::{Cost, Decision, Verdict};
use crate::text::Lang;

/// How a date reads.
pub fn date(d: NaiveDate, lang: Lang) -> String {
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    match lang {
        Lang::Zh => format!("{}年{}月{}日", d.year(), d.month(), d.day()),
        _ => format!("{} {} {}", d.day(), MONTHS[d.month0() as usize], d.year()),
    }
}

/// How an amount reads (`¥1,299`, `US$29`).
pub fn money(c: &Cost) -> String {
    let whole = c.amount.round() as i64;
    let digits = whole.to_string();
    let mut grouped = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    match c.currency {
        "CNY" => format!("¥{grouped}"),
        "USD" => format!("US${grouped}"),
        other => format!("{grouped} {other}"),
    }
}

fn part_name(part: &str, lang: Lang) -> String {
    let zh = match part {
        "screen" => "屏幕",
        "back_glass" => "后盖玻璃",
        "battery" => "电池",
        "charger" => "充电器",
        "cable" => "数据线",
        "charging_port" => "充电口",
        "camera" => "摄像头",
        "speaker" => "扬声器",
        "motherboard" => "主板",
        "keyboard" => "键盘",
        "remote" => "遥控器",
        "panel" => "显示面板",
        "earbud" => "耳机单耳",
        "charging_case" => "充电盒",
        "inverter_motor" => "变频电机",
        "compressor" => "压缩机",
        "frame" => "机身中框",
        other => return other.replace('_', " "),
    };
    match lang {
        Lang::Zh => zh.to_string(),
        _ => match part {
            "back_glass" => "back glass".into(),
            "charging_port" => "charging port".into(),
            "panel" => "display panel".into(),
            "charging_case" => "charging case".into(),
            "inverter_motor" => "inverter motor".into(),
            "remote" => "remote control".into(),
            other => other.replace('_', " "),
        },
    }
}

/// The decision, said to the customer about their `model`.
pub fn say(d: &Decision, model: &str, lang: Lang) -> String {
    let zh = lang == Lang::Zh;
    let until = d.expires.map(|e| date(e, lang)).unwrap_or_default();
    let from = d.starts.map(|e| date(e, lang)).unwrap_or_default();
    let left = d.days_left.unwrap_or(0);
    let cost = d.cost.as_ref().map(money).unwrap_or_default();
    let part = d.part.as_deref().map(|p| part_name(p, lang));
    let thing = match (&part, zh) {
        (Some(p), true) => format!("{model}的{p}"),
        (Some(p), false) => format!("the {p} of your {model}"),
        (None, true) => format!("您的{model}"),
        (None, false) => format!("your {model}"),
    };
    let quote = |zh_s: &str, en_s: &str| -> String {
        if cost.is_empty() {
            String::new()
        } else if zh {
            format!("{zh_s}{cost}。")
        } else {
            format!(" {en_s} {cost}.")
        }
    };
    let days = |zh: bool| {
        if zh {
            format!("（还剩{left}天）")
        } else if left == 1 {
            " (1 day left)".to_string()
        } else {
            format!(" ({left} days left)")
        }
    };
    match (d.decision, d.reason, zh) {
        (Verdict::Covered, "defect_in_warranty", true) => format!("{thing}在保修期内，保修到{until}{}，这个故障可以免费维修。", days(true)),
        (Verdict::Covered, "defect_in_warranty", false) => format!("Your {model} is under warranty until {until}{}, so this fault is repaired free of charge.", days(false)),
        (Verdict::Covered, "tiancare_extension", true) => format!("{thing}的标准保修已过，但在天澜无忧+延保期内，保修到{until}{}，这个故障可以免费维修。", days(true)),
        (Verdict::Covered, "tiancare_extension", false) => format!("The standard warranty of your {model} has ended, but TianCare+ extends it until {until}{}, so this fault is repaired free of charge.", days(false)),
        (Verdict::Covered, "platinum_extension", true) => format!("{thing}购买时您是铂金会员，额外 6 个月保修到{until}{}，这个故障可以免费维修。", days(true)),
        (Verdict::Covered, "platinum_extension", false) => format!("You bought your {model} as a Platinum member, so its warranty runs 6 months longer, until {until}{}, and this fault is repaired free of charge.", days(false)),
        (Verdict::Covered, "part_term", true) => format!("{thing}有单独的保修期，保修到{until}{}，可以免费维修。{}", days(true), quote("上门费", "")),
        (Verdict::Covered, "part_term", false) => format!("{} has its own warranty period, until {until}{}, so it is repaired free of charge.{}", capital(&thing), days(false), quote("", "A home visit costs")),
        (Verdict::Covered, "repaired_part_90_days", true) => format!("{thing}在{from}维修过，维修过的部件保修 90 天，到{until}{}，这次可以免费维修。", days(true)),
        (Verdict::Covered, "repaired_part_90_days", false) => format!("{} was repaired on {from}, and a repaired part is covered for 90 days, until {until}{}, so this repair is free.", capital(&thing), days(false)),
        (Verdict::Covered, "known_issue_bulletin", true) => format!("这是{model}已知的显示问题，{until}前可以免费更换屏幕，即使已过保修期。"),
        (Verdict::Covered, "known_issue_bulletin", false) => format!("This is a known display issue on some {model} phones: the screen is replaced free of charge until {until}, even out of warranty."),
        (Verdict::Covered, "tiancare_accidental_repair", true) => format!("您的天澜无忧+每个保障年度包含一次意外损坏维修，本年度（{from}至{until}）还没有使用，这次维修只需支付服务费{cost}。"),
        (Verdict::Covered, "tiancare_accidental_repair", false) => format!("Your TianCare+ plan covers one accidental-damage repair each coverage year, and this year's ({from} to {until}) is unused: the repair costs only the service fee of {cost}."),
        (Verdict::Covered, "different_defect", true) => format!("之前两次维修的是另一个故障，这次的新故障不能直接换货，但在保修期内（到{until}）可以免费维修。"),
        (Verdict::Covered, "different_defect", false) => format!("The two earlier repairs were for a different fault, so this one does not qualify for an exchange, but it is repaired free under the warranty (until {until})."),
        (Verdict::Covered, "fewer_than_two_repairs", true) => format!("同一故障维修两次后第三次出现才能选择换货；这次在保修期内（到{until}）可以免费维修。"),
        (Verdict::Covered, "fewer_than_two_repairs", false) => format!("An exchange is possible when the same fault comes back after two repairs; this time it is repaired free under the warranty (until {until})."),
        (Verdict::Covered, "tiancare_window_open", true) => format!("您还可以为{model}购买天澜无忧+，截止{until}{}。{}", days(true), quote("价格", "")),
        (Verdict::Covered, "tiancare_window_open", false) => format!("You can still add TianCare+ to your {model} until {until}{}.{}", days(false), quote("", "It costs")),
        (Verdict::Covered, "tiancare_already_bought", true) => format!("您的{model}已经购买了天澜无忧+。"),
        (Verdict::Covered, "tiancare_already_bought", false) => format!("Your {model} already has TianCare+."),
        (Verdict::NotCovered, reason, true) if reason != "store_purchase" => {
            let why = match reason {
                "accidental_damage" => "摔落、撞击等意外损坏不在保修范围内",
                "liquid_damage" => "进水、进液损坏不在保修范围内（有 IP 防护等级也一样）",
                "theft_or_loss" => "丢失或被盗不在保修范围内",
                "cosmetic_wear" => "不影响使用的外观磨损不在保修范围内",
                "unauthorised_repair" => "未经授权的拆修或改装造成的损坏不在保修范围内",
                "non_tianlan_charger" => "使用非天澜充电器造成的损坏不在保修范围内",
                "tiancare_limit_used" => "天澜无忧+本保障年度的一次意外损坏维修已经用过了",
                "opened_earbuds" => "耳机拆封后不支持七天无理由退货（卫生原因），但 15 天内有性能故障可以换货",
                "installed_air_conditioner" => "空调安装后不支持七天无理由退货，但 15 天内有性能故障可以换货",
                "customised_item" => "定制商品不支持七天无理由退货，但 15 天内有性能故障可以换货",
                _ => "这种情况不在保修范围内",
            };
            format!("{why}。{}", quote("付费维修参考价格为", ""))
        }
        (Verdict::NotCovered, reason, false) if reason != "store_purchase" => {
            let why = match reason {
                "accidental_damage" => "Accidental damage, such as a drop or an impact, is not covered by the warranty",
                "liquid_damage" => "Liquid damage is not covered, even on IP-rated products",
                "theft_or_loss" => "Loss or theft is not covered",
                "cosmetic_wear" => "Cosmetic wear that does not affect function is not covered",
                "unauthorised_repair" => "Damage from an unauthorised repair or modification is not covered",
                "non_tianlan_charger" => "Damage caused by a non-Tianlan charger is not covered",
                "tiancare_limit_used" => "This coverage year's TianCare+ accidental-damage repair has already been used",
                "opened_earbuds" => "Opened earbuds cannot be returned without a reason (for hygiene), but a performance defect within 15 days can be exchanged",
                "installed_air_conditioner" => "An installed air conditioner cannot be returned without a reason, but a performance defect within 15 days can be exchanged",
                "customised_item" => "Customised items cannot be returned without a reason, but a performance defect within 15 days can be exchanged",
                _ => "This is not covered",
            };
            format!("{why}.{}", quote("", "A paid repair costs"))
        }
        (Verdict::NotCovered, _, true) => "门店购买的商品不支持七天无理由退货，但 15 天内有性能故障可以换货，也可以按保修维修。".into(),
        (Verdict::NotCovered, _, false) => "Products bought in a store are not covered by the no-reason return, but a performance defect within 15 days can be exchanged, and the warranty applies.".into(),
        (Verdict::Expired, "return_window_passed", true) => format!("七天无理由退货的期限已于{until}结束。"),
        (Verdict::Expired, "return_window_passed", false) => format!("The return window ended on {until}."),
        (Verdict::Expired, "exchange_window_passed", true) => format!("15 天换货期已于{until}结束，之后的故障按保修免费维修。"),
        (Verdict::Expired, "exchange_window_passed", false) => format!("The 15-day exchange window ended on {until}; from then on a defect is repaired under the warranty."),
        (Verdict::Expired, "tiancare_window_passed", true) => format!("天澜无忧+需要在购买后 30 天内购买，{model}的期限已于{until}结束。"),
        (Verdict::Expired, "tiancare_window_passed", false) => format!("TianCare+ must be bought within 30 days of the product; for your {model} that ended on {until}."),
        (Verdict::Expired, reason, true) => {
            let what = match reason {
                "part_term" => format!("{thing}的单独保修期"),
                "repaired_part_90_days" => "维修后部件的 90 天保修".to_string(),
                "known_issue_bulletin" => "已知问题的免费更换期限".to_string(),
                _ => format!("{thing}的保修"),
            };
            format!("{what}已于{until}到期，维修需要付费。{}检测免费，确认报价后才会开始维修。", quote("参考价格", ""))
        }
        (Verdict::Expired, reason, false) => {
            let what = match reason {
                "part_term" => format!("The own warranty period of {thing}"),
                "repaired_part_90_days" => "The 90-day cover of the repaired part".to_string(),
                "known_issue_bulletin" => "The free replacement for this known issue".to_string(),
                _ => format!("The warranty of {thing}"),
            };
            format!("{what} ended on {until}, so a repair is charged.{} Diagnosis is free, and no paid work starts before you approve the quote.", quote("", "The listed price is"))
        }
        (Verdict::ReturnEligible, "eu_withdrawal", true) => format!("您可以在{until}前办理 14 天无理由退货{}。", days(true)),
        (Verdict::ReturnEligible, "eu_withdrawal", false) => format!("You can withdraw from the purchase and return it until {until}{} (the 14-day right of withdrawal).", days(false)),
        (Verdict::ReturnEligible, _, true) => format!("您的{model}可以在{until}前办理七天无理由退货{}，商品需完好、配件齐全。", days(true)),
        (Verdict::ReturnEligible, _, false) => format!("You can return your {model} without giving a reason until {until}{}, if it is unused or only tried and complete.", days(false)),
        (Verdict::ExchangeEligible, "third_repair_exchange", true) => "同一故障已维修两次，这次再次出现，您可以选择换新机，而不是第三次维修。".into(),
        (Verdict::ExchangeEligible, "third_repair_exchange", false) => "The same fault has been repaired twice and is back, so you may choose an exchange for a new unit instead of a third repair.".into(),
        (Verdict::ExchangeEligible, _, true) => format!("您的{model}在 15 天换货期内（到{until}{}），经服务中心确认性能故障后可以换新。", days(true)),
        (Verdict::ExchangeEligible, _, false) => format!("Your {model} is within the 15-day exchange window (until {until}{}): once a service centre confirms the defect, it is exchanged for a new unit.", days(false)),
        (Verdict::NeedsInfo, "needs_damage_type", true) => "请问是怎么坏的：是自己出现的故障，还是摔过、进过水？这决定能不能免费维修。".into(),
        (Verdict::NeedsInfo, "needs_damage_type", false) => "How did it happen: did the fault appear by itself, or was the product dropped or in contact with liquid? That decides whether the repair is free.".into(),
        (Verdict::NeedsInfo, "needs_opened_state", true) => "请问耳机的密封包装拆开了吗？拆封的耳机不支持无理由退货。".into(),
        (Verdict::NeedsInfo, "needs_opened_state", false) => "Has the sealed packaging of the earbuds been opened? Opened earbuds cannot be returned without a reason.".into(),
        (Verdict::NeedsInfo, _, true) => "这个订单还没有签收记录，签收后才能办理退货。".into(),
        (Verdict::NeedsInfo, _, false) => "This order has no delivery recorded yet; a return starts from delivery.".into(),
        (_, _, true) => format!("{thing}：{}", d.reason),
        (_, _, false) => format!("{}: {}", capital(&thing), d.reason),
    }
}

fn capital(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// What to ask when there is no customer to decide for.
pub fn ask_for_order(lang: Lang) -> &'static str {
    match lang {
        Lang::Zh => "如需确认您的具体情况，请提供订单号（例如 TL20260315-482913）或购买日期。",
        _ => "To check your own case, please give your order number (for example TL20260315-482913) or the purchase date.",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_money_read_naturally() {
        let d = NaiveDate::from_ymd_opt(2027, 4, 3).expect("date");
        assert_eq!(date(d, Lang::Zh), "2027年4月3日");
        assert_eq!(date(d, Lang::En), "3 April 2027");
        let c = Cost {
            amount: 1299.0,
            currency: "CNY",
            what: String::new(),
        };
        assert_eq!(money(&c), "¥1,299");
        let c = Cost {
            amount: 29.0,
            currency: "USD",
            what: String::new(),
        };
        assert_eq!(money(&c), "US$29");
    }

    #[test]
    fn every_reason_has_its_own_words() {
        let d = Decision {
            decision: Verdict::NotCovered,
            reason: "accidental_damage",
            starts: NaiveDate::from_ymd_opt(2026, 10, 30),
            expires: NaiveDate::from_ymd_opt(2027, 10, 29),
            days_left: Some(300),
            cost: Some(Cost {
                amount: 1299.0,
                currency: "CNY",
                what: String::new(),
            }),
            part: Some("screen".into()),
            clauses: vec![],
        };
        let zh = say(&d, "X9 Pro", Lang::Zh);
        assert!(
            zh.contains("意外损坏不在保修范围内") && zh.contains("¥1,299"),
            "{zh}"
        );
        let en = say(&d, "X9 Pro", Lang::En);
        assert!(
            en.starts_with("Accidental damage") && en.contains("¥1,299"),
            "{en}"
        );
    }
}
