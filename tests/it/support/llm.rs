//! A stand-in for an OpenAI-compatible LLM server: real HTTP over a real socket, replying by
//! script, so that tests can make the LLM good, wrong, slow or broken on demand.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

/// What the stand-in LLM server answers next.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Script {
    /// Sentences copied from passage [1], each cited [1].
    Good,
    /// A supported sentence, then one the passages do not say (cited anyway).
    HalfTrue,
    /// Text without any [n].
    Uncited,
    /// A supported sentence cited as a passage that was not given.
    WrongCitation,
    /// Not an event stream at all.
    Garbage,
    /// Nothing for longer than kefu waits.
    Slow,
    /// A supported sentence, then the stream breaks off mid-sentence.
    CutOff,
    /// A supported sentence without a marker, then "Source: [1]" on the next line.
    CitedBelow,
    /// The same with a blank line between: the citation no longer covers the sentence.
    CitedAfterBlank,
}

/// A small OpenAI-compatible chat-completions server that replies by script, over a real
/// socket. It reads the prompt kefu sends, so that "good" replies can quote passage [1].
pub struct StandIn {
    pub base: String,
    script: Arc<Mutex<Script>>,
    /// The prompts received, in order.
    prompts: Arc<Mutex<Vec<Value>>>,
}

fn first_sentence_of_passage_1(user: &str) -> String {
    // "[1] title\ntext\n\n[2] …"
    let after = user.split_once("[1] ").map_or("", |(_, a)| a);
    let body = after.split_once('\n').map_or("", |(_, b)| b);
    let body = body.split("\n\n").next().unwrap_or("");
    // up to the first sentence end, as kefu splits sentences
    let end = [". ", "; ", "? ", "! ", "\n"]
        .iter()
        .filter_map(|p| body.find(p).map(|i| i + 1))
        .chain(
            ["。", "；", "？", "！"]
                .iter()
                .filter_map(|p| body.find(p).map(|i| i + p.len())),
        )
        .min()
        .unwrap_or(body.len());
    body[..end].trim().to_string()
}

fn chunk(content: &str, finish: Option<&str>) -> String {
    let v = json!({"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": finish}]});
    format!("data: {v}\n\n")
}

impl StandIn {
    pub fn start() -> StandIn {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let base = format!("http://{}/v1", listener.local_addr().expect("addr"));
        let script = Arc::new(Mutex::new(Script::Good));
        let prompts = Arc::new(Mutex::new(Vec::new()));
        let (s, p) = (script.clone(), prompts.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (s, p) = (s.clone(), p.clone());
                std::thread::spawn(move || serve(stream, s, p));
            }
        });
        StandIn {
            base,
            script,
            prompts,
        }
    }

    pub fn set(&self, s: Script) {
        *self.script.lock().expect("lock") = s;
    }

    /// The last chat-completions request received.
    pub fn last_prompt(&self) -> Value {
        self.prompts
            .lock()
            .expect("lock")
            .last()
            .cloned()
            .expect("a prompt")
    }
}

fn serve(mut stream: TcpStream, script: Arc<Mutex<Script>>, prompts: Arc<Mutex<Vec<Value>>>) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut length = 0usize;
    let mut first = String::new();
    if reader.read_line(&mut first).is_err() {
        return;
    }
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).is_err() || line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0u8; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let req: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    assert!(first.starts_with("POST /v1/chat/completions"), "{first}");
    prompts.lock().expect("lock").push(req.clone());
    let user = req["messages"][1]["content"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let quote = first_sentence_of_passage_1(&user);
    let script = *script.lock().expect("lock");
    let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n";
    let mut out = String::from(head);
    match script {
        Script::Good => {
            out.push_str(&chunk(&format!("{quote} [1]"), None));
            out.push_str(&chunk("", Some("stop")));
            out.push_str("data: [DONE]\n\n");
        }
        Script::HalfTrue => {
            out.push_str(&chunk(&format!("{quote} [1] "), None));
            out.push_str(&chunk(
                "Every customer also receives a free trip to the moon [1].",
                None,
            ));
            out.push_str(&chunk("", Some("stop")));
            out.push_str("data: [DONE]\n\n");
        }
        Script::Uncited => {
            out.push_str(&chunk(
                "It is a great product. You will certainly love it.",
                Some("stop"),
            ));
            out.push_str("data: [DONE]\n\n");
        }
        Script::WrongCitation => {
            out.push_str(&chunk(&format!("{quote} [9]"), Some("stop")));
            out.push_str("data: [DONE]\n\n");
        }
        Script::Garbage => {
            out = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n<html><body>502 upstream</body></html>".into();
        }
        Script::Slow => {
            let _ = stream.write_all(head.as_bytes());
            std::thread::sleep(Duration::from_secs(4));
            out = chunk(&format!("{quote} [1]"), Some("stop"));
        }
        Script::CutOff => {
            out.push_str(&chunk(&format!("{quote} [1] "), None));
            out.push_str(&chunk("In addition, the war", None));
        }
        Script::CitedBelow | Script::CitedAfterBlank => {
            let gap = if script == Script::CitedBelow {
                "\n"
            } else {
                "\n\n"
            };
            out.push_str(&chunk(&format!("{quote}{gap}Sour"), None));
            out.push_str(&chunk("ce: [1]", Some("stop")));
            out.push_str("data: [DONE]\n\n");
        }
    }
    let _ = stream.write_all(out.as_bytes());
    let _ = stream.flush();
}
