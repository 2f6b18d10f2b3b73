//! `kefu chat`: the agents' console. A conversation at the prompt: each answer with its
//! citations, the question actually searched, the customer panel and the decision.
//! Commands: `/customer ID` (and no ID to drop the customer), `/as-of YYYY-MM-DD`, `/new`
//! (a new session), `/quit`.

use std::io::{BufRead, Write};
use std::process::ExitCode;

use chrono::NaiveDate;
use kefu::customer::ask::{Ask, Damage, Intent};
use kefu::customer::decide::{decide, Facts};
use kefu::customer::say;
use kefu::customer::Customer;
use kefu::domain::{Channel, CustomerId};
use kefu::retrieve::Scope;
use kefu::service::chat::{Desk, TurnInput, TurnRefused};
use kefu::Config;
use kefu::Lang;

#[derive(clap::Args)]
pub struct Args {
    /// The customer writing (their purchases decide cover, returns and exchanges).
    #[arg(long, value_name = "ID")]
    customer: Option<String>,
    /// The channel: web, sms, voice, app or wechat.
    #[arg(long, default_value = "web", value_parser = parse_channel)]
    channel: Channel,
    /// Take decisions as of this day (YYYY-MM-DD; default today in the customer's zone).
    #[arg(long, value_name = "DATE")]
    as_of: Option<NaiveDate>,
    /// Compose extractively even when an LLM is configured.
    #[arg(long)]
    extractive: bool,
}

fn parse_channel(s: &str) -> Result<Channel, String> {
    Channel::parse(s)
        .ok_or_else(|| format!("`{s}` is not a channel (web, sms, voice, app, wechat)"))
}

/// The customer `id`; when the directory (a CRM) cannot be read, says so and goes on without
/// the record, as turns do.
fn find_customer(desk: &Desk, id: &str) -> anyhow::Result<Option<Customer>> {
    let Ok(cid) = CustomerId::parse(id) else {
        return Ok(None);
    };
    match desk.directory.by_id(&cid) {
        Ok(found) => Ok(found),
        Err(e @ kefu::Error::Upstream { .. }) => {
            eprintln!("warning: the customer's record could not be read ({e})");
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// The customer panel: tier and, per product, the warranty as of `day`.
fn panel(desk_customer: &Customer, terms: &kefu::customer::terms::Terms, day: NaiveDate) -> String {
    let c = desk_customer;
    let tier = serde_json::to_value(c.tier)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let mut out = format!(
        "customer {} · {tier} · {} · {}\n",
        c.id.as_str(),
        c.region,
        c.language.as_str()
    );
    for p in &c.purchases {
        let ask = Ask {
            intent: Intent::Repair,
            damage: Some(Damage::Defect),
            part: None,
            opened: None,
            customised: None,
            fault: None,
        };
        let state = match decide(
            terms,
            Facts {
                purchase: p,
                region: &c.region,
                as_of: day,
            },
            &ask,
        ) {
            Ok(d) => match (d.decision.as_str(), d.expires) {
                ("covered", Some(e)) => format!("in warranty until {e} ({})", d.reason),
                ("expired", Some(e)) => format!("out of warranty since {e}"),
                (v, _) => v.to_string(),
            },
            Err(e) => format!("no decision: {e}"),
        };
        let start = p
            .delivered
            .map(|d| format!("delivered {d}"))
            .or(p.invoiced.map(|d| format!("invoiced {d}")))
            .unwrap_or_else(|| format!("ordered {}", p.ordered));
        let tc = if p.tiancare.is_some() {
            ", TianCare+"
        } else {
            ""
        };
        out.push_str(&format!(
            "  {} {} · {start}{tc} · {} repairs · {state}\n",
            p.order,
            p.model,
            p.repairs.len()
        ));
    }
    out
}

pub fn run(config: Config, args: Args) -> anyhow::Result<ExitCode> {
    let desk = Desk::open(&config)?;
    let engine = super::open_or_build(config.clone())?;
    let mut customer = args.customer.clone();
    if let Some(id) = &customer {
        let Ok(cid) = CustomerId::parse(id) else {
            eprintln!("`{id}` is not a customer id");
            return Ok(ExitCode::from(2));
        };
        match desk.directory.by_id(&cid) {
            Ok(Some(_)) => {}
            Ok(None) => {
                eprintln!("no customer `{id}` (kefu customers show ID)");
                return Ok(ExitCode::from(2));
            }
            // the CRM is down: the console still answers from the knowledge base
            Err(e @ kefu::Error::Upstream { .. }) => {
                eprintln!("warning: the customer's record could not be read ({e})");
            }
            Err(e) => return Err(e.into()),
        }
    }
    let mut as_of = args.as_of;
    let mut session: Option<String> = None;
    let stdin = std::io::stdin();
    let mut out = std::io::stdout();
    let show_panel = |id: &Option<String>, day: Option<NaiveDate>| -> anyhow::Result<()> {
        if let Some(c) = id
            .as_deref()
            .map(|i| find_customer(&desk, i))
            .transpose()?
            .flatten()
        {
            let day = day.unwrap_or_else(|| chrono::Utc::now().date_naive());
            print!("{}", panel(&c, engine.terms(), day));
        }
        Ok(())
    };
    show_panel(&customer, as_of)?;
    println!("kefu chat — /customer ID, /as-of YYYY-MM-DD, /new, /quit");
    loop {
        print!("> ");
        out.flush()?;
        let mut line = String::new();
        if stdin.lock().read_line(&mut line)? == 0 {
            break;
        }
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(cmd) = line.strip_prefix('/') {
            let (name, arg) = cmd.split_once(' ').unwrap_or((cmd, ""));
            match name {
                "quit" | "exit" | "q" => break,
                "new" => {
                    session = None;
                    println!("(a new session)");
                }
                "customer" => {
                    let arg = arg.trim();
                    if arg.is_empty() {
                        customer = None;
                        session = None;
                        println!("(no customer; a new session)");
                    } else if find_customer(&desk, arg)?.is_some() {
                        customer = Some(arg.to_string());
                        session = None;
                        show_panel(&customer, as_of)?;
                    } else {
                        println!("no customer `{arg}`");
                    }
                }
                "as-of" => match NaiveDate::parse_from_str(arg.trim(), "%Y-%m-%d") {
                    Ok(d) => {
                        as_of = Some(d);
                        println!("(decisions as of {d})");
                    }
                    Err(_) => println!("give a date as YYYY-MM-DD"),
                },
                _ => println!("commands: /customer ID, /as-of YYYY-MM-DD, /new, /quit"),
            }
            continue;
        }
        let input = TurnInput {
            session_id: session.clone(),
            create_named: false,
            stateless_history: None,
            customer_id: customer.clone(),
            channel: args.channel,
            message: line.to_string(),
            as_of,
            caller: "console".into(),
            any_session: true,
            scope: Scope::All,
            passages: engine.config().answer.passages,
            use_llm: !args.extractive,
            cancel: Default::default(),
        };
        let turn = match desk.take_turn(&engine, &input)? {
            Ok(t) => t,
            Err(TurnRefused::Session(e)) => {
                println!("(the session cannot continue: {e:?}; a new one starts)");
                session = None;
                continue;
            }
            Err(other) => {
                println!("(refused: {other:?})");
                continue;
            }
        };
        session = Some(turn.session.id.clone());
        for w in &turn.reply.answer.warnings {
            println!("  warning: {w}");
        }
        let c = &turn.reply.answer.composed;
        if turn.turn.resolved != turn.turn.message {
            println!("  searched: {} ({})", turn.turn.resolved, turn.turn.how);
        }
        if let Some(d) = &turn.reply.decision {
            let lang = Lang::detect(line);
            let cost = d
                .decision
                .cost
                .as_ref()
                .map(|c| format!(" · {}", say::money(c)))
                .unwrap_or_default();
            let dates = match (d.decision.starts, d.decision.expires) {
                (Some(s), Some(e)) => format!(" · {} – {}", say::date(s, lang), say::date(e, lang)),
                _ => String::new(),
            };
            let clauses: Vec<String> = d
                .decision
                .clauses
                .iter()
                .map(|c| format!("{} {}", c.policy, c.clause))
                .collect();
            println!(
                "  decision: {} ({}) for {} {}{dates}{cost}\n  applied: {}",
                d.decision.decision.as_str(),
                d.decision.reason,
                d.order,
                d.model,
                clauses.join(", ")
            );
        } else if let Some(why) = &turn.reply.no_decision {
            println!("  no decision: {why}");
        }
        println!("\n{}\n", c.text);
        if c.abstained {
            if let Some(r) = c.reason {
                println!(
                    "  abstained: {} (confidence {:.2})",
                    r.as_str(),
                    c.confidence
                );
            }
        } else {
            for p in &c.passages {
                let cited = c
                    .sentences
                    .iter()
                    .any(|s| s.citations.iter().any(|x| x.n == p.n));
                if cited {
                    println!(
                        "  [{}] {} — {} ({}:{}-{})",
                        p.n,
                        p.title,
                        p.heading_path.join(" › "),
                        p.source,
                        p.span.0,
                        p.span.1
                    );
                }
            }
            println!("  confidence {:.2}", c.confidence);
        }
    }
    Ok(ExitCode::SUCCESS)
}
